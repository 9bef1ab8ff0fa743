import { SPAN_KINDS, type Span, type SpanKind, type TraceListener } from '../trace/span.ts'
import { type RemoteParent, startTrace } from '../trace/tracing.ts'
import { type Clock, clock, type TimerHandle } from './clock.ts'
import { msUntil } from './context.ts'
import { AbortError, DeadlineExceeded, ScopeClosedError } from './errors.ts'
import { ambient, isCancellation, Node, runAs } from './node.ts'
import { onAbort } from './on-abort.ts'
import { Task, type TaskFn, taskName } from './task.ts'
import { checkDuration, checkFunction, checkOptions, checkSignal, checkString, describe } from './validate.ts'

/** Options of {@link scope}. */
export interface ScopeOptions {
  /** Shown in errors and spans. Default `'scope'`. */
  name?: string
  /** A parent signal: when it aborts, the scope is cancelled with its reason. */
  signal?: AbortSignal
  /** Time budget in ms from now. The effective deadline is the earlier of this and the parent's. */
  deadline?: number
  /** Absolute deadline in epoch ms (the active clock's time). Give this or `deadline`, not both. */
  deadlineAt?: number
  /**
   * Trace this scope as a request of its own: `true`, or a function that receives the finished trace.
   * `false` turns tracing off for it. Default: the process-wide setting (`configureTracing`), or the
   * enclosing scope's trace for a nested scope.
   */
  trace?: boolean | TraceListener
  /**
   * Continues a trace begun in another process (an RPC caller, the request that enqueued a task):
   * this request's trace takes the caller's trace id, and its root span the caller's span as parent.
   * Ignored by nested scopes, which belong to their parent's trace.
   */
  traceParent?: RemoteParent
  /**
   * The kind of this scope's span when traced: `'server'` for a request served, `'consumer'` for a
   * queued task delivered. Default `'scope'`.
   */
  kind?: SpanKind
  /**
   * `false`: when traced, this scope has no span of its own, and the spans of its tasks and calls
   * nest under the enclosing span. For a scope that only bounds or groups work a span already names:
   * a time budget around one backend call (whose client span says what it did), the body of a task.
   * A trace's spans are most of what tracing costs a request. Ignored by a scope that starts a
   * request or a trace: its span is the trace's root. Default `true`.
   */
  span?: boolean
}

/**
 * Runs `fn` in a new scope and settles with its result once every task spawned in it has settled.
 *
 * The first failure (of `fn` or of any task) cancels everything else in the scope, and the scope
 * rejects with that first error; errors raised afterwards by the cancelled work are kept on the
 * error's `suppressed` list. A scope opened inside another scope (or a task) is nested in it: it is
 * cancelled with it and never gets a later deadline. A scope opened where none is ambient starts a
 * request: the scopes nested in it share its trace and its request-scoped caches.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { scope, sleep } from 'weft'
 * const [user, city] = await scope({ name: 'request', deadline: 1000 }, async (s) => {
 *   const user = s.spawn('session', async () => ({ id: 7 }))
 *   const city = s.spawn('geocode', async ({ signal }) => {
 *     await sleep(5, { signal })
 *     return 'Lisbon'
 *   })
 *   return Promise.all([user, city])
 * })
 * assert.deepEqual([user.id, city], [7, 'Lisbon'])
 * ```
 */
export function scope<T>(fn: (s: Scope) => T | PromiseLike<T>): Promise<T>
export function scope<T>(options: ScopeOptions, fn: (s: Scope) => T | PromiseLike<T>): Promise<T>
export function scope<T>(
  optionsOrFn: ScopeOptions | ((s: Scope) => T | PromiseLike<T>),
  maybeFn?: (s: Scope) => T | PromiseLike<T>,
): Promise<T> {
  const options = typeof optionsOrFn === 'function' ? noOptions : optionsOrFn
  const fn = typeof optionsOrFn === 'function' ? optionsOrFn : maybeFn
  checkOptions('scope()', options)
  checkFunction('scope()', 'fn', fn)
  const {
    name = 'scope',
    signal,
    deadline,
    deadlineAt,
    trace,
    traceParent,
    kind = 'scope',
    span = true,
  } = options
  checkString('scope()', 'options.name', name)
  if (signal !== undefined) checkSignal('scope()', 'options.signal', signal)
  if (deadline !== undefined && deadlineAt !== undefined) {
    throw new TypeError('scope(): give options.deadline or options.deadlineAt, not both')
  }
  if (deadline !== undefined) checkDuration('scope()', 'options.deadline', deadline)
  if (deadlineAt !== undefined && (typeof deadlineAt !== 'number' || Number.isNaN(deadlineAt))) {
    throw new TypeError(
      `scope(): options.deadlineAt must be a number of epoch milliseconds, got ${String(deadlineAt)}`,
    )
  }
  if (trace !== undefined && typeof trace !== 'boolean' && typeof trace !== 'function') {
    throw new TypeError(`scope(): options.trace must be a boolean or a function, got ${describe(trace)}`)
  }
  if (traceParent !== undefined) checkRemoteParent(traceParent)
  if (typeof span !== 'boolean') {
    throw new TypeError(`scope(): options.span must be a boolean, got ${describe(span)}`)
  }
  if (kind !== 'scope' && !spanKinds.has(kind)) {
    throw new TypeError(
      `scope(): options.kind must be one of ${[...spanKinds].join(', ')}, got ${describe(kind)}`,
    )
  }
  const parent = ambient.getStore()
  // deadlineAt: Infinity is a deadline that never comes: the same as none.
  const at = deadlineAt === Infinity ? undefined : deadlineAt
  const own = at ?? (deadline === undefined ? undefined : clock().now() + deadline)
  return new Scope(name, parent, own, deadline, spanFor(name, kind, parent, trace, traceParent, span)).run(
    fn,
    signal,
  )
}

/**
 * The handle a scope's callback receives: spawn tasks in it, read its signal and time left.
 * Not constructed directly; see {@link scope}.
 */
export class Scope extends Node {
  readonly #name: string
  readonly #parent: Node | undefined
  readonly #root: Scope
  /** The open scope this one was nested in: it counts this scope as running work until it settles. */
  #owner: Scope | undefined
  /** The effective deadline: the earlier of this scope's own and its parent's. */
  readonly #deadline: number | undefined
  /** The deadline this scope set itself, when it is earlier than the inherited one. */
  readonly #ownDeadline: number | undefined
  readonly #budget: number | undefined
  /**
   * Running work: the scope's own callback, every spawned task whose function has not returned, and
   * every scope nested in it that has not settled.
   */
  #pending = 1
  #open = true
  #failed = false
  #error: unknown
  #value: unknown
  #spawned = 0
  #timer: TimerHandle | undefined
  /** The clock that set `#timer`: the one that must clear it, even if another was installed since. */
  #timerClock: Clock | undefined
  #stopWatchingForeign: (() => void) | undefined
  /** The promise `scope()` returned, settled by `#finished`. */
  #done: PromiseWithResolvers<unknown> | undefined
  /** Made for the first error raised after the first failure: most scopes never need it. */
  #suppressed: unknown[] | undefined
  /** What lives as long as the request does, by key (see `local`); made on first use. */
  #locals: Map<object, unknown> | undefined
  /** The key `local` last found or `setLocal` set, and its value: see `local`. */
  #lastLocalKey: object | undefined
  #lastLocal: unknown

  /** @internal Created by {@link scope}. */
  constructor(
    name: string,
    parent: Node | undefined,
    ownDeadline: number | undefined,
    budget: number | undefined,
    span: Span | undefined,
  ) {
    const inherited = parent?.deadline
    const earlier = ownDeadline !== undefined && (inherited === undefined || ownDeadline < inherited)
    super(span)
    this.#deadline = earlier ? ownDeadline : inherited
    this.#name = name
    this.#parent = parent
    this.#root = parent === undefined ? this : (parent.root as Scope)
    this.#ownDeadline = earlier ? ownDeadline : undefined
    this.#budget = budget
  }

  get name(): string {
    return this.#name
  }

  get deadline(): number | undefined {
    return this.#deadline
  }

  get scope(): Scope {
    return this
  }

  /** The outermost scope of this request. */
  get root(): Scope {
    return this.#root
  }

  /**
   * @internal The value that lives as long as this request under `key` (a loader's request cache,
   * the loader counters), or undefined. Only a root scope's are used. They are kept on the scope
   * rather than in WeakMaps keyed by it because a WeakMap whose key has reached the old generation
   * keeps its value alive through every young-generation collection until the next full one: a
   * request cache holding thousands of keys outlived its request many times over. The last key
   * asked for is remembered with its value: a request's loads mostly come from one loader at a
   * time, and the Map lookup by an object key cost about 5% of a load (bench:batch, distinct keys).
   */
  local(key: object): unknown {
    if (key === this.#lastLocalKey) return this.#lastLocal
    const value = this.#locals?.get(key)
    if (value !== undefined) {
      this.#lastLocalKey = key
      this.#lastLocal = value
    }
    return value
  }

  /** @internal Sets the value under `key` that lives as long as this request (see `local`). */
  setLocal(key: object, value: unknown): void {
    this.#locals ??= new Map()
    this.#locals.set(key, value)
    this.#lastLocalKey = key
    this.#lastLocal = value
  }

  /** Errors raised after the first failure, other than the cancellation itself, in order. */
  get suppressed(): readonly unknown[] {
    return this.#suppressed ?? noErrors
  }

  /** True once the scope has settled; `spawn` then throws. */
  get settled(): boolean {
    return !this.#open
  }

  /** Milliseconds left before the deadline (0 once it passed), or Infinity without one. */
  remaining(): number {
    return msUntil(this.deadline)
  }

  /**
   * Starts `fn` as a task of this scope, called with `{ signal, deadline }`. If the scope is already
   * cancelled, the task is returned cancelled and `fn` is never called.
   *
   * @throws {ScopeClosedError} when the scope has already settled.
   */
  spawn<T>(fn: TaskFn<T>): Task<T>
  spawn<T>(name: string, fn: TaskFn<T>): Task<T>
  spawn<T>(nameOrFn: string | TaskFn<T>, maybeFn?: TaskFn<T>): Task<T> {
    const fn = typeof nameOrFn === 'function' ? nameOrFn : maybeFn
    if (typeof nameOrFn !== 'function') {
      // spawn(x) with one argument meant x as the function; with two, x is the name.
      if (maybeFn === undefined && typeof nameOrFn !== 'string') checkFunction('spawn()', 'fn', nameOrFn)
      checkString('spawn()', 'name', nameOrFn)
    }
    checkFunction('spawn()', 'fn', fn)
    this.#spawned += 1
    const label = typeof nameOrFn === 'string' ? nameOrFn : fn
    if (!this.#open) throw new ScopeClosedError(this.name, taskName(label, this.#spawned))
    const task = new Task<T>(this, label, this.#spawned)
    this.#pending += 1
    this.adopt(task)
    if (this.aborted) {
      task.abort(this.reason) // a cancelled scope starts nothing: the function is never called
      task.span?.finish('cancelled', this.reason)
      this.taskFinished(task, false, undefined)
    } else {
      task.start(fn)
    }
    return task
  }

  /** @internal Runs the scope's callback; called once, by {@link scope}. */
  run<T>(fn: (s: Scope) => T | PromiseLike<T>, foreign: AbortSignal | undefined): Promise<T> {
    const done = Promise.withResolvers<unknown>()
    this.#done = done
    const promise = done.promise as Promise<T>
    this.#parent?.adopt(this)
    const owner = this.#parent?.scope as Scope | undefined
    if (owner?.settled === false) {
      owner.#pending += 1
      this.#owner = owner
    }
    if (this.#parent?.aborted) this.abort(this.#parent.reason)
    else if (foreign?.aborted) this.abort(foreign.reason)
    else if (this.#ownDeadline !== undefined && this.#ownDeadline <= clock().now()) this.#expire()
    if (this.aborted) {
      this.#finished() // a cancelled parent means the callback is never called
      return promise
    }
    // Many scopes may share one foreign signal (every request under a server's shutdown signal):
    // onAbort keeps one listener on it for all of them.
    if (foreign !== undefined) this.#stopWatchingForeign = onAbort(foreign, () => this.abort(foreign.reason))
    if (this.#ownDeadline !== undefined) {
      this.#timerClock = clock()
      this.#timer = this.#timerClock.setTimeout(
        () => this.#expire(),
        this.#ownDeadline - this.#timerClock.now(),
      )
    }
    let result: T | PromiseLike<T>
    try {
      result = runAs(this, callBody, fn)
    } catch (error) {
      this.#bodyFailed(error)
      return promise
    }
    if (typeof (result as PromiseLike<T> | null)?.then === 'function') {
      Promise.resolve(result).then(
        (value) => {
          this.#value = value
          this.#finished()
        },
        (error: unknown) => this.#bodyFailed(error),
      )
    } else {
      this.#value = result
      this.#finished()
    }
    return promise
  }

  /** @internal A task's function has returned (or thrown): `failed` says whether `error` is a failure. */
  taskFinished(task: Node, failed: boolean, error: unknown): void {
    this.release(task)
    if (failed) this.#fail(error)
    this.#finished()
  }

  protected onAbort(reason: unknown): void {
    // Cancelled from outside (parent, foreign signal): reject with an AbortError that says why.
    if (this.#failed) return
    this.#failed = true
    this.#error = new AbortError(`scope "${this.name}"`, reason)
  }

  #bodyFailed(error: unknown): void {
    this.#fail(error)
    this.#finished()
  }

  #fail(error: unknown): void {
    if (!this.#failed) {
      this.#failed = true
      this.#error = error
      this.abort(error)
    } else if (error !== this.#error && !isCancellation(error, this.reason)) {
      this.#suppressed ??= []
      this.#suppressed.push(error)
    }
  }

  #expire(): void {
    this.#timer = undefined
    this.#fail(new DeadlineExceeded(`scope "${this.name}"`, this.deadline ?? 0, this.#budget))
  }

  #finished(): void {
    this.#pending -= 1
    if (this.#pending > 0) return
    this.#open = false
    if (this.#timer !== undefined) this.#timerClock?.clearTimeout(this.#timer)
    this.#stopWatchingForeign?.()
    this.#parent?.release(this)
    if (this.#failed && this.#suppressed !== undefined) attachSuppressed(this.#error, this.#suppressed)
    // A scope without a span of its own holds its parent's, which is not its to finish.
    const span = this.span === this.#parent?.span ? undefined : this.span
    if (!this.#failed) span?.finish('ok')
    else span?.finish(this.#error instanceof AbortError ? 'cancelled' : 'error', this.#error)
    if (this.#failed) this.#done?.reject(this.#error)
    else this.#done?.resolve(this.#value)
    if (this.#owner !== undefined) this.#owner.#finished()
  }
}

/**
 * Makes `suppressed` reachable as `error.suppressed`, after any errors already there: the same error
 * can fail several nested scopes, each with later errors of its own.
 */
function attachSuppressed(error: unknown, suppressed: readonly unknown[]): void {
  if (typeof error !== 'object' || error === null) return
  const earlier = (error as { suppressed?: unknown }).suppressed
  const all = Array.isArray(earlier)
    ? [...earlier, ...suppressed.filter((e) => !earlier.includes(e))]
    : suppressed
  try {
    Object.defineProperty(error, 'suppressed', { value: all, configurable: true })
  } catch {
    // A frozen error keeps its shape; the errors stay reachable on the scope's `suppressed`.
  }
}

/** Calls a scope's callback with the scope alone (runAs passes the node as a second argument). */
function callBody<T>(fn: (s: Scope) => T, s: Scope): T {
  return fn(s)
}

const spanKinds: ReadonlySet<unknown> = new Set(SPAN_KINDS)
const noOptions: ScopeOptions = Object.freeze({})
const noErrors: readonly unknown[] = Object.freeze([])

/**
 * A nested scope joins its parent's trace (or its parent's being untraced) unless `trace` says
 * otherwise, with a span of its own unless `own` is false (then it holds its parent's).
 */
function spanFor(
  name: string,
  kind: SpanKind,
  parent: Node | undefined,
  trace: boolean | TraceListener | undefined,
  remote: RemoteParent | undefined,
  own: boolean,
): Span | undefined {
  if (parent !== undefined && trace === undefined) return own ? parent.span?.child(name, kind) : parent.span
  return startTrace(trace, remote)?.startRoot(name, kind)
}

function checkRemoteParent(remote: unknown): asserts remote is RemoteParent {
  const { traceId, spanId } = (remote ?? {}) as Partial<RemoteParent>
  if (typeof traceId !== 'string' || !/^[0-9a-f]{32}$/.test(traceId) || /^0+$/.test(traceId)) {
    throw new TypeError(
      `scope(): options.traceParent.traceId must be 32 lowercase hex digits, not all zero, got ${describe(traceId)}`,
    )
  }
  if (typeof spanId !== 'string' || !/^[0-9a-f]{16}$/.test(spanId) || /^0+$/.test(spanId)) {
    throw new TypeError(
      `scope(): options.traceParent.spanId must be 16 lowercase hex digits, not all zero, got ${describe(spanId)}`,
    )
  }
}
