import { Command, Redis as IORedis, type Pipeline } from 'ioredis'
import { checkDuration, checkOptions, checkString } from '../../core/validate.ts'
import { clientOptions, RedisClient, type RedisClientOptions } from './client.ts'
import { NotConnected, toRedisError } from './errors.ts'
import type { Redis } from './redis.ts'
import type { ReplyHandler, Transport, Wire } from './transport.ts'

/** Options of {@link redisClient}. */
export interface RedisConnectionOptions extends RedisClientOptions {
  /** `redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS. */
  url: string
  /** How long one attempt to connect may take, in ms, before it fails with `BackendTimeout`. Default 2000. */
  connectTimeout?: number
}

/**
 * A {@link Redis} over one connection to a Redis server, through ioredis.
 *
 * The connection opens at the first call. While it is being opened, calls wait (within their time
 * limits); if the attempt fails, they fail with `BackendRefused` (or `BackendTimeout` when it timed
 * out), and from then on calls fail at once with `BackendUnavailable` while ioredis keeps trying to
 * reconnect in the background (after 0 ms, then 100 ms doubling up to 2 s). Calls waiting for a reply
 * when the connection drops fail with `BackendRefused` and are never sent again: `INCR` is not
 * idempotent, so resending is the caller's decision.
 *
 * Why ioredis rather than node-redis: node-redis's `withAbortSignal` drops commands not yet sent,
 * which weft's own queue does here for every call (the queue is where cancellation must act, before
 * the write); what ioredis brings besides is a pipeline written in one write, its reconnection, and
 * being the client BullMQ runs on, so that a service using both holds one Redis client library.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { BackendRefused } from 'weft'
 * import { redisClient } from 'weft/redis'
 * // Nothing listens on port 1: the first call fails, naming the server.
 * const redis = redisClient({ url: 'redis://127.0.0.1:1' })
 * await assert.rejects(redis.get('key'), (error) => error instanceof BackendRefused && error.address === '127.0.0.1:1')
 * await redis.close()
 * ```
 */
export function redisClient(options: RedisConnectionOptions): Redis {
  checkOptions('redisClient()', options)
  if (options === undefined) throw new TypeError('redisClient(): options must be an object, got undefined')
  const { url, connectTimeout = 2000 } = options
  checkString('redisClient()', 'options.url', url)
  checkDuration('redisClient()', 'options.connectTimeout', connectTimeout)
  const connect = () => new Connection(url, connectTimeout)
  return new RedisClient('redisClient()', connect, options, [...clientOptions, 'url', 'connectTimeout'])
}

/** The delay before reconnection attempt `attempt` (from 1): at once, then 100 ms doubling up to 2 s. */
function reconnectDelay(attempt: number): number {
  return attempt === 1 ? 0 : Math.min(100 * 2 ** (attempt - 2), 2000)
}

function ignore(): void {}

/** The transport over ioredis: commands are written only once the connection is ready. */
class Connection implements Transport {
  readonly address: string
  readonly attributes: Readonly<Record<string, string | number>>
  readonly #client: IORedis
  /** Set when a connection attempt failed; cleared when a connection is ready: calls then fail fast. */
  #failed = false
  #connected = false
  #lastError: unknown
  #attempt: PromiseWithResolvers<void> | undefined

  constructor(url: string, connectTimeout: number) {
    const parsed = parseUrl(url)
    this.address = `${parsed.hostname}:${parsed.port}`
    this.attributes = {
      'db.system': 'redis',
      'server.address': parsed.hostname.replace(/^\[|\]$/g, ''),
      'server.port': Number(parsed.port),
    }
    this.#client = new IORedis(url, {
      lazyConnect: true,
      connectTimeout,
      // Commands wait in weft's queue, where cancellation can still drop them, never in ioredis's.
      enableOfflineQueue: false,
      // Commands in flight when the connection drops fail at once and are never sent twice.
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      retryStrategy: reconnectDelay,
    })
    this.#client.on('error', (error: unknown) => {
      this.#lastError = error
    })
    this.#client.on('ready', () => {
      this.#connected = true
      this.#failed = false
      this.#attempt?.resolve()
      this.#attempt = undefined
    })
    this.#client.on('close', () => {
      if (this.#connected) {
        this.#connected = false // a lost connection: the next attempt starts at once; calls wait for it
        return
      }
      this.#failed = true
      this.#attempt?.reject(new NotConnected('failed', this.#lastError))
      this.#attempt = undefined
    })
  }

  ready(): Promise<void> | undefined {
    const status = this.#client.status
    if (status === 'ready') return undefined
    if (status === 'end') return Promise.reject(new NotConnected('closed'))
    if (this.#failed) return Promise.reject(new NotConnected('reconnecting', this.#lastError))
    if (status === 'wait') this.#client.connect().catch(ignore) // failures arrive as 'close'
    this.#attempt ??= Promise.withResolvers<void>()
    return this.#attempt.promise
  }

  write(commands: readonly Wire[], onReply: ReplyHandler): void {
    const send = (index: number, wire: Wire, target: { sendCommand(command: Command): unknown }): void => {
      const command = new Command(wire[0] as string, wire.slice(1), { replyEncoding: 'utf8' })
      target.sendCommand(command)
      command.promise.then(
        (reply) => onReply(index, undefined, reply),
        (error: unknown) => onReply(index, error, undefined),
      )
    }
    if (commands.length === 1) {
      send(0, commands[0] as Wire, this.#client)
      return
    }
    // One pipeline: ioredis writes its commands to the socket in a single write.
    const pipeline = this.#client.pipeline() as unknown as Pipeline
    for (let i = 0; i < commands.length; i++) send(i, commands[i] as Wire, pipeline)
    pipeline.exec().catch(ignore) // each command's outcome is reported above
  }

  toError(error: unknown, operation: string): Error {
    return toRedisError(error, operation, { backend: 'redis', address: this.address })
  }

  async close(): Promise<void> {
    if (this.#client.status === 'ready') {
      // QUIT is answered after every reply still due, so nothing in flight is cut off.
      await this.#client.quit().catch(ignore)
    }
    this.#client.disconnect()
  }
}

function parseUrl(url: string): URL {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new TypeError(
      `redisClient(): options.url must be a redis:// or rediss:// URL, got ${JSON.stringify(url)}`,
    )
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new TypeError(
      `redisClient(): options.url must be a redis:// or rediss:// URL, got ${JSON.stringify(url)}`,
    )
  }
  if (parsed.port === '') parsed.port = '6379'
  if (parsed.hostname === '') parsed.hostname = 'localhost'
  return parsed
}
