/**
 * The trace routes, as a fastify plugin (`app.register(traceRoutes, { traces })`):
 *
 * - `GET /_weft/traces`: the recent requests kept, slowest first; `?status=ok|error|cancelled`
 *   filters them, `?limit=` (1 to 1000, default 100) caps them;
 * - `GET /_weft/traces/:id`: one trace's spans; waits up to 2 s for a request still under way.
 *
 * Each answers JSON (`{ traces }`, `{ traceId, spans }`) unless the client prefers HTML (a browser's
 * `Accept: text/html`), which gets the list page or the waterfall page; `?format=json|html`
 * overrides the header (the answers say `Vary: Accept`). A bad parameter is a 400 and an unknown
 * trace a 404, in the service's error shape (`{ statusCode, code, error, message }`), or as a page
 * for a browser.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { errorBody } from '../errors.ts'
import { type TraceStore, traceOutcomes } from '../traces.ts'
import { escapeHtml, htmlDocument, pageFrame } from './html.ts'
import { traceListPage } from './list-page.ts'
import { waterfallPage } from './waterfall-page.ts'

/** Options of {@link traceRoutes}. */
export interface TraceRoutesOptions {
  traces: TraceStore
}

/** How long `GET /_weft/traces/:id` waits for a request still running (its trace is not complete before). */
const waitForRequestMs = 2000
const defaultListLimit = 100
const maxListLimit = 1000

/** A client error of these routes: its status and stable code. */
class TraceRouteError extends Error {
  readonly status: number
  readonly code: string
  constructor(status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

/** Registers the routes of the module comment. */
export async function traceRoutes(app: FastifyInstance, options: TraceRoutesOptions): Promise<void> {
  const { traces } = options

  app.get('/_weft/traces', async (request, reply) => {
    let html = false // a bad ?format is answered in JSON
    reply.header('vary', 'Accept')
    try {
      html = wantsHtml(request)
      const query = request.query as Record<string, unknown>
      const status = oneOf(query.status, 'status', traceOutcomes, 'INVALID_TRACE_STATUS')
      const limit = listLimit(query.limit)
      const found = traces.list({ status, limit })
      if (!html) return { traces: found }
      return sendPage(reply, 200, (frame) =>
        traceListPage(found, { status, outcomes: traceOutcomes, keeping: keeping(traces) }, frame),
      )
    } catch (error) {
      return sendError(reply, html, error)
    }
  })

  app.get<{ Params: { id: string } }>('/_weft/traces/:id', async (request, reply) => {
    let html = false
    reply.header('vary', 'Accept')
    try {
      html = wantsHtml(request)
      const { id } = request.params
      if (!/^[0-9a-f]{32}$/.test(id)) {
        throw new TraceRouteError(400, 'INVALID_TRACE_ID', 'a trace id is 32 lowercase hex digits')
      }
      const spans = await traces.get(id, waitForRequestMs)
      if (spans === undefined) {
        throw new TraceRouteError(
          404,
          'NOT_FOUND',
          `no trace ${id} here (it may have been sampled out, or forgotten)`,
        )
      }
      if (!html) return { traceId: id, spans }
      return sendPage(reply, 200, (frame) => waterfallPage(id, spans, frame))
    } catch (error) {
      return sendError(reply, html, error)
    }
  })
}

/**
 * HTML when asked by `?format=html`, or when the `Accept` header lists `text/html` before any JSON
 * type (what browsers send); JSON otherwise, so API clients sending `*\/*` or nothing keep JSON.
 */
export function wantsHtml(request: FastifyRequest): boolean {
  const format = oneOf(
    (request.query as Record<string, unknown>).format,
    'format',
    ['json', 'html'],
    'INVALID_FORMAT',
  )
  if (format !== undefined) return format === 'html'
  const accepted = String(request.headers.accept ?? '')
    .split(',')
    .map((entry) => entry.split(';'))
    .filter(
      ([, ...parameters]) => !parameters.some((parameter) => /^\s*q\s*=\s*0(?:\.0*)?\s*$/.test(parameter)),
    )
    .map(([type]) => (type ?? '').trim().toLowerCase())
  const html = accepted.indexOf('text/html')
  const json = accepted.findIndex((type) => type === 'application/json' || type.endsWith('+json'))
  return html !== -1 && (json === -1 || html < json)
}

/** `value` when it is one of `allowed`, undefined when absent; a 400 naming `name` otherwise. */
function oneOf<T extends string>(
  value: unknown,
  name: string,
  allowed: readonly T[],
  code: string,
): T | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T
  throw new TraceRouteError(
    400,
    code,
    `${name} must be one of ${allowed.join(', ')}, got ${typeof value === 'string' ? JSON.stringify(value) : 'it more than once'}`,
  )
}

function listLimit(value: unknown): number {
  if (value === undefined) return defaultListLimit
  if (typeof value === 'string' && /^\d{1,4}$/.test(value) && +value >= 1 && +value <= maxListLimit)
    return +value
  throw new TraceRouteError(400, 'INVALID_LIMIT', `limit must be a whole number from 1 to ${maxListLimit}`)
}

function keeping(traces: TraceStore): string {
  const { capacity, sampleRate, perSecond, slowMs } = traces.settings
  const share = sampleRate === 1 ? 'every request' : `${+(sampleRate * 100).toFixed(2)}% of ordinary requests`
  const sampled =
    sampleRate === 0 || perSecond === 0
      ? 'no ordinary request'
      : perSecond === Number.POSITIVE_INFINITY
        ? share
        : `${share}, at most ${perSecond} a second`
  return `Keeps the last ${capacity} traces: ${sampled}, and always the failed, the cancelled and those of ${slowMs} ms or more.`
}

function sendPage(
  reply: FastifyReply,
  status: number,
  render: (frame: ReturnType<typeof pageFrame>) => string,
) {
  const frame = pageFrame()
  return reply
    .code(status)
    .header('content-security-policy', frame.csp)
    .header('x-content-type-options', 'nosniff')
    .type('text/html; charset=utf-8')
    .send(render(frame))
}

function sendError(reply: FastifyReply, html: boolean, error: unknown): FastifyReply {
  if (!(error instanceof TraceRouteError)) throw error
  const { status, code, message } = error
  const body = errorBody(status, code, message)
  if (!html) return reply.code(status).send(body)
  const title = body.error
  return sendPage(reply, status, (frame) =>
    htmlDocument(frame, {
      title: `${title} · weft traces`,
      style: '',
      body: `<nav><a href="/_weft/traces">← recent traces</a></nav>\n<h1>${escapeHtml(title)}</h1>\n<p class="error" data-code="${escapeHtml(code)}">${escapeHtml(message)}</p>`,
    }),
  )
}
