import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify'
import { clock, DeadlineExceeded, type Scope, type ScopeOptions, scope } from 'weft'
import { detached } from '../../core/detached.ts'
import { checkDuration, checkOptions } from '../../core/validate.ts'
import { parseTraceparent, TRACEPARENT_HEADER, type TraceParent } from '../../trace/traceparent.ts'
import { parseTimeout, TIMEOUT_HEADER } from './deadline-header.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The request's scope (set by `weftFastify` for the handlers of the routes registered after it):
     * spawn the request's tasks in it. It carries the caller's deadline and is cancelled when the
     * caller goes away.
     */
    scope: Scope
  }
}

/** Options of {@link weftFastify}. */
export interface WeftFastifyOptions {
  /** Longest budget a caller may give a request, in ms; a longer `weft-timeout-ms` is cut to it. Default 60,000. */
  maxDeadline?: number
  /** Budget of a request that arrives without a deadline, in ms. Default: none. */
  defaultDeadline?: number
}

/** What the request's headers said, read as soon as it arrives (its budget runs from then). */
interface Arrival {
  deadlineAt: number | undefined
  parent: TraceParent | undefined
}

const arrivals = new WeakMap<FastifyRequest, Arrival>()
const scoped = Symbol('weft scoped handler')

/**
 * A fastify plugin that runs each route's handler in a weft scope of its own, the request's scope:
 *
 * - its deadline is the caller's (`weft-timeout-ms`, cut to `maxDeadline`; `defaultDeadline` when
 *   absent), counted from the request's arrival; once it passes, the request's work is cancelled and
 *   the caller gets a 504 at once, whether or not the handler has returned;
 * - it is cancelled when the caller closes the connection (it gave up, or its deadline passed first);
 * - it continues the caller's trace: a sampled W3C `traceparent` makes the request traced;
 * - inside the handler, the ambient signal, deadline and span are the request's, so every weft
 *   adapter the handler calls inherits them; `request.scope` spawns tasks in it.
 *
 * A malformed `weft-timeout-ms` is refused with 400. Register the plugin before the routes: only the
 * routes registered after it are wrapped.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import Fastify from 'fastify'
 * import { remaining } from 'weft'
 * import { weftFastify } from 'weft/rpc'
 * const app = Fastify()
 * await app.register(weftFastify, { maxDeadline: 10_000 })
 * app.get('/budget', async () => ({ left: remaining() }))
 * const response = await app.inject({ url: '/budget', headers: { 'weft-timeout-ms': '250' } })
 * assert.ok(response.json().left <= 250)
 * await app.close()
 * ```
 */
export async function weftFastify(app: FastifyInstance, options: WeftFastifyOptions = {}): Promise<void> {
  checkOptions('weftFastify()', options)
  const { maxDeadline = 60_000, defaultDeadline } = options
  checkDuration('weftFastify()', 'options.maxDeadline', maxDeadline)
  if (defaultDeadline !== undefined)
    checkDuration('weftFastify()', 'options.defaultDeadline', defaultDeadline)

  app.decorateRequest('scope', null as unknown as Scope)
  app.addHook('onRequest', (request, reply, done) => {
    let budget: number | undefined
    try {
      budget = parseTimeout(request.headers[TIMEOUT_HEADER]) ?? defaultDeadline
    } catch (error) {
      sendError(reply, 400, 'WEFT_BAD_DEADLINE', (error as Error).message)
      return
    }
    arrivals.set(request, {
      deadlineAt: budget === undefined ? undefined : clock().now() + Math.min(budget, maxDeadline),
      parent: parseTraceparent(request.headers[TRACEPARENT_HEADER]),
    })
    done()
  })
  app.addHook('onRoute', (route) => {
    route.handler = inScope(route.handler as RouteHandlerMethod)
  })
}
// Hooks of a plugin apply to the whole app, not only to what the plugin itself registers.
Object.assign(weftFastify, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'weft',
})

/** Wraps a route's handler so that it runs as the callback of the request's scope. */
function inScope(handler: RouteHandlerMethod): RouteHandlerMethod {
  if ((handler as { [scoped]?: true })[scoped]) return handler // fastify derives HEAD routes from GET ones
  const wrapped = async function (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
    const arrival = arrivals.get(request)
    const gone = new AbortController()
    // A connection that closes before the answer is a caller gone: its work stops. Once the answer
    // is written (`writableEnded`, not `writableFinished`: whether the socket has flushed it yet is
    // the kernel's timing, and fastify's inject never flushes), what the handler left running is the
    // service's own work, and finishes.
    const onClose = (): void => {
      if (!reply.raw.writableEnded)
        gone.abort(new DOMException('the client closed the connection', 'AbortError'))
    }
    reply.raw.once('close', onClose)
    const options: ScopeOptions = {
      name: `${request.method} ${request.routeOptions.url ?? request.url}`,
      signal: gone.signal,
      ...(arrival?.deadlineAt !== undefined && { deadlineAt: arrival.deadlineAt }),
      kind: 'server',
      ...(arrival?.parent?.sampled && { traceParent: arrival.parent }),
    }
    try {
      // The request is a request of its own, even when its caller runs in this process (fastify's
      // inject, an in-process client): its scope is outermost, and its deadline and trace come
      // from the headers alone.
      return await detached(() => scope(options, (s) => serve(s, handler.bind(this), request, reply)))
    } catch (error) {
      // The caller was told already (504 at the deadline) or is no longer there to be told.
      if (reply.sent || gone.signal.aborted) return undefined
      if (error instanceof DeadlineExceeded) return deadlinePassed(reply, error)
      throw error
    } finally {
      reply.raw.removeListener('close', onClose)
    }
  }
  return Object.assign(wrapped, { [scoped]: true as const })
}

/** The body of the request's scope: the handler, and the 504 as soon as the deadline passes. */
async function serve(
  s: Scope,
  handler: (request: FastifyRequest, reply: FastifyReply) => unknown,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<unknown> {
  request.scope = s
  const onAbort = (): void => {
    if (s.signal.reason instanceof DeadlineExceeded && !reply.sent) deadlinePassed(reply, s.signal.reason)
  }
  s.signal.addEventListener('abort', onAbort, { once: true })
  try {
    const result = handler(request, reply)
    // A callback-style handler answers later through reply.send: the request lasts until it does.
    return result === undefined && !reply.sent ? await reply : await result
  } finally {
    s.signal.removeEventListener('abort', onAbort)
  }
}

function deadlinePassed(reply: FastifyReply, error: DeadlineExceeded): FastifyReply {
  return sendError(reply, 504, error.code, error.message)
}

/** An error answer in fastify's own format, plus weft's stable code. */
function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply
    .code(status)
    .send({ statusCode: status, code, error: status === 504 ? 'Gateway Timeout' : 'Bad Request', message })
}
