import { checkDuration, checkOptions, describe } from '../../core/validate.ts'
import { parseAddress } from './address.ts'
import { clientSettings, ShardedMemcache } from './client.ts'
import { KetamaRing } from './ketama.ts'
import type { Memcache, MemcacheOptions } from './memcache.ts'
import { ServerTransport } from './server.ts'
import { Shard } from './shard.ts'

/** A server with a relative weight: it gets a share of the keys proportional to it. */
export interface WeightedServer {
  /** `host:port`, `[ipv6]:port`, or a host (port 11211). */
  address: string
  /** A positive number; default 1. */
  weight?: number
}

/** Options of {@link memcacheClient}. */
export interface MemcacheClientOptions extends MemcacheOptions {
  /** The memcached servers: `'host:port'` strings, or `{ address, weight }`. Order does not matter. */
  servers: readonly (string | WeightedServer)[]
  /**
   * How long a server marked down is left alone before each reconnection attempt, in ms: from
   * `min`, doubling up to `max` (jittered). Default `{ min: 100, max: 2000 }`.
   */
  reconnect?: { min?: number; max?: number }
}

/**
 * A client for N memcached servers, speaking the meta protocol over one pipelined connection per
 * server. Keys are placed by ketama consistent hashing (the same placement as libketama clients).
 * See {@link Memcache} for the behaviour, which the embedded default shares.
 *
 * A server that refuses connections, resets them mid-request, or leaves a request unanswered for
 * `timeout` ms is marked down: its calls fail at once with `BackendUnavailable` (naming it) until a
 * background reconnection succeeds. Its keys are not moved to the other servers meanwhile: a rate
 * limiter or session that silently restarted on another shard, then silently switched back when the
 * server returned, would be wrong twice; a clear, fast error lets the caller decide (fail open,
 * fall back to the database).
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { memcacheClient } from 'weft/memcache'
 * const cache = memcacheClient({ servers: ['127.0.0.1:11211'], timeout: 250 })
 * assert.deepEqual(cache.servers, ['127.0.0.1:11211'])
 * await cache.close() // nothing was sent, so no connection was opened
 * ```
 */
export function memcacheClient(options: MemcacheClientOptions): Memcache {
  const where = 'memcacheClient()'
  checkOptions(where, options)
  if (options === undefined) throw new TypeError(`${where}: options with a servers list are required`)
  const settings = clientSettings(where, options)
  const { servers, reconnect = {} } = options
  if (!Array.isArray(servers) || servers.length === 0) {
    throw new TypeError(
      `${where}: options.servers must be a non-empty array of "host:port", got ${describe(servers)}`,
    )
  }
  checkOptions(where, reconnect)
  const { min = 100, max = 2000 } = reconnect
  checkDuration(where, 'options.reconnect.min', min)
  checkDuration(where, 'options.reconnect.max', max)
  if (max < min)
    throw new TypeError(`${where}: options.reconnect.max (${max}) is below options.reconnect.min (${min})`)
  const ring = new KetamaRing(
    servers.map((server: unknown, i) => {
      const entry = typeof server === 'string' ? { address: server } : (server as WeightedServer)
      const weight = entry?.weight ?? 1
      if (typeof weight !== 'number' || !(weight > 0) || !Number.isFinite(weight)) {
        throw new TypeError(
          `${where}: options.servers[${i}].weight must be a positive number, got ${describe(weight)}`,
        )
      }
      return { address: parseAddress(`${where}: options.servers[${i}]`, entry?.address).text, weight }
    }),
  )
  const duplicate = ring.servers.find((address, i) => ring.servers.indexOf(address) !== i)
  if (duplicate !== undefined) throw new TypeError(`${where}: options.servers lists ${duplicate} twice`)
  const shards = ring.servers.map(
    (address) => new Shard(new ServerTransport(parseAddress(where, address), settings.timeout, { min, max })),
  )
  return new ShardedMemcache(ring, shards, settings)
}
