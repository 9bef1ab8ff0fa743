/**
 * weft: one asynchronous model for every backend a request handler talks to.
 *
 * - `weft` (this module): structured concurrency (scopes, tasks, deadlines, cancellation and the
 *   combinators built on them) and tracing.
 * - `weft/testing`: the virtual clock and fault injection.
 */
export * from './core/index.ts'
export * from './trace/index.ts'
