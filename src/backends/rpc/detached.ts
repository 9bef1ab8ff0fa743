import { AsyncResource } from 'node:async_hooks'

/**
 * An async context outside any request: created while this module loads, so it carries no ambient
 * scope, signal, deadline or span.
 */
const outside = new AsyncResource('weft.rpc.detached')

/**
 * Runs `fn` outside any request, so that the ambient context of the code that triggered it does not
 * leak into it. A server needs this wherever a caller in the same process reaches it without a
 * network hop: Node's HTTP server runs the requests of a connection in the async context the
 * connection arrived in, and fastify's `inject` runs a request in its caller's. The server's request
 * scope would then nest in the caller's, inheriting its signal, deadline and trace directly instead
 * of receiving them over HTTP.
 */
export function detached<T>(fn: () => T): T {
  return outside.runInAsyncScope(fn)
}
