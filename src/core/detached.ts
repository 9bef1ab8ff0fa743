import { AsyncResource } from 'node:async_hooks'

/** An async context outside any request: created while this module loads, when nothing is ambient. */
const outside = new AsyncResource('weft.detached')

/**
 * Runs `fn` outside any request: the ambient scope, signal, deadline and span of the code that
 * triggered it do not apply inside, and a scope opened there starts a request of its own.
 *
 * Servers and workers need this wherever a caller in the same process reaches them without a network
 * hop (an in-process RPC, fastify's `inject`, a worker started inside a request), and for shared work
 * such as one write carrying many requests' calls: otherwise that work would nest in whichever
 * request happened to trigger it, inheriting its cancellation, deadline and trace.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { currentScope, detached, scope } from 'weft'
 * await scope(async () => {
 *   assert.notEqual(currentScope(), undefined)
 *   detached(() => assert.equal(currentScope(), undefined))
 * })
 * ```
 */
export function detached<T>(fn: () => T): T {
  return outside.runInAsyncScope(fn)
}
