/**
 * `weft/rpc`: JSON calls between services over HTTP (undici), carrying the deadline and the trace,
 * with retries of idempotent calls, hedging and a circuit breaker; and `weftFastify`, the server side
 * that runs each request in a scope with the caller's deadline.
 *
 * The embedded default is the same service in process: `rpcClient({ app })` instead of
 * `rpcClient({ baseUrl })`, so `npm start` needs no port for the geocoder. It is not a shortcut
 * around HTTP: each connection is an in-memory stream pair handed to the app's own HTTP server, so
 * both HTTP/1.1 parsers, the headers, keep-alive and cancellation (closing the connection) are the
 * ones used over the network, and the contract tests run unchanged against both. fastify's `inject`
 * was the other candidate: it does not tell the handler when the caller gives up, and it bypasses
 * connection handling, so the two transports would have behaved differently where it matters.
 */

export { TRACEPARENT_HEADER, type TraceParent } from '../../trace/traceparent.ts'
export type { CircuitOptions, CircuitState } from './circuit.ts'
export { RpcClient, rpcClient } from './client.ts'
export { TIMEOUT_HEADER } from './deadline-header.ts'
export { rpcClientFromEnv } from './env.ts'
export { RpcError } from './errors.ts'
export type {
  CallOptions,
  QueryValue,
  RpcClientOptions,
  RpcHedgeOptions,
  RpcRequest,
  RpcRetryOptions,
} from './options.ts'
export { type WeftFastifyOptions, weftFastify } from './server.ts'
export type { InProcessApp } from './target.ts'
