/**
 * `weft/batch`: batching and caching.
 *
 * - {@link loader}: batched lookups with a per-request cache (DataLoader's model, with the request
 *   found from the ambient scope, and cancellation).
 * - {@link loaderStats}: loads requested vs round trips issued, per request.
 * - {@link sharedCache}: cache-aside across requests over a {@link CacheStore} (in memory:
 *   {@link memoryStore}), with single-flight loading, negative caching and stale-while-revalidate.
 */
export type { BatchContext, BatchFn, BatchResult } from './batch.ts'
export { Loader, type LoaderOptions, type LoadOptions, loader } from './loader.ts'
export {
  type GetOrLoadOptions,
  type LoadContext,
  SharedCache,
  type SharedCacheOptions,
  sharedCache,
} from './shared-cache.ts'
export { type LoaderStats, loaderStats } from './stats.ts'
export { type CacheStore, MemoryStore, type MemoryStoreOptions, memoryStore } from './store.ts'
