/**
 * `weft/memcache`: sharded memcached with consistent hashing, per-turn multi-get batches, deadlines,
 * cancellation and tracing; an embedded in-process default with the same behaviour; a store for
 * `weft/batch`'s shared cache.
 */
export { MemcacheStore, type MemcacheStoreOptions, memcacheStore } from './cache-store.ts'
export { type EmbeddedMemcacheOptions, embeddedMemcache } from './embedded.ts'
export { type MemcacheFromEnvOptions, memcacheFromEnv } from './from-env.ts'
export { KetamaRing, type RingServer } from './ketama.ts'
export type {
  CallOptions,
  CounterOptions,
  KeyEncoding,
  Memcache,
  MemcacheItem,
  MemcacheOptions,
  MemcacheShardStats,
  MemcacheValue,
  ShardState,
  StoreOptions,
} from './memcache.ts'
export { type MemcacheClientOptions, memcacheClient, type WeightedServer } from './memcache-client.ts'
