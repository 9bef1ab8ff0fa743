import { AbortError } from '../core/errors.ts'
import { Cancellable, type Node } from '../core/node.ts'

// What `Shared.live` holds once the outcome has settled (while pending, it is a count from 0 up).
const FULFILLED = -1
const REJECTED = -2

function ignore(): void {}

/**
 * The promise a call made by an already cancelled caller returns: rejected with an AbortError naming
 * `what`, and not counted as unhandled (a cancelled caller may well have stopped listening).
 */
export function cancelled<T>(what: string, reason: unknown): Promise<T> {
  const rejected = Promise.reject(new AbortError(what, reason))
  rejected.catch(ignore)
  return rejected
}

/**
 * An outcome several callers wait for: a key of a batch, one fetch of the shared cache. Each caller
 * that can be cancelled waits through a {@link Waiter} of its own, so that cancelling it rejects
 * that caller alone and never the outcome the others are waiting for; callers that cannot be
 * cancelled on their own share one plain promise. The outcome learns when its first caller arrives
 * (`onWanted`) and when the last one has given up (`onAbandoned`), so that it can stop the work
 * nobody wants any more.
 */
export abstract class Shared<T> {
  // Declared for the type checker and assigned in the constructor, not initialized where declared:
  // V8 runs each class's field initializers as a function of its own, about 10 ns for every key a
  // request loads (its Entry) or fetch the shared cache makes. Private to this class by convention.
  declare private value: unknown
  /** The promise shared by the callers that cannot be cancelled (made for the first of them), until settled. */
  declare private promise: Promise<T> | undefined
  declare private resolveShared: ((value: T) => void) | undefined
  declare private rejectShared: ((error: unknown) => void) | undefined
  /** Waiters not yet settled, newest first: a linked list, so a key with one caller costs no array. */
  declare private waiters: Waiter<T> | undefined
  /**
   * While pending, the callers still interested: each waiter, plus one for the shared promise (which
   * never gives up); once settled, FULFILLED or REJECTED. One field for both: each field of an entry
   * costs every key a request loads.
   */
  declare private live: number

  constructor() {
    this.value = undefined
    this.promise = undefined
    this.resolveShared = undefined
    this.rejectShared = undefined
    this.waiters = undefined
    this.live = 0
  }

  get pending(): boolean {
    return this.live >= 0
  }

  /** Whether it settled with a value (rather than an error); false while pending. */
  get fulfilled(): boolean {
    return this.live === FULFILLED
  }

  /** The value, or the error, it settled with; undefined while pending. */
  get result(): unknown {
    return this.value
  }

  /** Whether anyone still waits for this pending outcome. */
  get wanted(): boolean {
    return this.live > 0
  }

  /** What the AbortError of a cancelled caller says was cancelled, e.g. `load of "users"`. */
  abstract describe(): string

  /** The number of interested callers went from 0 to 1. */
  protected abstract onWanted(): void

  /** The last interested caller gave up, with `reason`. Called only while the outcome is pending. */
  protected abstract onAbandoned(reason: unknown): void

  /**
   * Waits for the outcome on behalf of a caller cancelled with `owner` (a node of the cancellation
   * tree) or with `signal`, or of one that cannot be cancelled (neither given). Two loads of the same
   * key by the same caller share one promise, since they can only be cancelled together.
   */
  join(owner: Node | undefined, signal: AbortSignal | undefined): Promise<T> {
    if (this.live < 0) return this.settledPromise()
    if (owner === undefined && signal === undefined) return this.shared()
    const latest = this.waiters
    // At most one of owner and signal is given.
    if (latest !== undefined && latest.canceller === (owner ?? signal)) return latest.promise
    const waiter = new Waiter<T>(this, owner, signal)
    waiter.next = latest
    this.waiters = waiter
    if (++this.live === 1) this.onWanted()
    waiter.listen(owner, signal)
    return waiter.promise
  }

  private shared(): Promise<T> {
    if (this.promise === undefined) {
      this.promise = new Promise<T>((resolve, reject) => {
        this.resolveShared = resolve
        this.rejectShared = reject
      })
      if (++this.live === 1) this.onWanted()
    }
    return this.promise
  }

  /** A promise of the outcome once it has settled (a caller who cannot be cancelled any more). */
  settledPromise(): Promise<T> {
    if (this.live === FULFILLED) return Promise.resolve(this.value as T)
    const rejected = Promise.reject(this.value)
    rejected.catch(ignore)
    return rejected
  }

  resolve(value: T): void {
    this.settleAll(FULFILLED, value, false)
  }

  /** Fails every waiter; `quiet` marks a cancellation, which no caller is obliged to observe. */
  reject(error: unknown, quiet = false): void {
    this.settleAll(REJECTED, error, quiet)
  }

  /** @internal A waiter was cancelled before the outcome settled. */
  left(reason: unknown): void {
    if (this.live > 0 && --this.live === 0) this.onAbandoned(reason)
  }

  private settleAll(state: typeof FULFILLED | typeof REJECTED, value: unknown, quiet: boolean): void {
    if (this.live < 0) return
    this.live = state
    this.value = value
    if (this.promise !== undefined) {
      if (state === FULFILLED) this.resolveShared?.(value as T)
      else {
        if (quiet) this.promise.catch(ignore)
        this.rejectShared?.(value)
      }
      // A settled outcome may be kept (a request cache keeps its entries): not its resolvers, nor
      // its promise, which later callers never get (they get `settledPromise()`). Kept, the promise
      // lived as long as the request, copied by every young-generation collection until promoted:
      // letting it go made a load of distinct keys 5% cheaper, one of repeated keys 9% (callgrind).
      this.promise = this.resolveShared = this.rejectShared = undefined
    }
    // Newest first in the list: reversed, so that callers hear in the order they asked.
    let oldest: Waiter<T> | undefined
    for (let waiter = this.waiters; waiter !== undefined; ) {
      const next = waiter.next
      waiter.next = oldest
      oldest = waiter
      waiter = next
    }
    this.waiters = undefined
    for (let waiter = oldest; waiter !== undefined; ) {
      const next = waiter.next
      waiter.next = undefined
      waiter.settle(state === FULFILLED, value, quiet)
      waiter = next
    }
  }
}

/**
 * One caller waiting for a {@link Shared} outcome (or, for a cache hit, for the batch of its turn),
 * as a leaf of the cancellation tree: adopted by the caller's task or scope, it is cancelled in the
 * same walk that cancels them, with no AbortSignal and no listener (the costs a per-load listener
 * would add to every load), and as a leaf rather than a whole node. Cancelled, it rejects its
 * caller's promise with an AbortError and tells the outcome one caller fewer is waiting.
 *
 * One is made for every load from a task, so it keeps few fields (each costs every such load): the
 * caller's task or signal share one, and so do the outcome and the name of what was cancelled; a
 * waiter listening to a signal is its own listener.
 */
export class Waiter<T> extends Cancellable {
  /** What cancels the caller: its task or scope, or the explicit signal it gave instead. */
  readonly canceller: Node | AbortSignal | undefined
  readonly promise: Promise<T>
  /** The next waiter of the same outcome. */
  next: Waiter<T> | undefined = undefined
  /** The outcome waited for; for a cache hit, which waits for no fetch, what a cancellation says was cancelled. */
  readonly #target: Shared<T> | string
  /** Settle the caller's promise; undefined once it is settled (or cancelled). */
  #resolve: ((value: T) => void) | undefined
  #reject: ((error: unknown) => void) | undefined

  /** Waits for `target` on behalf of a caller cancelled with `owner` or `signal` (at most one of them). */
  constructor(target: Shared<T> | string, owner: Node | undefined, signal: AbortSignal | undefined) {
    super()
    this.canceller = owner ?? signal
    this.#target = target
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
  }

  /**
   * @internal Starts listening for the caller's cancellation (which may have happened already):
   * `owner` and `signal` as given to the constructor.
   */
  listen(owner: Node | undefined, signal: AbortSignal | undefined): void {
    if (owner !== undefined) {
      owner.adopt(this)
      if (owner.aborted) this.abort(owner.reason)
    } else if (signal !== undefined) {
      if (signal.aborted) this.abort(signal.reason)
      else signal.addEventListener('abort', this, { once: true })
    }
  }

  /** @internal The caller's signal aborted: the waiter is its own listener, rather than a closure a load. */
  handleEvent(): void {
    this.abort((this.canceller as AbortSignal).reason)
  }

  /** @internal Settles the caller's promise, unless it was cancelled already. */
  settle(ok: boolean, value: unknown, quiet: boolean): void {
    const reject = this.#reject
    if (reject === undefined) return
    const resolve = this.#resolve as (value: T) => void
    this.#resolve = this.#reject = undefined
    this.#detach()
    if (ok) resolve(value as T)
    else {
      if (quiet) this.promise.catch(ignore)
      reject(value)
    }
  }

  /** The caller was cancelled: its promise rejects with an AbortError, unless it has settled. */
  abort(reason: unknown): void {
    const reject = this.#reject
    if (reject === undefined) return
    this.#resolve = this.#reject = undefined
    this.#detach()
    // A cancelled caller may well have stopped listening: its rejection must not count as unhandled.
    this.promise.catch(ignore)
    const target = this.#target
    if (typeof target === 'string') reject(new AbortError(target, reason))
    else {
      reject(new AbortError(target.describe(), reason))
      target.left(reason)
    }
  }

  #detach(): void {
    // Adopted by its owner, or by the scope a returned task handed its children on to; else it
    // listens to its signal, if it has one.
    if (this.adopter !== undefined) this.leave()
    else if (this.canceller instanceof AbortSignal) this.canceller.removeEventListener('abort', this)
  }
}
