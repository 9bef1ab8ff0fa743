import { checkKnownOptions, clientOptions } from './client.ts'
import { type RedisConnectionOptions, redisClient } from './connection.ts'
import { embeddedRedis } from './embedded.ts'
import type { Redis } from './redis.ts'

/**
 * The Redis the environment names: {@link redisClient} for a URL (the value of `REDIS_URL`), else,
 * when it is undefined or blank, {@link embeddedRedis}, so that the service runs with no server at all.
 * The options apply to either, except `connectTimeout`, which only a connection has.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { redisFromEnv } from 'weft/redis'
 * const redis = redisFromEnv(undefined) // in a service: redisFromEnv(process.env.REDIS_URL)
 * assert.equal(redis.address, 'embedded')
 * await redis.close()
 * ```
 */
export function redisFromEnv(
  url: string | undefined,
  options: Omit<RedisConnectionOptions, 'url'> = {},
): Redis {
  if (url !== undefined && typeof url !== 'string') {
    throw new TypeError(`redisFromEnv(): url must be a string or undefined, got ${typeof url}`)
  }
  checkKnownOptions('redisFromEnv()', options, [...clientOptions, 'connectTimeout'])
  if (url === undefined || url.trim() === '') {
    const { connectTimeout: _, ...common } = options
    return embeddedRedis(common)
  }
  return redisClient({ ...options, url: url.trim() })
}
