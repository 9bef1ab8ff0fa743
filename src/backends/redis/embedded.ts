import { RedisClient, type RedisClientOptions } from './client.ts'
import { EmbeddedServer } from './embedded-server.ts'
import { NotConnected, toRedisError } from './errors.ts'
import type { Redis } from './redis.ts'
import type { ReplyHandler, Transport, Wire } from './transport.ts'

/** Options of {@link embeddedRedis}. */
export type EmbeddedRedisOptions = RedisClientOptions

/**
 * A {@link Redis} held in this process: no server, no socket, the same behaviour. Expiry runs on weft's
 * `clock()`, so tests move it with the virtual clock. Calls still go out per turn of the event loop, as
 * to a real server, so cancellation behaves the same: a call cancelled in the turn it was made does
 * nothing. Each instance has its own keyspace, gone when the process exits.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { embeddedRedis } from 'weft/redis'
 * const redis = embeddedRedis({ keyPrefix: 'app:' })
 * await redis.set('greeting', 'hello', { px: 60_000 })
 * assert.equal(await redis.get('greeting'), 'hello')
 * assert.equal(await redis.incr('hits', { px: 1000 }), 1)
 * await redis.close()
 * ```
 */
export function embeddedRedis(options: EmbeddedRedisOptions = {}): Redis {
  return new RedisClient('embeddedRedis()', () => new EmbeddedTransport(), options)
}

class EmbeddedTransport implements Transport {
  readonly address = 'embedded'
  readonly attributes = { 'db.system': 'redis', 'server.address': 'embedded' }
  readonly #server = new EmbeddedServer()
  #closed = false

  ready(): Promise<void> | undefined {
    return this.#closed ? Promise.reject(new NotConnected('closed')) : undefined
  }

  write(commands: readonly Wire[], onReply: ReplyHandler): void {
    for (let i = 0; i < commands.length; i++) {
      let reply: unknown
      try {
        reply = this.#server.execute(commands[i] as Wire)
      } catch (error) {
        onReply(i, error, undefined)
        continue
      }
      onReply(i, undefined, reply)
    }
  }

  toError(error: unknown, operation: string): Error {
    return toRedisError(error, operation, { backend: 'redis', address: this.address })
  }

  async close(): Promise<void> {
    this.#closed = true
  }
}
