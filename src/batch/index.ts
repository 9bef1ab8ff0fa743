/**
 * `weft/batch`: batching and caching.
 *
 * - {@link loader}: batched lookups with a per-request cache (DataLoader's model, with the request
 *   found from the ambient scope, and cancellation).
 * - {@link loaderStats}: loads requested vs round trips issued, per request.
 */
export type { BatchContext, BatchFn, BatchResult } from './batch.ts'
export { Loader, type LoaderOptions, type LoadOptions, loader } from './loader.ts'
export { type LoaderStats, loaderStats } from './stats.ts'
