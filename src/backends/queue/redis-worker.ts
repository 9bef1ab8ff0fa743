import { Worker as BullWorker, type Job, UnrecoverableError, WaitingError } from 'bullmq'
import type { Redis as IORedis } from 'ioredis'
import { retryDelay } from './backoff.ts'
import { graceOf, type QueueSettings, type WorkerSettings } from './checks.ts'
import { deliver, describeFailure } from './delivery.ts'
import { InFlight } from './in-flight.ts'
import { workerConnection } from './redis-connection.ts'
import type { CloseOptions, Worker } from './task-queue.ts'

/** What a task is stored as in its BullMQ job's data. */
export interface Envelope {
  /** The payload's JSON text, as serialized at the enqueue. */
  payload: string
  traceparent?: string
  dedupeKey?: string
}

/** The backoff type the queue's jobs carry: the worker's strategy computes it. */
export const BACKOFF_TYPE = 'weft'

// BullMQ fails a job lost with its worker more than `maxStalledCount` times; the queue counts lost
// deliveries against the task's own `attempts` instead (see `attemptOf`), so BullMQ's limit is lifted.
const UNLIMITED_STALLS = 1_000_000_000

/** What a {@link RedisWorker} runs on and how. */
export interface RedisWorkerSettings extends WorkerSettings {
  readonly url: string
  readonly prefix: string
  readonly queue: QueueSettings
}

/**
 * The delivery number of a job: failed deliveries (`attemptsMade`) plus deliveries lost with a
 * crashed worker (`stalledCounter`, counted by BullMQ's stalled-job check) plus one. Deliveries
 * handed back at shutdown count in neither.
 */
export function attemptOf(job: Pick<Job, 'attemptsMade' | 'stalledCounter'>): number {
  return job.attemptsMade + job.stalledCounter + 1
}

/**
 * A worker of the Redis queue: a BullMQ worker whose lock is the queue's lease (renewed while the
 * handler runs; a crashed worker's jobs are found by BullMQ's stalled-job check and delivered
 * again), whose processor runs each job as a weft delivery, and whose close hands back what the
 * grace period did not let finish.
 */
export class RedisWorker implements Worker {
  readonly name: string
  readonly #connection: IORedis
  readonly #worker: BullWorker
  readonly #settings: RedisWorkerSettings
  readonly #inFlight = new InFlight<undefined>()
  readonly #onClosed: () => void
  #closing: Promise<void> | undefined

  constructor(settings: RedisWorkerSettings, onClosed: () => void) {
    this.name = settings.name
    this.#settings = settings
    this.#onClosed = onClosed
    this.#connection = workerConnection(settings.url)
    const { lease, backoff } = settings.queue
    this.#worker = new BullWorker(settings.name, (job, token) => this.#process(job, token), {
      connection: this.#connection,
      prefix: settings.prefix,
      concurrency: settings.concurrency,
      lockDuration: lease,
      stalledInterval: lease / 2,
      maxStalledCount: UNLIMITED_STALLS,
      settings: {
        backoffStrategy: (failures: number, _type?: string, _error?: Error, job?: unknown) =>
          retryDelay(failures + ((job as Job | undefined)?.stalledCounter ?? 0), backoff),
      },
    })
    this.#worker.on('error', settings.onError)
  }

  get active(): number {
    return this.#inFlight.size
  }

  close(options?: CloseOptions): Promise<void> {
    const graceMs = graceOf('worker.close()', options)
    this.#closing ??= this.#close(graceMs)
    return this.#closing
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  async #close(graceMs: number): Promise<void> {
    // BullMQ stops fetching at once and waits for the processors, which the drain ends in time.
    const stopped = this.#worker.close()
    await this.#inFlight.drain(graceMs)
    await stopped
    // Nothing is left to send (BullMQ has finished), and a QUIT would wait for a reconnection when
    // Redis is down: the socket is simply closed.
    this.#connection.disconnect()
    this.#onClosed()
  }

  async #process(job: Job, token: string | undefined): Promise<void> {
    const data = job.data as Envelope
    const id = job.id as string
    const maxAttempts = job.opts.attempts ?? 1
    const attempt = attemptOf(job)
    if (attempt > maxAttempts) {
      throw new UnrecoverableError(
        `delivery ${attempt - 1} was lost: its worker stopped renewing the lease (it crashed or stalled)`,
      )
    }
    const { handler, delivery } = this.#settings
    const task = {
      id,
      name: this.name,
      payload: JSON.parse(data.payload),
      attempt,
      maxAttempts,
      dedupeKey: data.dedupeKey,
      traceparent: data.traceparent,
    }
    const outcome = await this.#inFlight.run(id, undefined, (stop) => deliver(task, handler, delivery, stop))
    switch (outcome.status) {
      case 'done':
        return
      case 'returned':
        await job.moveToWait(token)
        throw new WaitingError() // tells BullMQ the job has been moved already
      case 'failed': {
        const message = describeFailure(outcome.error)
        if (attempt >= maxAttempts) throw new UnrecoverableError(message)
        throw new Error(message, { cause: outcome.error })
      }
    }
  }
}
