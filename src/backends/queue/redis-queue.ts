import { type Job, Queue } from 'bullmq'
import { AbortError } from '../../core/errors.ts'
import { checkDuration, checkOptions, checkString, describe } from '../../core/validate.ts'
import {
  checkDeadLetters,
  checkEnqueue,
  graceOf,
  type QueueSettings,
  queueSettings,
  workerSettings,
} from './checks.ts'
import { Producer, untilAborted } from './producer.ts'
import { ProducerConnection, type RedisEndpoint, redisAddress, toQueueError } from './redis-connection.ts'
import { BACKOFF_TYPE, type Envelope, RedisWorker } from './redis-worker.ts'
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

/** Options of {@link redisQueue}. */
export interface RedisQueueOptions extends QueueOptions {
  /** `redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS. */
  url: string
  /** Prefix of every key the queue writes, so that several queues (and tests) share a server. Default `weft`. */
  prefix?: string
  /** How long one attempt to connect may take, in ms. Default 2000. */
  connectTimeout?: number
  /**
   * How long an enqueue (or `stats`, `deadLetters`) waits for Redis's reply, in ms, before failing with
   * `BackendTimeout`: a paused or overloaded server fails calls instead of hanging them. Default 5000.
   */
  commandTimeout?: number
}

/**
 * A durable task queue on Redis, through BullMQ: each task name is a BullMQ queue under `prefix`.
 *
 * An enqueue is one `Queue.add` (a Lua script: atomic), with a fresh job id and, given a `dedupeKey`,
 * BullMQ's deduplication (which lasts until the task finishes, as on PostgreSQL). Retries use
 * BullMQ's attempts with the queue's backoff; a job failing its last attempt stays in the failed
 * set: the dead letters. The lease is BullMQ's job lock, and a crashed worker's jobs come back
 * through its stalled-job check. Durability is the server's: run Redis with AOF persistence
 * (`appendonly yes`, `appendfsync everysec` or `always`) for an enqueue to survive a Redis crash.
 *
 * Enqueues never wait in a client-side buffer: while Redis cannot be reached they fail at once with
 * `BackendRefused` / `BackendUnavailable` naming the server; workers reconnect in the background.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { BackendRefused } from 'weft'
 * import { redisQueue } from 'weft/queue'
 * // Nothing listens on port 1: the enqueue fails at once, naming the server.
 * await using queue = redisQueue({ url: 'redis://127.0.0.1:1' })
 * await assert.rejects(
 *   queue.enqueue('welcome-email', { to: 'ada@example.com' }),
 *   (error) => error instanceof BackendRefused && error.address === '127.0.0.1:1',
 * )
 * ```
 */
export function redisQueue(options: RedisQueueOptions): TaskQueue {
  const where = 'redisQueue()'
  checkOptions(where, options)
  if (options === undefined)
    throw new TypeError(`${where}: options must be an object with a url, got undefined`)
  const { url, prefix = 'weft', connectTimeout = 2000, commandTimeout = 5000 } = options
  checkString(where, 'options.url', url)
  const address = redisAddress(where, url)
  checkString(where, 'options.prefix', prefix)
  if (prefix === '' || prefix.includes(':')) {
    throw new TypeError(
      `${where}: options.prefix must be a non-empty string without ':', got ${describe(prefix)}`,
    )
  }
  checkDuration(where, 'options.connectTimeout', connectTimeout)
  checkDuration(where, 'options.commandTimeout', commandTimeout)
  const settings = queueSettings(where, options)
  const connection = new ProducerConnection(
    url,
    { backend: 'redis', address },
    connectTimeout,
    commandTimeout,
  )
  return new RedisQueue(url, prefix, connection, settings)
}

class RedisQueue implements TaskQueue {
  readonly backend = 'redis'
  readonly address: string
  readonly #url: string
  readonly #prefix: string
  readonly #endpoint: RedisEndpoint
  readonly #settings: QueueSettings
  readonly #connection: ProducerConnection
  readonly #producer: Producer
  /** BullMQ queues by task name, once their connection is initialised. */
  readonly #queues = new Map<string, Promise<Queue>>()
  readonly #workers = new Set<RedisWorker>()
  #closing: Promise<void> | undefined

  constructor(url: string, prefix: string, connection: ProducerConnection, settings: QueueSettings) {
    this.address = connection.endpoint.address
    this.#url = url
    this.#prefix = prefix
    this.#endpoint = connection.endpoint
    this.#settings = settings
    this.#connection = connection
    this.#producer = new Producer(connection.endpoint)
  }

  enqueue(name: string, payload: unknown, options?: EnqueueOptions): Promise<EnqueueResult> {
    const envelope: Envelope = { payload: checkEnqueue(name, payload, options) }
    if (options?.dedupeKey !== undefined) envelope.dedupeKey = options.dedupeKey
    return this.#producer.enqueue(
      name,
      options,
      this.#closing !== undefined,
      async (id, traceparent, signal) => {
        if (traceparent !== undefined) envelope.traceparent = traceparent
        const queue = await untilAborted(this.#queue(name, 'enqueue'), signal, 'enqueue')
        if (signal.aborted) throw new AbortError('enqueue', signal.reason)
        const added = queue
          .add(name, envelope, {
            jobId: id,
            attempts: options?.attempts ?? this.#settings.attempts,
            backoff: { type: BACKOFF_TYPE },
            ...(options?.delay && { delay: options.delay }),
            ...(options?.dedupeKey !== undefined && { deduplication: { id: options.dedupeKey } }),
            removeOnComplete: { age: Math.ceil(this.#settings.keepDone / 1000) },
            removeOnFail: false,
          })
          .catch((error: unknown) => {
            throw toQueueError(error, 'enqueue', this.#endpoint)
          })
        const job = await untilAborted(added, signal, 'enqueue')
        return { id: job.id as string, deduplicated: job.id !== id }
      },
    )
  }

  worker<P = unknown>(name: string, handler: TaskHandler<P>, options?: WorkerOptions): Worker {
    const settings = workerSettings(name, handler, options, this)
    this.#producer.checkOpen(this.#closing !== undefined)
    const worker: RedisWorker = new RedisWorker(
      { ...settings, url: this.#url, prefix: this.#prefix, queue: this.#settings },
      () => this.#workers.delete(worker),
    )
    this.#workers.add(worker)
    return worker
  }

  async stats(): Promise<Record<string, TaskCounts>> {
    await this.#connection.ready('stats')
    const names = (await this.#call('stats', () => this.#connection.client.smembers(this.#namesKey))).sort()
    const stats: Record<string, TaskCounts> = {}
    for (const name of names) {
      const queue = await this.#queue(name, 'stats')
      const counts = await this.#call('stats', () =>
        queue.getJobCounts(
          'wait',
          'delayed',
          'prioritized',
          'waiting-children',
          'active',
          'completed',
          'failed',
        ),
      )
      const count = (type: string): number => counts[type] ?? 0
      stats[name] = {
        queued: count('wait') + count('delayed') + count('prioritized') + count('waiting-children'),
        active: count('active'),
        done: count('completed'),
        dead: count('failed'),
      }
    }
    return stats
  }

  async lag(): Promise<Record<string, number>> {
    await this.#connection.ready('lag')
    const names = await this.#call('lag', () => this.#connection.client.smembers(this.#namesKey))
    const lag: Record<string, number> = {}
    for (const name of names.sort()) {
      const queue = await this.#queue(name, 'lag')
      // The oldest job of each list of jobs ready to run (BullMQ keeps no due time once a delayed
      // job is promoted, so the age counts from the enqueue, as on PostgreSQL).
      const jobs = (await this.#call('lag', () =>
        queue.getJobs(['wait', 'prioritized'], 0, 0, true),
      )) as Job[]
      const oldest = Math.min(...jobs.map((job) => job.timestamp))
      // BullMQ stamps jobs with the real time, not weft's clock.
      if (Number.isFinite(oldest)) lag[name] = Math.max(0, Date.now() - oldest)
    }
    return lag
  }

  deadLetters(name: string, options?: DeadLetterOptions): Promise<DeadLetter[]> {
    const limit = checkDeadLetters(name, options)
    return this.#deadLetters(name, limit)
  }

  async #deadLetters(name: string, limit: number): Promise<DeadLetter[]> {
    const queue = await this.#queue(name, 'deadLetters')
    const jobs = (await this.#call('deadLetters', () => queue.getFailed(0, limit - 1))) as Job[]
    return jobs.map((job) => {
      const data = job.data as Envelope
      return {
        id: job.id as string,
        name,
        payload: JSON.parse(data.payload),
        attempts: Math.min(job.attemptsMade + job.stalledCounter, job.opts.attempts ?? 1),
        error: job.failedReason,
        failedAt: job.finishedOn ?? job.timestamp,
        dedupeKey: data.dedupeKey,
      }
    })
  }

  close(options?: CloseOptions): Promise<void> {
    const graceMs = graceOf('queue.close()', options)
    this.#closing ??= (async () => {
      await Promise.all([...this.#workers].map((worker) => worker.close({ graceMs })))
      const queues = await Promise.allSettled(this.#queues.values())
      await Promise.all(
        queues.map((queue) => (queue.status === 'fulfilled' ? queue.value.close() : undefined)),
      )
      await this.#connection.close()
    })()
    return this.#closing
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /** Where the task names ever enqueued are listed, for `stats` (`~` is never part of a name). */
  get #namesKey(): string {
    return `${this.#prefix}:~names`
  }

  /**
   * The BullMQ queue of `name`, created once the connection is up (BullMQ's queue fails for good
   * if its connection is not ready when it initialises), its name recorded for `stats`.
   */
  #queue(name: string, operation: string): Promise<Queue> {
    let queue = this.#queues.get(name)
    if (queue === undefined) {
      queue = this.#openQueue(name, operation)
      this.#queues.set(name, queue)
      queue.catch(() => this.#queues.delete(name)) // tried again by the next call
    }
    return queue
  }

  async #openQueue(name: string, operation: string): Promise<Queue> {
    await this.#connection.ready(operation)
    const client = this.#connection.client
    await this.#call(operation, () => client.sadd(this.#namesKey, name))
    const queue = new Queue(name, { connection: client, prefix: this.#prefix })
    queue.on('error', () => {}) // every failure also rejects the call it belongs to
    try {
      await queue.waitUntilReady()
    } catch (error) {
      await queue.close().catch(() => {})
      throw toQueueError(error, operation, this.#endpoint)
    }
    return queue
  }

  async #call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    await this.#connection.ready(operation)
    try {
      return await fn()
    } catch (error) {
      throw toQueueError(error, operation, this.#endpoint)
    }
  }
}
