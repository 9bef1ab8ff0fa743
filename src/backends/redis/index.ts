/**
 * `weft/redis`: Redis for request handlers. One interface ({@link Redis}), a real client over ioredis
 * with auto-pipelining ({@link redisClient}), an in-process one with the same behaviour
 * ({@link embeddedRedis}), {@link redisFromEnv} to pick between them, and {@link keysLoader}, batched
 * reads of many keys (one `MGET` per turn) with a per-request cache. Every call honours the
 * ambient cancellation signal and deadline, is traced as a `client` span, and fails with weft's
 * backend errors.
 */

export type { RedisClientOptions } from './client.ts'
export { type RedisConnectionOptions, redisClient } from './connection.ts'
export { type EmbeddedRedisOptions, embeddedRedis } from './embedded.ts'
export { redisFromEnv } from './env.ts'
export { type KeysLoaderOptions, keysLoader } from './loader.ts'
export type { IncrOptions, Redis, SetOptions } from './redis.ts'
