import { type Clock, clock, type TimerHandle } from '../core/clock.ts'
import { AbortError } from '../core/errors.ts'
import { ambient, Node } from '../core/node.ts'
import type { Scope } from '../core/scope.ts'
import { describe } from '../core/validate.ts'
import type { Span } from '../trace/span.ts'
import type { Entry, RequestCache } from './request-cache.ts'
import { deliver, type Settled } from './settled.ts'
import type { Waiter } from './waiter.ts'

/** What a batch function receives besides its keys. */
export interface BatchContext {
  /**
   * Aborted when every load waiting for this batch has been cancelled, or when its request is: pass
   * it to the backend call, so that work nobody waits for any more stops.
   */
  readonly signal: AbortSignal
  /** The request's deadline (epoch ms of the active clock), or undefined when it has none. */
  readonly deadline: number | undefined
}

/**
 * The values of a batch: an array in the order of the keys, or a Map from each key (from its cache
 * key, when the loader has a `cacheKey` function) to its value. An Error as a value fails that key alone.
 */
export type BatchResult<V> = ArrayLike<V | Error> | ReadonlyMap<unknown, V | Error>

/** Fetches the values of many keys in one round trip. */
export type BatchFn<K, V> = (
  keys: readonly K[],
  context: BatchContext,
) => BatchResult<V> | PromiseLike<BatchResult<V>>

/** A loader's settings, checked and with defaults applied. */
export interface LoaderConfig<K, V> {
  readonly name: string
  readonly batchFn: BatchFn<K, V>
  readonly maxBatchSize: number
  readonly waitMs: number
  readonly cacheKey: ((key: K) => unknown) | undefined
}

/**
 * The entries of a batch with none yet. A batch's array is made with its first entry rather than
 * empty: V8 makes `[]` an array of small integers, which changes kind when the first object goes in,
 * so that the push of every later key met arrays of two kinds and went through the generic builtin
 * rather than inline code (about 200 instructions a load, 7% of it, under callgrind).
 */
const noEntries: readonly Entry<unknown, unknown>[] = []

const OPEN = 0 // collecting loads
const SENT = 1 // the batch function is running
const DONE = 2 // answered or failed
const CANCELLED = 3

/**
 * The keys a request cache collects in a turn (or a `waitMs` window), sent to the batch function in
 * one call (or one per `maxBatchSize` keys), then the delivery of the values to their waiters.
 *
 * A sent batch is cancelled when the last of its waiters is, or when its request is (through its
 * request cache). It is also the context the batch function receives: its `signal` is created only
 * if the function asks for it.
 */
export class Batch<K, V> implements BatchContext {
  /** The next in the request cache's list of batches due to be sent. */
  nextDue: Batch<K, V> | undefined
  /** The neighbours in the request cache's list of batches in flight. */
  previousSent: Batch<K, V> | undefined
  nextSent: Batch<K, V> | undefined
  readonly #cache: RequestCache<K, V>
  #entries: Entry<K, V>[] = noEntries as Entry<K, V>[]
  /**
   * Entries that someone still waits for: the batch is sent with these, and aborted when none is
   * left. Before it is sent, fewer than its entries when some were abandoned (and are left out).
   */
  #wanted = 0
  /** Cache hits served: with the loads of its entries, the `batch.loads` of its span. */
  #hitLoads = 0
  /** Cache hits of this turn, each a waiter then its cached outcome: they settle with the batch, as in DataLoader. */
  #hits: (Waiter<V> | Settled<V>)[] | undefined
  /** Settles when the batch does: what the hits of callers that cannot be cancelled wait for. */
  #done: PromiseWithResolvers<void> | undefined
  #state = OPEN
  #timer: TimerHandle | undefined
  /** The clock that set `#timer`: the one that must clear it, even if another was installed since. */
  #clock: Clock | undefined
  /** The batch function's ambient node, with the batch's span, when its request is traced. */
  #traced: SpanNode | undefined
  /** Made when the batch function asks for the signal, or when the batch is cancelled. */
  #controller: AbortController | undefined

  constructor(cache: RequestCache<K, V>) {
    this.#cache = cache
  }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController()
    return this.#controller.signal
  }

  get deadline(): number | undefined {
    return this.#cache.request?.deadline
  }

  /** What the AbortError of a cancelled load of this batch says was cancelled. */
  get what(): string {
    return this.#cache.what
  }

  /** As many keys as one call may take (`maxBatchSize`): a window need not wait for more. */
  get full(): boolean {
    return this.#wanted >= this.#cache.config.maxBatchSize
  }

  /** Adds a key not yet in the batch; its first waiter joins right after. */
  add(entry: Entry<K, V>): void {
    entry.batch = this
    if (this.#entries === noEntries) this.#entries = [entry]
    else this.#entries.push(entry)
  }

  /** A cache hit that waits for this batch before its caller gets the value. */
  hit(waiter: Waiter<V>, cached: Settled<V>): void {
    this.#hitLoads += 1
    this.#hits ??= []
    this.#hits.push(waiter, cached)
  }

  /** A promise settled when this batch is, for the cache hits of callers that cannot be cancelled. */
  done(): Promise<void> {
    this.#hitLoads += 1
    this.#done ??= Promise.withResolvers<void>()
    return this.#done.promise
  }

  /** Sends the batch when `ms` have passed, unless it is sent earlier (once full). */
  window(ms: number): void {
    this.#clock = clock()
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined
      this.#cache.due(this)
    }, ms)
  }

  /** The batch has all the keys one call takes: it is sent at the end of this turn, not of its window. */
  endWindow(): void {
    if (this.#timer === undefined) return
    this.#clock?.clearTimeout(this.#timer)
    this.#timer = undefined
    this.#cache.due(this)
  }

  /** @internal One of the entries went from no waiter to one. */
  entryWanted(): void {
    this.#wanted += 1
  }

  /** @internal Every waiter of `entry` was cancelled. */
  entryAbandoned(entry: Entry<K, V>, reason: unknown): void {
    this.#wanted -= 1
    if (this.#state === OPEN) {
      // The key leaves the batch, and the cache: a later load of it must fetch it afresh.
      this.#cache.forget(entry)
    } else if (this.#state === SENT && this.#wanted === 0) {
      this.cancel(reason)
    }
  }

  /**
   * Calls the batch function with the keys still wanted, in chunks of `maxBatchSize` (each chunk
   * after the first goes out as a batch of its own). Runs in the request's context: the caller's job.
   */
  send(): void {
    if (this.#state !== OPEN) return
    this.#state = SENT
    if (this.#timer !== undefined) this.#clock?.clearTimeout(this.#timer)
    this.#timer = undefined
    const cache = this.#cache
    cache.sent(this)
    // Chunks are cut now rather than as keys arrive, so that keys cancelled meanwhile leave no gaps.
    const all = this.#entries
    const entries = this.#wanted === all.length ? all : all.filter((entry) => entry.wanted)
    if (entries.length === 0) {
      this.#state = DONE
      this.#deliverHits()
      return
    }
    const { maxBatchSize } = cache.config
    if (entries.length <= maxBatchSize) {
      this.#entries = entries
      this.#wanted = entries.length
      this.#call()
      return
    }
    // Every chunk claims its keys before any is called, so that a cancellation is always counted
    // against the right one.
    const chunks: Batch<K, V>[] = [this]
    this.#claim(entries.slice(0, maxBatchSize))
    for (let start = maxBatchSize; start < entries.length; start += maxBatchSize) {
      const chunk = new Batch(cache)
      chunk.#claim(entries.slice(start, start + maxBatchSize))
      chunks.push(chunk)
    }
    for (const chunk of chunks) chunk.#call()
  }

  #claim(entries: Entry<K, V>[]): void {
    this.#state = SENT
    this.#entries = entries
    this.#wanted = entries.length
    for (const entry of entries) entry.batch = this
  }

  #call(): void {
    if (this.#state !== SENT) return // cancelled while an earlier chunk was being called
    const cache = this.#cache
    const entries = this.#entries
    const count = entries.length
    const keys: K[] = new Array(count)
    for (let i = 0; i < count; i++) keys[i] = (entries[i] as Entry<K, V>).key
    const { config, counters } = cache
    counters.batch(count)
    const request = cache.request
    const span = request?.span?.child(`${config.name}.batch`, 'batch')
    if (request !== undefined && span !== undefined) {
      span.setAttribute('batch.keys', count).setAttribute('batch.loads', this.#loadCount())
      this.#traced = new SpanNode(request, span)
    }
    cache.flying(this)
    if (cache.aborted) {
      this.cancel(cache.reason)
      return
    }
    let result: BatchResult<V> | PromiseLike<BatchResult<V>>
    try {
      const traced = this.#traced
      result =
        traced === undefined ? config.batchFn(keys, this) : ambient.run(traced, config.batchFn, keys, this)
    } catch (error) {
      this.#failed(error)
      return
    }
    if (typeof (result as PromiseLike<unknown> | null)?.then === 'function') {
      ;(result as PromiseLike<BatchResult<V>>).then(
        (values) => this.#answered(values),
        (error: unknown) => this.#failed(error),
      )
    } else {
      this.#answered(result as BatchResult<V>)
    }
  }

  #answered(values: BatchResult<V>): void {
    if (!this.#finish()) return
    const entries = this.#entries
    let violation: TypeError | undefined
    // The common answer first, checked with one intrinsic: an array of the right length.
    if (Array.isArray(values) && values.length === entries.length) this.#settleAll(values)
    else violation = this.#settleOther(values)
    // Outside a request nothing is cached once answered (keys that failed are forgotten already).
    if (this.#cache.request === undefined) for (const entry of entries) this.#cache.forget(entry)
    this.#deliverHits()
    if (violation === undefined) this.#traced?.span.finish('ok')
    else this.#traced?.span.finish('error', violation)
  }

  /** Settles each entry with the value at its place; `values` has one for each. */
  #settleAll(values: ArrayLike<V | Error>): void {
    const entries = this.#entries
    for (let i = 0; i < entries.length; i++) this.#settle(entries[i] as Entry<K, V>, values[i] as V | Error)
  }

  /** Settles the entries from a Map or an array-like, or fails them: returns the violation, if any. */
  #settleOther(values: BatchResult<V>): TypeError | undefined {
    const entries = this.#entries
    const name = this.#cache.config.name
    let violation: TypeError | undefined
    if (values instanceof Map) {
      for (const entry of entries) {
        const cacheKey = this.#cache.cacheKeyOf(entry.key)
        if (values.has(cacheKey)) {
          this.#settle(entry, values.get(cacheKey) as V | Error)
        } else {
          violation = missingKey(name, cacheKey)
          this.#fail(entry, violation)
        }
      }
      return violation
    }
    if (!isArrayLike(values)) {
      violation = new TypeError(
        `loader "${name}": the batch function must return an array or a Map of values, got ${describe(values)}`,
      )
    } else if (values.length !== entries.length) {
      violation = new TypeError(
        `loader "${name}": the batch function returned ${values.length} values for ${entries.length} keys`,
      )
    } else {
      this.#settleAll(values)
      return undefined
    }
    for (const entry of entries) this.#fail(entry, violation)
    return violation
  }

  #failed(error: unknown): void {
    if (!this.#finish()) return
    // As in DataLoader, a failed batch caches nothing: the next load of these keys tries again.
    for (const entry of this.#entries) this.#fail(entry, error)
    this.#deliverHits()
    this.#traced?.span.finish('error', error)
  }

  /** Every waiter is gone, or the request was cancelled: the keys fail, then the batch's signal fires. */
  cancel(reason: unknown): void {
    if (!this.#finish()) return
    this.#state = CANCELLED
    const error = new AbortError(`batch of "${this.#cache.config.name}"`, reason)
    for (const entry of this.#entries) {
      this.#cache.forget(entry)
      entry.reject(error, true)
    }
    this.#deliverHits()
    this.#traced?.span.finish('cancelled', error)
    // Made now if the batch function has not asked for it yet: it may still.
    this.#controller ??= new AbortController()
    this.#controller.abort(reason)
  }

  /** Moves the sent batch to DONE; false if it already was (a late answer after a cancel). */
  #finish(): boolean {
    if (this.#state !== SENT) return false
    this.#state = DONE
    this.#cache.landed(this)
    this.#traced?.done()
    this.#traced?.span.setAttribute('batch.loads', this.#loadCount())
    return true
  }

  /** The loads this batch served: those of its keys (duplicates and late joiners included) and its hits. */
  #loadCount(): number {
    let loads = this.#hitLoads
    for (const entry of this.#entries) loads += entry.loads
    return loads
  }

  #settle(entry: Entry<K, V>, value: V | Error): void {
    entry.batch = undefined
    // An Error as a value is that key's answer: cached like any other, as in DataLoader.
    if (value instanceof Error) entry.reject(value)
    else entry.resolve(value)
  }

  #fail(entry: Entry<K, V>, error: unknown): void {
    this.#cache.forget(entry)
    entry.reject(error)
  }

  #deliverHits(): void {
    this.#done?.resolve()
    const hits = this.#hits
    if (hits === undefined) return
    this.#hits = undefined
    for (let i = 0; i < hits.length; i += 2) deliver(hits[i] as Waiter<V>, hits[i + 1] as Settled<V>)
  }
}

/**
 * The ambient node of a traced batch function: its request's root in all but its span, so that the
 * spans of the backend calls it makes nest under the batch's. Untraced, the function runs in the
 * request's context as it is, and this costs nothing.
 */
class SpanNode extends Node {
  declare readonly span: Span
  readonly #root: Scope

  constructor(root: Scope, span: Span) {
    super(span)
    this.#root = root
    root.adopt(this)
    if (root.aborted) this.abort(root.reason)
  }

  /** The batch has landed. */
  done(): void {
    this.leave()
  }

  get name(): string {
    return this.#root.name
  }

  get deadline(): number | undefined {
    return this.#root.deadline
  }

  get scope(): Node {
    return this.#root
  }

  get root(): Scope {
    return this.#root
  }

  protected onAbort(): void {}
}

function missingKey(name: string, key: unknown): TypeError {
  return new TypeError(
    `loader "${name}": the batch function returned no value for key ${describe(key)} (return null or an Error for keys without a value)`,
  )
}

function isArrayLike(value: unknown): value is ArrayLike<unknown> {
  return (
    typeof value === 'object' && value !== null && typeof (value as ArrayLike<unknown>).length === 'number'
  )
}
