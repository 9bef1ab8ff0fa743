/** The Redis queue's connections (ioredis, as BullMQ wants them) and the weft errors of their failures. */
import { Redis as IORedis } from 'ioredis'
import {
  type BackendErrorDetails,
  BackendRefused,
  BackendTimeout,
  BackendUnavailable,
  ProtocolError,
} from '../../core/errors.ts'
import { describe } from '../../core/validate.ts'

/** The server behind a Redis queue, as errors and spans name it. */
export interface RedisEndpoint {
  readonly backend: 'redis'
  readonly address: string
}

/** Reads a `redis://` or `rediss://` URL; returns its `host:port`. */
export function redisAddress(where: string, url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    parsed = new URL('invalid:')
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new TypeError(`${where}: options.url must be a redis:// or rediss:// URL, got ${describe(url)}`)
  }
  return `${parsed.hostname || 'localhost'}:${parsed.port || '6379'}`
}

/** Reconnection delays: at once, then 100 ms doubling up to 2 s. */
function reconnectDelay(attempt: number): number {
  return attempt === 1 ? 0 : Math.min(100 * 2 ** (attempt - 2), 2000)
}

/** Why the producer connection cannot take a write now. */
class NotConnected extends Error {
  override name = 'NotConnected'
  readonly state: 'failed' | 'reconnecting' | 'closed'
  constructor(state: 'failed' | 'reconnecting' | 'closed', cause?: unknown) {
    super(state, { cause })
    this.state = state
  }
}

/**
 * The connection enqueues are written on. Writes never wait in a buffer: an enqueue either reaches
 * Redis or fails. While the first connection attempt (or the reconnection after a lost connection)
 * is under way, writes wait for it; once an attempt failed, they fail at once with
 * `BackendUnavailable` while ioredis keeps reconnecting in the background. A write in flight when the
 * connection drops fails with `BackendRefused` and is not resent.
 */
export class ProducerConnection {
  readonly client: IORedis
  readonly endpoint: RedisEndpoint
  #connected = false
  #failed = false
  #lastError: unknown
  #attempt: PromiseWithResolvers<void> | undefined

  constructor(url: string, endpoint: RedisEndpoint, connectTimeout: number, commandTimeout: number) {
    this.endpoint = endpoint
    this.client = new IORedis(url, {
      lazyConnect: true,
      connectTimeout,
      // A server that stops answering (paused, overloaded) fails writes instead of hanging them.
      commandTimeout,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // Enqueues issued in the same turn go out in one write: a burst costs a few syscalls, not one each.
      enableAutoPipelining: true,
      retryStrategy: reconnectDelay,
    })
    this.client.on('error', (error: unknown) => {
      this.#lastError = error
    })
    this.client.on('ready', () => {
      this.#connected = true
      this.#failed = false
      this.#attempt?.resolve()
      this.#attempt = undefined
    })
    this.client.on('close', () => {
      if (this.#connected) {
        this.#connected = false // lost: the reconnection starts at once, and writes wait for it
        return
      }
      this.#failed = true
      this.#attempt?.reject(new NotConnected('failed', this.#lastError))
      this.#attempt = undefined
    })
  }

  /** Resolves once writes can go out; rejects with the weft error saying why they cannot. */
  async ready(operation: string): Promise<void> {
    const status = this.client.status
    if (status === 'ready') return
    try {
      if (status === 'end') throw new NotConnected('closed')
      if (this.#failed) throw new NotConnected('reconnecting', this.#lastError)
      if (status === 'wait') this.client.connect().catch(() => {}) // a failure arrives as 'close'
      this.#attempt ??= Promise.withResolvers<void>()
      await this.#attempt.promise
    } catch (error) {
      throw toQueueError(error, operation, this.endpoint)
    }
  }

  async close(): Promise<void> {
    if (this.client.status === 'ready') await this.client.quit().catch(() => {})
    this.client.disconnect()
  }
}

/** A connection for a BullMQ worker: commands wait through reconnections (BullMQ requires it). */
export function workerConnection(url: string): IORedis {
  const client = new IORedis(url, { maxRetriesPerRequest: null, retryStrategy: reconnectDelay })
  client.on('error', () => {}) // reported through the worker's own 'error' events
  return client
}

/** The weft error for a failure of `operation` on Redis. */
export function toQueueError(error: unknown, operation: string, endpoint: RedisEndpoint): Error {
  const details: BackendErrorDetails = {
    ...endpoint,
    cause: error instanceof NotConnected ? error.cause : error,
  }
  if (error instanceof NotConnected) {
    const why = details.cause instanceof Error ? details.cause.message : 'no reason given'
    switch (error.state) {
      case 'closed':
        return new BackendUnavailable(`${operation}: the queue's connection is closed`, details)
      case 'reconnecting':
        return new BackendUnavailable(
          `${operation}: not connected, reconnecting (last attempt: ${why})`,
          details,
        )
      default:
        return (details.cause as { code?: unknown } | undefined)?.code === 'ETIMEDOUT'
          ? new BackendTimeout(`${operation}: connecting timed out`, details)
          : new BackendRefused(`${operation}: cannot connect (${why})`, details)
    }
  }
  if (!(error instanceof Error)) return new ProtocolError(`${operation}: ${describe(error)}`, details)
  if (error.message === 'Command timed out') {
    return new BackendTimeout(
      `${operation}: Redis did not answer in time (the write may have happened)`,
      details,
    )
  }
  if (error.name === 'MaxRetriesPerRequestError' || /Connection is closed/i.test(error.message)) {
    return new BackendRefused(
      `${operation}: the connection was lost before the reply (the write may have happened)`,
      details,
    )
  }
  if (/writeable|ECONNREFUSED|ECONNRESET|EPIPE/i.test(error.message)) {
    return new BackendRefused(`${operation}: not connected (${error.message})`, details)
  }
  return new ProtocolError(`${operation}: ${error.message}`, details)
}
