import { checkOptions, describe } from '../../core/validate.ts'
import { type EmbeddedMemcacheOptions, embeddedMemcache } from './embedded.ts'
import type { Memcache } from './memcache.ts'
import { type MemcacheClientOptions, memcacheClient } from './memcache-client.ts'

/** Options of {@link memcacheFromEnv}: those of either client; each takes what applies to it. */
export type MemcacheFromEnvOptions = Omit<MemcacheClientOptions, 'servers'> &
  Omit<EmbeddedMemcacheOptions, keyof Omit<MemcacheClientOptions, 'servers'>>

/**
 * The memcache a deployment is configured for: `servers` is a comma-separated list of `host:port`
 * (usually `process.env.MEMCACHE_SERVERS`, the default); when it is empty or unset, the embedded
 * in-process shards are used instead, so the same code runs with or without memcached.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { memcacheFromEnv } from 'weft/memcache'
 * const embedded = memcacheFromEnv('', { shards: 2 })
 * assert.deepEqual(embedded.servers, ['embedded:0', 'embedded:1'])
 * const real = memcacheFromEnv('10.0.0.1:11211, 10.0.0.2:11211', { timeout: 200 })
 * assert.deepEqual(real.servers, ['10.0.0.1:11211', '10.0.0.2:11211'])
 * await Promise.all([embedded.close(), real.close()])
 * ```
 */
export function memcacheFromEnv(
  servers: string | undefined = process.env.MEMCACHE_SERVERS,
  options: MemcacheFromEnvOptions = {},
): Memcache {
  const where = 'memcacheFromEnv()'
  if (servers !== undefined && typeof servers !== 'string') {
    throw new TypeError(
      `${where}: servers must be a comma-separated string of "host:port", got ${describe(servers)}`,
    )
  }
  checkOptions(where, options)
  const list = (servers ?? '')
    .split(',')
    .map((server) => server.trim())
    .filter((server) => server !== '')
  const { shards, maxBytes, maxItems, maxItemBytes, ...shared } = options
  if (list.length > 0) return memcacheClient({ ...shared, servers: list })
  const { reconnect: _, ...common } = shared
  return embeddedMemcache({ ...common, ...defined({ shards, maxBytes, maxItems, maxItemBytes }) })
}

/** The entries whose value is not undefined (options are exact: an explicit undefined is not a default). */
function defined<T extends object>(entries: T): Partial<T> {
  return Object.fromEntries(Object.entries(entries).filter(([, value]) => value !== undefined)) as Partial<T>
}
