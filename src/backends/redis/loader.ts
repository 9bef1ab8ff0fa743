import { type Loader, loader } from '../../batch/index.ts'
import { scope } from '../../core/scope.ts'
import { checkCount, checkOptions, checkString, describe } from '../../core/validate.ts'
import type { Redis } from './redis.ts'

/** Options of {@link keysLoader}. */
export interface KeysLoaderOptions {
  /** Names the loader's spans (`<name>.batch`) and errors. Default `'redis.keys'`. */
  name?: string
  /**
   * The most keys in one `MGET`; more are split. Default 1000: Redis runs one command at a time, and a
   * huge `MGET` holds up every other client of the server.
   */
  maxBatchSize?: number
}

/**
 * A `weft/batch` loader of the string values of keys: the loads of one turn of the event loop, from
 * anywhere in a request, become one `MGET` (per `maxBatchSize` keys), each key fetched once and cached
 * for the rest of the request; a missing key loads as undefined. When every load waiting for a batch
 * is cancelled, its `MGET` is cancelled too (never sent, or its reply dropped). Define it once, next to
 * the client: it keeps one cache per request, never one shared between requests.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { scope } from 'weft'
 * import { embeddedRedis, keysLoader } from 'weft/redis'
 * const redis = embeddedRedis()
 * await redis.set('user:1', 'Ada')
 * const users = keysLoader(redis, { name: 'users' })
 * const [a, b, c] = await scope(async (s) => {
 *   const profile = s.spawn('profile', () => users.load('user:1'))
 *   const friends = s.spawn('friends', () => users.loadMany(['user:2', 'user:1']))
 *   return [await profile, ...(await friends)]
 * })
 * assert.deepEqual([a, b, c], ['Ada', undefined, 'Ada']) // one MGET of user:1 and user:2
 * await redis.close()
 * ```
 */
export function keysLoader(
  redis: Redis,
  options: KeysLoaderOptions = {},
): Loader<string, string | undefined> {
  if (redis === null || typeof redis !== 'object' || typeof redis.mget !== 'function') {
    throw new TypeError(`keysLoader(): redis must be a Redis client, got ${describe(redis)}`)
  }
  checkOptions('keysLoader()', options)
  const { name = 'redis.keys', maxBatchSize = 1000 } = options
  checkString('keysLoader()', 'options.name', name)
  checkCount('keysLoader()', 'options.maxBatchSize', maxBatchSize, 1)
  return loader<string, string | undefined>(
    name,
    // The batch runs in its request's context; its own signal (every waiting load cancelled) is made
    // the ambient one for the MGET by a scope nested in the request, without a span: the MGET's
    // client span goes straight under the batch's.
    (keys, batch) =>
      scope({ name: `${name}.mget`, signal: batch.signal, span: false }, () => redis.mget(keys)),
    { maxBatchSize },
  )
}
