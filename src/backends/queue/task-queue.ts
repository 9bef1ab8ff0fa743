/**
 * The contract every queue backend keeps: what callers and handlers may rely on, whichever backend
 * (PostgreSQL, the embedded database, Redis) configuration picked.
 */
import type { TraceListener } from '../../trace/span.ts'

/** Options of {@link TaskQueue.enqueue}. */
export interface EnqueueOptions {
  /** Deliver the task no earlier than this many ms from now. Default 0. */
  delay?: number
  /**
   * Deliveries the task may use up, the first included: each delivery whose handler throws (or times
   * out), or whose worker dies mid-task, uses one. After the last, the task is dead (a dead letter).
   * Default: the queue's `attempts`.
   */
  attempts?: number
  /**
   * While a task of the same name and key is queued (waiting, delayed or between retries) or running,
   * enqueueing another returns that task instead of adding one (`deduplicated: true`). The handler
   * receives the key, to make its side effects idempotent.
   */
  dedupeKey?: string
  /**
   * Cancels the enqueue while it is not yet written; default the ambient signal. Once the write is on
   * its way the call still rejects at once with an `AbortError`, but the task may have been written,
   * and is then delivered like any other.
   */
  signal?: AbortSignal
}

/** What {@link TaskQueue.enqueue} returns once the task is durably written. */
export interface EnqueueResult {
  /** The task's id: opaque, unique within the queue. */
  id: string
  /** True when a pending task with the same `dedupeKey` was found, and `id` is that task's. */
  deduplicated: boolean
}

/** What a handler receives besides the payload: which delivery this is, and its scope's limits. */
export interface TaskContext {
  /** The task's id, the same for every delivery. */
  readonly id: string
  /** The task's name (what it was enqueued as). */
  readonly name: string
  /**
   * This delivery's number, from 1: deliveries that failed or were lost with a crashed worker count,
   * deliveries handed back by a worker shutting down do not.
   */
  readonly attempt: number
  /** The task's `attempts`: when `attempt` equals it, a failure makes the task dead. */
  readonly maxAttempts: number
  /**
   * A key naming the task's effect, for idempotent handlers (a crash after the side effect means the
   * task runs again): the `dedupeKey` it was enqueued with, else its id.
   */
  readonly dedupeKey: string
  /**
   * Aborted when the worker shuts down past its grace period, when the delivery's `timeout` passes,
   * or when the worker lost the task's lease (it stalled past it): another delivery is then under way.
   */
  readonly signal: AbortSignal
  /** The delivery's deadline (epoch ms of weft's clock), when the worker sets a `timeout`. */
  readonly deadline: number | undefined
  /** The trace id of the request that enqueued the task, when it was traced. */
  readonly traceId: string | undefined
}

/**
 * Runs one delivery of a task. It runs as the callback of a scope of its own (ambient signal,
 * deadline and spans work inside it); returning marks the task done, throwing fails the delivery.
 * It must be idempotent: delivery is at least once.
 */
export type TaskHandler<P = unknown> = (payload: P, task: TaskContext) => unknown

/** Options of {@link TaskQueue.worker}. */
export interface WorkerOptions {
  /** Deliveries run at once, at most. Default 1. */
  concurrency?: number
  /** Time budget of one delivery, in ms: past it, its scope is cancelled and the delivery fails. Default: none. */
  timeout?: number
  /**
   * Trace deliveries: `true`, `false`, or a listener receiving each delivery's trace. Default: a
   * delivery is traced when the request that enqueued the task was, else as `configureTracing` says.
   */
  trace?: boolean | TraceListener
  /**
   * Receives the worker's background failures (fetching, renewing leases, recording outcomes) that it
   * recovers from by retrying. Default: a process warning.
   */
  onError?: (error: unknown) => void
}

/** Options of {@link Worker.close} and {@link TaskQueue.close}. */
export interface CloseOptions {
  /**
   * How long deliveries in flight may take to finish, in ms. Past it, their signals are aborted; a
   * delivery that then ends without finishing its handler goes back to the queue, its attempt not
   * used up. Default 10 000.
   */
  graceMs?: number
}

/** A running consumer of one task name; see {@link TaskQueue.worker}. */
export interface Worker extends AsyncDisposable {
  /** The task name it runs. */
  readonly name: string
  /** Deliveries running now. */
  readonly active: number
  /**
   * Stops taking tasks, lets the deliveries in flight finish within `graceMs`, hands the others
   * back, and resolves once every handler has returned and every outcome is written.
   */
  close(options?: CloseOptions): Promise<void>
}

/** Tasks of one name by state, for metrics. */
export interface TaskCounts {
  /** Waiting, delayed, or between retries. */
  queued: number
  /** Being delivered. */
  active: number
  /** Finished, still kept (see the queue's `keepDone`). */
  done: number
  /** Dead letters: failed their last attempt. */
  dead: number
}

/** A task that failed its last attempt. */
export interface DeadLetter {
  id: string
  name: string
  payload: unknown
  /** Deliveries it used up. */
  attempts: number
  /** The last delivery's error message. */
  error: string
  /** When it died, in epoch ms. */
  failedAt: number
  /** The key it was enqueued with, if any. */
  dedupeKey: string | undefined
}

/** Options of {@link TaskQueue.deadLetters}. */
export interface DeadLetterOptions {
  /** The most recent dead letters to return, at most. Default 100. */
  limit?: number
}

/**
 * A durable task queue (the seed's Celery): at-least-once delivery, retries with exponential
 * backoff, dead letters after the last attempt, graceful shutdown, and the enqueuing request's trace
 * carried into each delivery. An `enqueue` that resolved is durable: its task is delivered even if
 * every process stops right after. Handlers must be idempotent.
 */
export interface TaskQueue extends AsyncDisposable {
  /** `'postgres'`, `'pglite'` or `'redis'`. */
  readonly backend: string
  /** The server's address, or the embedded database's location. */
  readonly address: string
  /**
   * Writes a task: `payload` (anything JSON can represent) for the handlers of `name`. Resolves once
   * the task is durably written. Fails with `BackendRefused` / `BackendUnavailable` naming the backend
   * and its address when the server cannot be reached: nothing is buffered in memory.
   */
  enqueue(name: string, payload: unknown, options?: EnqueueOptions): Promise<EnqueueResult>
  /** Starts a worker running `handler` for the tasks of `name`, at once. */
  worker<P = unknown>(name: string, handler: TaskHandler<P>, options?: WorkerOptions): Worker
  /** Task counts by name and state. */
  stats(): Promise<Record<string, TaskCounts>>
  /**
   * How far behind the workers are: for each task name with tasks due and waiting for a worker, the
   * age in ms of the oldest of them, counted from its enqueue (so a delayed or retried task's wait
   * includes its delay). Names with nothing waiting are absent. For metrics (queue age).
   */
  lag(): Promise<Record<string, number>>
  /** The dead letters of `name`, most recent first. */
  deadLetters(name: string, options?: DeadLetterOptions): Promise<DeadLetter[]>
  /** Closes every worker it started (see {@link Worker.close}), then its own connections. */
  close(options?: CloseOptions): Promise<void>
}

/** Retry and retention settings shared by every backend. */
export interface QueueOptions {
  /** Default `attempts` of a task. Default 3. */
  attempts?: number
  /**
   * Delay before retrying after failed delivery n: `initial * 2^(n-1)` ms, at most `max`.
   * Default `{ initial: 1000, max: 300_000 }`.
   */
  backoff?: { initial?: number; max?: number }
  /**
   * How long a delivery holds its task without news from its worker, in ms: workers renew the lease
   * while the handler runs, and a task whose lease ran out (its worker died) is delivered again.
   * Default 30 000.
   */
  lease?: number
  /** How long finished tasks are kept (for `stats` and inspection), in ms. Default one hour. */
  keepDone?: number
}
