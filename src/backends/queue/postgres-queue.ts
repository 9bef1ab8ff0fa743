import type { Database } from 'weft/sql'
import { clock } from '../../core/clock.ts'
import { checkDuration, checkOptions, checkString, describe } from '../../core/validate.ts'
import {
  checkDeadLetters,
  checkEnqueue,
  graceOf,
  type QueueSettings,
  queueSettings,
  workerSettings,
} from './checks.ts'
import { GroupCommit } from './group-commit.ts'
import { isTableName } from './postgres-schema.ts'
import { type Inserted, type NewTask, type Settlement, TaskStore } from './postgres-store.ts'
import { PostgresWorker } from './postgres-worker.ts'
import { Producer, untilAborted } from './producer.ts'
import type {
  CloseOptions,
  DeadLetter,
  DeadLetterOptions,
  EnqueueOptions,
  EnqueueResult,
  QueueOptions,
  TaskCounts,
  TaskHandler,
  TaskQueue,
  Worker,
  WorkerOptions,
} from './task-queue.ts'

/** Options of {@link postgresQueue}. */
export interface PostgresQueueOptions extends QueueOptions {
  /** The tasks table (created on first use), optionally schema-qualified. Default `weft_tasks`. */
  table?: string
  /**
   * How often an idle worker looks for due tasks, in ms: the delay before a task enqueued by another
   * process (or falling due) starts, at worst. Enqueues through the same queue object wake its
   * workers at once. Default 1000.
   */
  pollInterval?: number
}

/** Rows in one insert or outcome statement, at most. */
const MAX_BATCH = 1000
/** Statements of each kind in flight at once; calls made meanwhile wait and go together in the next. */
const MAX_IN_FLIGHT = 4

/**
 * A durable task queue in PostgreSQL, on a server or on the embedded database (PGlite), which then
 * keeps the same semantics in one process: what `npm start` runs with no servers.
 *
 * Why a queue of its own rather than pg-boss: weft's timers must all run on
 * `clock()`, so that tests drive time; pg-boss reads time from `now()` and real timers, polls no more
 * often than every 500 ms, reclaims the jobs of a crashed worker only at its maintenance pass, on an
 * expiry fixed when the job starts (no heartbeat: a long task needs a long expiry, a crash a long
 * wait), and brings its own schema, maintenance and connection handling, bypassing `weft/sql`'s
 * cancellation, spans and typed errors. The queue here is one table and a handful of statements:
 * `FOR UPDATE SKIP LOCKED` claims, leases renewed while a task runs and swept when a worker dies,
 * enqueues and outcomes written in batches (a burst of 10,000 enqueues is a few round trips), and
 * time passed in from weft's clock.
 *
 * An enqueue resolves once its row is committed. While the database is down, enqueues fail with the
 * database's `BackendRefused` / `BackendUnavailable`; workers retry in the background.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { embeddedDatabase } from 'weft/sql'
 * import { postgresQueue } from 'weft/queue'
 * await using db = embeddedDatabase()
 * await using queue = postgresQueue(db)
 * const greeted = Promise.withResolvers<string>()
 * queue.worker('greet', async (payload: { who: string }, task) => {
 *   assert.equal(task.attempt, 1)
 *   greeted.resolve(`hello ${payload.who}`)
 * })
 * const { id, deduplicated } = await queue.enqueue('greet', { who: 'Ada' })
 * assert.equal(typeof id, 'string')
 * assert.equal(deduplicated, false)
 * assert.equal(await greeted.promise, 'hello Ada')
 * ```
 */
export function postgresQueue(db: Database, options: PostgresQueueOptions = {}): TaskQueue {
  const where = 'postgresQueue()'
  if (db === null || typeof db !== 'object' || typeof (db as Partial<Database>).query !== 'function') {
    throw new TypeError(`${where}: db must be a Database from weft/sql, got ${describe(db)}`)
  }
  checkOptions(where, options)
  const { table = 'weft_tasks', pollInterval = 1000 } = options
  checkString(where, 'options.table', table)
  if (!isTableName(table)) {
    throw new TypeError(`${where}: options.table must be a lower-case SQL identifier, got ${describe(table)}`)
  }
  checkDuration(where, 'options.pollInterval', pollInterval)
  return new PostgresQueue(db, table, pollInterval, queueSettings(where, options))
}

class PostgresQueue implements TaskQueue {
  readonly backend: string
  readonly address: string
  readonly #store: TaskStore
  readonly #settings: QueueSettings
  readonly #pollInterval: number
  readonly #producer: Producer
  readonly #inserts: GroupCommit<NewTask, Inserted>
  readonly #settles: GroupCommit<Settlement, boolean>
  readonly #workers = new Set<PostgresWorker>()
  #closing: Promise<void> | undefined

  constructor(db: Database, table: string, pollInterval: number, settings: QueueSettings) {
    this.backend = db.backend
    this.address = db.address
    this.#store = new TaskStore(db, table)
    this.#settings = settings
    this.#pollInterval = pollInterval
    this.#producer = new Producer(this)
    const store = this.#store
    this.#inserts = new GroupCommit((tasks) => store.insert(tasks, clock().now()), {
      maxBatch: MAX_BATCH,
      maxInFlight: MAX_IN_FLIGHT,
      operation: 'enqueue',
    })
    this.#settles = new GroupCommit(
      async (settlements) => {
        const recorded = new Set(await store.settle(settlements, clock().now()))
        return settlements.map((settlement) => recorded.has(settlement.id))
      },
      {
        maxBatch: MAX_BATCH,
        maxInFlight: MAX_IN_FLIGHT,
        operation: 'record a delivery',
      },
    )
  }

  enqueue(name: string, payload: unknown, options?: EnqueueOptions): Promise<EnqueueResult> {
    const json = checkEnqueue(name, payload, options)
    return this.#producer.enqueue(
      name,
      options,
      this.#closing !== undefined,
      async (id, traceparent, signal) => {
        await untilAborted(this.#store.ready(), signal, 'enqueue')
        const result = await this.#inserts.submit(
          {
            id,
            name,
            payload: json,
            maxAttempts: options?.attempts ?? this.#settings.attempts,
            runAt: clock().now() + (options?.delay ?? 0),
            dedupeKey: options?.dedupeKey,
            traceparent,
          },
          signal,
        )
        if (!options?.delay) for (const worker of this.#workers) if (worker.name === name) worker.wake()
        return result
      },
    )
  }

  worker<P = unknown>(name: string, handler: TaskHandler<P>, options?: WorkerOptions): Worker {
    const settings = workerSettings(name, handler, options, this)
    this.#producer.checkOpen(this.#closing !== undefined)
    const worker: PostgresWorker = new PostgresWorker(
      this.#store,
      this.#settles,
      { ...settings, queue: this.#settings, pollInterval: this.#pollInterval },
      () => this.#workers.delete(worker),
    )
    this.#workers.add(worker)
    return worker
  }

  async stats(): Promise<Record<string, TaskCounts>> {
    await this.#store.ready()
    return this.#store.counts()
  }

  async lag(): Promise<Record<string, number>> {
    await this.#store.ready()
    return this.#store.lag(clock().now())
  }

  deadLetters(name: string, options?: DeadLetterOptions): Promise<DeadLetter[]> {
    const limit = checkDeadLetters(name, options)
    return this.#store.ready().then(() => this.#store.deadLetters(name, limit))
  }

  close(options?: CloseOptions): Promise<void> {
    const graceMs = graceOf('queue.close()', options)
    this.#closing ??= (async () => {
      await Promise.all([...this.#workers].map((worker) => worker.close({ graceMs })))
      await this.#inserts.settled()
      await this.#settles.settled()
    })()
    return this.#closing
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
