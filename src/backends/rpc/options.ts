import type { HedgeOptions, RetryOptions } from 'weft'
import {
  checkCount,
  checkDuration,
  checkOptions,
  checkSignal,
  checkString,
  describe,
} from '../../core/validate.ts'
import { TRACEPARENT_HEADER } from '../../trace/traceparent.ts'
import type { CircuitOptions } from './circuit.ts'
import { TIMEOUT_HEADER } from './deadline-header.ts'
import type { InProcessApp } from './target.ts'

/** How failed idempotent calls are sent again: weft's `retry` options, but for which errors (that is the client's call). */
export type RpcRetryOptions = Omit<RetryOptions, 'retryIf' | 'name'>

/** When to send a second copy of a slow idempotent call: weft's `hedge` options. */
export type RpcHedgeOptions = Omit<HedgeOptions, 'name'>

/** Options of `rpcClient`. Give `baseUrl` (a remote service) or `app` (the same service, in process). */
export interface RpcClientOptions {
  /** The service's origin and optional path prefix, such as `'http://127.0.0.1:8081/v1'`. */
  baseUrl?: string | URL
  /** The service itself, running in this process (a fastify instance): no port, the same HTTP. */
  app?: InProcessApp
  /** The service's name, shown in errors and spans. Default: none for a URL, `'in-process'` for an app. */
  name?: string
  /** Time limit of each attempt in ms; past it the attempt fails with `BackendTimeout`. Default: none. */
  timeout?: number
  /** Retry policy of idempotent calls; `false` for none. Default `{ attempts: 3 }` (weft's backoff). */
  retry?: RpcRetryOptions | false
  /** Hedge idempotent calls: a second attempt after `after` ms without an answer. Default: off. */
  hedge?: RpcHedgeOptions
  /** Fail fast after repeated server failures; `false` for never. Default `{ failures: 5, resetAfter: 5000 }`. */
  circuit?: CircuitOptions | false
  /** Headers sent with every call. */
  headers?: Record<string, string>
  /** Most connections kept open to the service. Default 64. */
  connections?: number
}

/** Values of a query string; `undefined` leaves the parameter out. */
export type QueryValue = string | number | boolean | undefined

/** Options of one call. */
export interface CallOptions {
  /**
   * Cancels the call, in addition to the ambient signal: the call behaves like a scope nested where it
   * is made, with this signal as an extra parent.
   */
  signal?: AbortSignal
  /** This call's own time budget in ms; the ambient deadline still applies when it is earlier. */
  deadline?: number
  /** Time limit of each attempt in ms, instead of the client's `timeout`. */
  timeout?: number
  /** Whether the call may be sent twice safely. Default: true for GET, HEAD, PUT, DELETE and OPTIONS. */
  idempotent?: boolean
  /** Hedge this call: `true` with the client's policy, an explicit policy, or `false` for never. */
  hedge?: boolean | RpcHedgeOptions
  /** Query string parameters, appended to the path. */
  query?: Record<string, QueryValue>
  /** Headers for this call, over the client's. */
  headers?: Record<string, string>
}

/** A call described in full, for `RpcClient.call`. */
export interface RpcRequest extends CallOptions {
  method: string
  /** Path under the base URL, starting with `/`. */
  path: string
  /** Sent as JSON. Not allowed on GET, HEAD and OPTIONS. */
  body?: unknown
}

export const methods = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const)
export type Method = typeof methods extends Set<infer M> ? M : never
/** RFC 9110, section 9.2.2: methods whose repetition has the effect of a single request. */
export const idempotentMethods: ReadonlySet<string> = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'])
const bodiless: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS'])
// Headers the client writes itself: a caller's value would contradict the call's real deadline or span.
const reserved = new Set([TIMEOUT_HEADER, TRACEPARENT_HEADER])

/** Checks the client's options and fills in defaults. */
export function clientOptions(options: RpcClientOptions): RpcClientOptions {
  const where = 'rpcClient()'
  checkOptions(where, options)
  if (options === undefined) throw new TypeError(`${where}: options must be an object, got undefined`)
  const { baseUrl, app, name, timeout, retry, hedge, circuit, headers, connections } = options
  if ((baseUrl === undefined) === (app === undefined)) {
    throw new TypeError(
      `${where}: give options.baseUrl (a URL) or options.app (an in-process app), exactly one`,
    )
  }
  if (
    app !== undefined &&
    (typeof app !== 'object' || app === null || typeof app.server?.emit !== 'function')
  ) {
    throw new TypeError(
      `${where}: options.app must be an app with a Node HTTP server (such as a fastify instance)`,
    )
  }
  if (name !== undefined) checkString(where, 'options.name', name)
  if (timeout !== undefined) checkDuration(where, 'options.timeout', timeout)
  if (retry !== undefined && retry !== false) {
    checkOptions(where, retry)
    if (retry.attempts !== undefined) checkCount(where, 'options.retry.attempts', retry.attempts, 1)
  }
  if (hedge !== undefined) checkHedge(where, 'options.hedge', hedge)
  if (circuit !== undefined && circuit !== false) {
    checkOptions(where, circuit)
    checkCount(where, 'options.circuit.failures', circuit.failures, 1)
    checkDuration(where, 'options.circuit.resetAfter', circuit.resetAfter)
  }
  if (headers !== undefined) checkHeaders(where, 'options.headers', headers)
  if (connections !== undefined) checkCount(where, 'options.connections', connections, 1)
  return options
}

/** The base URL as a URL, or a TypeError saying what is wrong with it. */
export function parseBaseUrl(baseUrl: string | URL): URL {
  const where = 'rpcClient()'
  if (typeof baseUrl !== 'string' && !(baseUrl instanceof URL)) checkString(where, 'options.baseUrl', baseUrl)
  const url = URL.parse(String(baseUrl))
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new TypeError(
      `${where}: options.baseUrl must be an http: or https: URL, got ${JSON.stringify(String(baseUrl))}`,
    )
  }
  if (url.search !== '' || url.hash !== '') {
    throw new TypeError(
      `${where}: options.baseUrl must not have a query or fragment, got ${JSON.stringify(url.href)}`,
    )
  }
  return url
}

/** Checks one call's request and returns its method in upper case. */
export function checkRequest(where: string, request: RpcRequest): Method {
  if (typeof request !== 'object' || request === null) {
    throw new TypeError(`${where}: the request must be an object, got ${describe(request)}`)
  }
  const { method, path, body, signal, deadline, timeout, idempotent, hedge, query, headers } = request
  checkString(where, 'method', method)
  const upper = method.toUpperCase() as Method
  if (!methods.has(upper)) {
    throw new TypeError(
      `${where}: method must be one of ${[...methods].join(', ')}, got ${JSON.stringify(method)}`,
    )
  }
  checkString(where, 'path', path)
  if (!path.startsWith('/') || path.includes('#')) {
    throw new TypeError(
      `${where}: path must start with "/" and have no fragment, got ${JSON.stringify(path)}`,
    )
  }
  if (body !== undefined && bodiless.has(upper)) {
    throw new TypeError(`${where}: a ${upper} call carries no body; send the data in options.query`)
  }
  if (signal !== undefined) checkSignal(where, 'options.signal', signal)
  if (deadline !== undefined) checkDuration(where, 'options.deadline', deadline)
  if (timeout !== undefined) checkDuration(where, 'options.timeout', timeout)
  if (idempotent !== undefined && typeof idempotent !== 'boolean') {
    throw new TypeError(`${where}: options.idempotent must be a boolean, got ${String(idempotent)}`)
  }
  if (hedge !== undefined && typeof hedge !== 'boolean') checkHedge(where, 'options.hedge', hedge)
  if (query !== undefined) checkQuery(where, query)
  if (headers !== undefined) checkHeaders(where, 'options.headers', headers)
  return upper
}

/** The body as JSON text, or a TypeError naming the call when it cannot be sent as JSON. */
export function jsonBody(where: string, body: unknown): string {
  let text: string | undefined
  try {
    text = JSON.stringify(body)
  } catch (error) {
    throw new TypeError(`${where}: body must be serialisable as JSON: ${(error as Error).message}`)
  }
  if (text === undefined)
    throw new TypeError(`${where}: body must be serialisable as JSON, got ${typeof body}`)
  return text
}

function checkHedge(where: string, what: string, hedge: RpcHedgeOptions): void {
  checkOptions(where, hedge)
  checkDuration(where, `${what}.after`, hedge.after)
  if (hedge.max !== undefined) checkCount(where, `${what}.max`, hedge.max, 1)
}

function checkQuery(where: string, query: Record<string, QueryValue>): void {
  checkOptions(where, query)
  for (const [key, value] of Object.entries(query)) {
    const type = typeof value
    if (value !== undefined && type !== 'string' && type !== 'number' && type !== 'boolean') {
      throw new TypeError(
        `${where}: options.query.${key} must be a string, number, boolean or undefined, got ${type === 'object' ? 'an object' : type}`,
      )
    }
  }
}

function checkHeaders(where: string, what: string, headers: Record<string, string>): void {
  checkOptions(where, headers)
  for (const [key, value] of Object.entries(headers)) {
    checkString(where, `${what}[${JSON.stringify(key)}]`, value)
    if (reserved.has(key.toLowerCase())) {
      throw new TypeError(
        `${where}: ${what} must not set "${key}": the client sends it from the ambient deadline and span`,
      )
    }
  }
}
