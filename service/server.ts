/**
 * The HTTP face of the search engine (fastify):
 *
 * - `GET /search?q=&limit=`: the pipeline's answer as JSON (results with their scores and reasons, the
 *   visitor's location and session, the trace id, what the answer lacks); the trace id is also in the
 *   `X-Trace-Id` header, and `GET /_weft/traces/:id` returns that trace's spans, or draws its
 *   waterfall for a browser (trace-ui/: also `GET /_weft/traces`, the recent requests);
 * - `GET /`: a small search page using it; `GET /healthz`: liveness.
 *
 * Every request runs in a weft scope of its own (`weftFastify`): traced, with a deadline (the caller's
 * `weft-timeout-ms`, or `REQUEST_TIMEOUT_MS`), cancelled when the client goes away. Errors are JSON
 * with a stable `code`: the request's own faults are 400s (bad `q` or `limit`, a cookie this service
 * did not sign, a malformed `X-Forwarded-For`), never 500s; over a rate limit, or without a backend
 * the answer cannot do without, a 503 with `Retry-After` that names the limiter or the backend (the
 * degradation policy is in pipeline.ts); with `MAX_IN_FLIGHT` searches running and no turn within a
 * quarter of the budget, a 503 `OVERLOADED` (admission.ts); past the deadline, a 504.
 */
import { randomUUID } from 'node:crypto'
import type { Socket } from 'node:net'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import { configureTracing, currentSignal, isAbort, type Trace, type TraceListener } from 'weft'
import { weftFastify } from 'weft/rpc'
import { Admission } from './admission.ts'
import type { Backends } from './backend-calls.ts'
import type { Config } from './config.ts'
import { InvalidIpAddress, parseIp } from './data/ip.ts'
import { BadRequest, errorBody, ServiceError } from './errors.ts'
import { acceptedLanguages } from './languages.ts'
import { fastifyLogging, observe, ServiceMetrics } from './observability/index.ts'
import { searchPage } from './page.ts'
import { type Exchange, type PipelineSettings, type SearchRequest, search } from './pipeline.ts'
import { type SessionCookies, sessionCookies } from './session.ts'
import { traceRoutes } from './trace-ui/routes.ts'
import { queryOf, type TraceStore, traceStoreFor } from './traces.ts'

/** The longest search text, in characters. */
export const maxQueryLength = 200
/** The most results a search may ask for. */
export const maxLimit = 50
const defaultLimit = 10

/** The configuration the server reads. */
export type ServerConfig = Pick<
  Config,
  | 'trustProxy'
  | 'sessionSecret'
  | 'rateLimits'
  | 'rateLimitWindow'
  | 'resultLimit'
  | 'requestTimeout'
  | 'maxInFlight'
  | 'traceCapacity'
  | 'traceRecordPerSecond'
  | 'traceSampleRate'
  | 'traceKeepPerSecond'
  | 'traceSlowMs'
>

/** Options of {@link createServer}. */
export interface ServerOptions {
  /** What the pipeline calls. */
  backends: Backends
  config: ServerConfig
  /** Where the traces of requests are kept. Default: a store of this server's own, as `config` says. */
  traces?: TraceStore
  /** The log: a level, a pino logger (see observability/logging.ts), or true for info. Default: off. */
  logger?: boolean | { level: string } | Logger
  /** Its `/metrics` (observability/metrics.ts); false for none. Default: metrics of its own. */
  metrics?: ServiceMetrics | false
  /** Receives each finished trace too (the OTLP export, observability/otlp.ts). */
  onTrace?: TraceListener
}

/** Builds the service's fastify app, not yet listening (`listen`, or `inject` in tests). */
export async function createServer(options: ServerOptions): Promise<FastifyInstance> {
  const { config, traces = traceStoreFor(config), logger = false, metrics = new ServiceMetrics() } = options
  const app = Fastify(fastifyLogging(logger)) as unknown as FastifyInstance
  const backends = observe(app, options.backends, { metrics })
  const stopTracing = traceInto(traces, options.onTrace, config.traceRecordPerSecond)
  app.addHook('onClose', async () => stopTracing())
  await app.register(weftFastify, {
    defaultDeadline: config.requestTimeout,
    maxDeadline: config.requestTimeout,
  })
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply))
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send(errorBody(404, 'NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)),
  )
  // node's HTTP server closes the connection of a CONNECT request without a word when nobody listens
  // for them (fastify does not): this service is no proxy, and says so.
  app.server.on('connect', (_request: unknown, socket: Socket) => refuseConnect(socket))

  // A search waits for its turn at most a quarter of its budget (admission.ts).
  const admission = new Admission(config.maxInFlight, config.requestTimeout / 4)
  const cookies = sessionCookies(config.sessionSecret)
  const settings: PipelineSettings = {
    rateLimits: { limits: config.rateLimits, window: config.rateLimitWindow },
    resultLimit: config.resultLimit,
    onError: (what, error) => app.log.warn({ err: error }, `side effect "${what}" failed`),
  }

  app.get('/', (_request, reply) => reply.type('text/html; charset=utf-8').send(searchPage))
  app.get('/healthz', async () => ({ status: 'ok' }))

  const answer = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const asked = searchRequest(request, config, cookies)
    await admission.run(
      () => search(backends, asked, exchange(request, reply, cookies), settings),
      currentSignal(),
    )
    return reply
  }
  app.get('/search', async (request, reply) => {
    const traceId = request.scope.span?.trace.id
    // Named as its root span would be: the request scope's name.
    if (traceId === undefined)
      return traces.untraced(request.scope.name, request.url, () => answer(request, reply))
    reply.header('x-trace-id', traceId)
    traces.begin(traceId)
    // What was searched, for the trace pages: which request was the slow one.
    request.scope.span?.setAttribute('url.query', queryOf(request.url))
    return answer(request, reply)
  })

  await app.register(traceRoutes, { traces })
  return app
}

/** The search a request asks for, checked: a 400 {@link BadRequest} for anything wrong with it. */
function searchRequest(
  request: FastifyRequest,
  config: ServerConfig,
  cookies: SessionCookies,
): SearchRequest {
  const query = request.query as Record<string, unknown>
  const q = query.q
  if (typeof q !== 'string' || q.trim() === '') {
    throw new BadRequest('INVALID_QUERY', 'give the search text as one "q" query parameter')
  }
  const text = q.trim()
  if ([...text].length > maxQueryLength) {
    throw new BadRequest('INVALID_QUERY', `q must be at most ${maxQueryLength} characters`)
  }
  if (/\p{Cc}/u.test(text)) throw new BadRequest('INVALID_QUERY', 'q must not contain control characters')
  const limitText = query.limit ?? String(defaultLimit)
  if (
    typeof limitText !== 'string' ||
    !/^\d{1,3}$/.test(limitText) ||
    +limitText < 1 ||
    +limitText > maxLimit
  ) {
    throw new BadRequest('INVALID_LIMIT', `limit must be a whole number from 1 to ${maxLimit}`)
  }
  return {
    requestId: randomUUID(),
    ip: clientAddress(request.socket.remoteAddress, request.headers['x-forwarded-for'], config.trustProxy),
    text,
    limit: Number(limitText),
    languages: acceptedLanguages(request.headers['accept-language']),
    sessionId: cookies.sessionId(request.headers.cookie),
  }
}

/**
 * The client's address: the socket's peer, or, behind `trustedHops` proxies (`TRUST_PROXY`), the
 * address the farthest trusted proxy saw, from `X-Forwarded-For` (each proxy appends its peer). The
 * header is ignored when no proxy is trusted, and refused with a 400 when any entry is not an address.
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
  trustedHops: number,
): string {
  if (trustedHops === 0 || forwardedFor === undefined) {
    if (peer === undefined)
      throw new BadRequest('INVALID_CLIENT_ADDRESS', 'the connection has no peer address')
    return parseIp(peer).address
  }
  const entries = [forwardedFor].flat().join(',').split(',')
  const addresses = entries.map((entry) => {
    try {
      return parseIp(entry.trim()).address
    } catch (error) {
      if (!(error instanceof InvalidIpAddress)) throw error
      throw new BadRequest('INVALID_CLIENT_ADDRESS', `X-Forwarded-For holds ${error.message}`)
    }
  })
  return addresses[Math.max(0, addresses.length - trustedHops)] as string
}

/** What the pipeline does to this request's reply. */
function exchange(request: FastifyRequest, reply: FastifyReply, cookies: SessionCookies): Exchange {
  return {
    setSessionCookie: (id) => {
      reply.header('set-cookie', cookies.setCookie(id, { secure: request.protocol === 'https' }))
    },
    respond: (answer) => reply.code(200).send(answer),
  }
}

function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
  if (reply.sent) return undefined
  const traceId = request.scope?.span?.trace.id
  if (traceId !== undefined) reply.header('x-trace-id', traceId)
  if (error instanceof ServiceError) {
    return reply
      .code(error.status)
      .headers(error.headers)
      .send({ ...errorBody(error.status, error.code, error.message), ...error.details })
  }
  const status = (error as { statusCode?: unknown }).statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // fastify's own refusals (a malformed URL or header): the client's fault, with fastify's code.
    const code = String((error as { code?: unknown }).code ?? 'BAD_REQUEST')
    return reply.code(status).send(errorBody(status, code, (error as Error).message))
  }
  if (isAbort(error)) {
    // Cancelled without a deadline or a client gone: the server itself is stopping.
    return reply.code(503).send(errorBody(503, 'CANCELLED', 'the request was cancelled'))
  }
  request.log.error({ err: error }, 'search failed')
  return reply.code(500).send(errorBody(500, 'INTERNAL_ERROR', 'the search failed; see the server log'))
}

/** How long a refused CONNECT's connection may stay silent before we close it (see refuseConnect). */
const connectLingerMs = 5000

function refuseConnect(socket: Socket): void {
  const body = JSON.stringify(errorBody(405, 'METHOD_NOT_ALLOWED', 'this service is not a proxy: no CONNECT'))
  socket.on('error', () => {}) // the client may be gone already; there is no one left to tell
  socket.end(
    'HTTP/1.1 405 Method Not Allowed\r\nallow: GET, HEAD\r\ncontent-type: application/json; charset=utf-8\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  )
  // A lingering close, as HTTP servers do: node's parser has let go of the socket, so nobody reads
  // what the client still sends (a CONNECT may carry a body). Unread, the client's close would never be
  // seen and the connection would hold server.close() forever (the fuzz suite found it); destroyed at
  // once, unread bytes would reset the connection and could lose the answer on its way. So discard
  // what comes until the client closes, or has been silent a while.
  socket.resume()
  socket.setTimeout(connectLingerMs, () => socket.destroy())
}

// Tracing is a process-wide setting: every server of the process shares one listener, which hands
// each trace to the stores of the servers open now; the last one to close turns it off again.
const stores = new Map<TraceStore, TraceListener | undefined>()
let restoreTracing: (() => void) | undefined

function traceInto(store: TraceStore, also: TraceListener | undefined, perSecond: number): () => void {
  stores.set(store, also)
  restoreTracing ??= configureTracing({
    enabled: true,
    perSecond,
    onTrace: (trace: Trace) => {
      for (const [each, listener] of stores) {
        each.add(trace)
        listener?.(trace)
      }
    },
  })
  return () => {
    stores.delete(store)
    if (stores.size === 0) {
      restoreTracing?.()
      restoreTracing = undefined
    }
  }
}
