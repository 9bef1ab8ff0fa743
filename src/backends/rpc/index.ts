/**
 * `weft/rpc`: JSON calls between services over HTTP (undici), carrying the deadline and the trace,
 * with retries of idempotent calls, hedging and a circuit breaker; and `weftFastify`, the server side
 * that runs each request in a scope with the caller's deadline. A client targets a remote service by
 * URL or the same service in process (`app`): the embedded default needs no port.
 */
export type { CircuitOptions, CircuitState } from './circuit.ts'
export { RpcClient, rpcClient } from './client.ts'
export { TIMEOUT_HEADER } from './deadline-header.ts'
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
export { TRACEPARENT_HEADER, type TraceParent } from './traceparent.ts'
