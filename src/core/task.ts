import { AbortError } from './errors.ts'
import { ambient, isCancellation, Node, runAs } from './node.ts'
import type { Scope } from './scope.ts'

/**
 * What every spawned function is called with: the task's own cancellation signal and deadline.
 * Destructure it (`async ({ signal }) => ...`) or read its fields; to pass it on with more fields, name
 * them (`{ signal, deadline, retries: 3 }`): its signal is made on first read, by a getter that a
 * spread copy (`{ ...context }`) does not keep.
 */
export interface TaskContext {
  /** Aborted when this task is cancelled (sibling failure, deadline, parent abort, `cancel()`). */
  readonly signal: AbortSignal
  /** The task's deadline in epoch ms, or undefined when there is none. */
  readonly deadline: number | undefined
}

/** A function run as a task. */
export type TaskFn<T> = (context: TaskContext) => T | PromiseLike<T>

/** Where a task is in its life. `cancelled` is final even if its function later returns a value. */
export type TaskState = 'running' | 'fulfilled' | 'rejected' | 'cancelled'

/**
 * A unit of work spawned in a scope: awaitable like a promise, cancellable, traced.
 *
 * A cancelled task rejects at once with an {@link AbortError} (its `reason` says why), so whoever
 * awaits it moves on promptly; its scope, however, still waits for the function itself to return, so
 * cleanup in `finally` blocks always runs before the scope settles. A task's rejection is never
 * "unhandled": failures are reported to its scope, and a task nobody awaits can be cancelled freely.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { scope } from 'weft'
 * const total = await scope(async (s) => {
 *   const a = s.spawn('a', async () => 20)
 *   const b = s.spawn('b', async ({ signal }) => (signal.aborted ? 0 : 22))
 *   return (await a) + (await b)
 * })
 * assert.equal(total, 42)
 * ```
 */
export class Task<T = unknown> extends Node implements PromiseLike<T>, TaskContext {
  readonly #scope: Scope
  /**
   * The name given to `spawn`, or the function to name the task after. Reading a function's `name`
   * costs as much as a tenth of a task, so an unnamed task is named only when someone asks.
   */
  #label: string | ((context: TaskContext) => unknown)
  /** The task's number in its scope, for the name of an anonymous function's task. */
  readonly #ordinal: number
  #state: TaskState = 'running'
  #outcome: unknown
  // Typed `unknown` so that a Task<T> is assignable to Task<unknown> (the field's resolve would
  // otherwise make Task invariant in T).
  #waiter: PromiseWithResolvers<unknown> | undefined

  /** @internal Created by `Scope.spawn`: `label` is the name given, or else the function. */
  constructor(scope: Scope, label: string | TaskFn<T>, ordinal: number) {
    const span = scope.span?.child(taskName(label, ordinal), 'task')
    super(span)
    this.#scope = scope
    this.#label = label
    this.#ordinal = ordinal
  }

  /** The name given to `spawn`, else the function's name, else `task N` (its number in its scope). */
  get name(): string {
    if (typeof this.#label !== 'string') this.#label = taskName(this.#label, this.#ordinal)
    return this.#label
  }

  /** Its scope's: a task has no deadline of its own. */
  get deadline(): number | undefined {
    return this.#scope.deadline
  }

  get state(): TaskState {
    return this.#state
  }

  get scope(): Scope {
    return this.#scope
  }

  get root(): Scope {
    return this.#scope.root
  }

  /**
   * Cancels this task alone: its signal aborts with `reason` and awaiting it rejects with an
   * AbortError. Its scope does not fail because of it, unless someone awaits the task and lets the
   * AbortError escape. Cancelling a settled task does nothing.
   */
  cancel(reason: unknown = new DOMException('cancel() was called', 'AbortError')): void {
    if (this.#state === 'running') this.abort(reason)
  }

  /** @internal Runs `fn` with this task as the ambient node. Called once, by `Scope.spawn`. */
  start(fn: TaskFn<T>): void {
    let result: unknown
    try {
      result = runAs(this, Task.#call, fn)
    } catch (error) {
      this.#finish(false, error)
      return
    }
    if (result !== settling) this.#finish(true, result)
  }

  /**
   * Calls the task's function in the task's own context, and there hands a promise it returns the
   * reactions that finish the task. Why there: a reaction runs in the context its `then` was called
   * in, so the reactions find their task as the ambient node, and can be two functions shared by
   * every task instead of two closures made for each (150 of the 1,070 bytes a pending task took,
   * and a fan-out of 10,000 holds them all at once). A task whose function returns a promise thus
   * finishes in its own context, one that returns a value at once in its spawner's. Returns the
   * function's value, or `settling` when that is a promise.
   */
  static #call<T>(fn: TaskFn<T>, task: Task<T>): T | typeof settling {
    const result = fn(new Context(task))
    if (!isPromiseLike(result)) return result
    // Promise.resolve adopts a foreign thenable safely (one outcome, a throwing then() becomes a
    // rejection) and returns a native promise as it is, at no extra tick.
    Promise.resolve(result).then(Task.#fulfilled, Task.#rejected)
    return settling
  }

  static #fulfilled(value: unknown): void {
    ;(ambient.getStore() as Task).#finish(true, value)
  }

  static #rejected(error: unknown): void {
    ;(ambient.getStore() as Task).#finish(false, error)
  }

  #finish(ok: boolean, outcome: unknown): void {
    // A failure is any error but the cancellation itself; after a cancel, it is cleanup that failed.
    const failed = !ok && (this.#state === 'running' || !isCancellation(outcome, this.reason))
    if (this.#state === 'running') {
      this.#state = ok ? 'fulfilled' : 'rejected'
      this.#outcome = outcome
      if (ok) this.#waiter?.resolve(outcome)
      else this.#waiter?.reject(outcome)
    }
    const state = this.#state as Exclude<TaskState, 'running'>
    this.span?.finish(spanStatus[state], state === 'cancelled' ? this.#outcome : ok ? undefined : outcome)
    this.bequeath(this.#scope)
    this.#scope.taskFinished(this, failed, outcome)
  }

  protected onAbort(reason: unknown): void {
    if (this.#state !== 'running') return
    this.#state = 'cancelled'
    this.#outcome = new AbortError(`task "${this.name}"`, reason)
    this.#waiter?.reject(this.#outcome)
  }

  // biome-ignore lint/suspicious/noThenProperty: a Task is awaitable by design.
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#promise().then(onfulfilled, onrejected)
  }

  catch<R = never>(onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.#promise().catch(onrejected)
  }

  finally(onfinally?: (() => void) | null): Promise<T> {
    return this.#promise().finally(onfinally)
  }

  get [Symbol.toStringTag](): string {
    return 'Task'
  }

  // The promise is made only when someone awaits the task: a task nobody awaits costs no promise,
  // and can never become an unhandled rejection.
  #promise(): Promise<T> {
    switch (this.#state) {
      case 'running':
        this.#waiter ??= Promise.withResolvers<unknown>()
        return this.#waiter.promise as Promise<T>
      case 'fulfilled':
        return Promise.resolve(this.#outcome as T)
      default:
        return Promise.reject(this.#outcome)
    }
  }
}

/** @internal A task's name: the one given to `spawn`, else its function's, else `task N`. */
export function taskName(label: string | ((context: TaskContext) => unknown), ordinal: number): string {
  return typeof label === 'string' ? label : label.name || `task ${ordinal}`
}

/** What `Task.#call` returns when the function's promise will finish the task. */
const settling: unique symbol = Symbol('settling')

const spanStatus = { fulfilled: 'ok', rejected: 'error', cancelled: 'cancelled' } as const

/**
 * The `{ signal, deadline }` a task's function receives; not the task itself, which is awaitable.
 * The signal is made when first read: an AbortController and its signal cost a trivial task about as
 * much as everything else weft does for it (bench:core), and most such tasks never read theirs. So
 * `signal` is a getter of this class rather than an own property: destructure it or read it; a spread
 * copy (`{ ...context }`) keeps the deadline alone. (An own getter, per object, costs more than the
 * controller it would save.)
 */
class Context implements TaskContext {
  readonly #task: Task<unknown>
  readonly deadline: number | undefined

  constructor(task: Task<unknown>) {
    this.#task = task
    this.deadline = task.deadline
  }

  get signal(): AbortSignal {
    return this.#task.signal
  }
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | null)?.then === 'function'
}
