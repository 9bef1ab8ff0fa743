/**
 * The service's logs: pino (fastify's own logger), JSON lines. One line per request, at info, when
 * its response is sent (method, route, status, duration, trace and span ids), instead of fastify's two
 * default lines; anything logged from inside a request (the pipeline's warnings about side effects
 * that failed) carries the request's trace id and the span it was logged from. Backend calls log
 * nothing: their timings are in the trace and the metrics.
 */
import { type FastifyReply, type FastifyRequest, type FastifyServerOptions, LogController } from 'fastify'
import { type DestinationStream, type Logger, pino } from 'pino'
import { currentSpan } from 'weft'
import { ConfigError } from '../config.ts'

/** pino's levels, most verbose first; `silent` logs nothing. */
export const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const

/** Options of {@link serviceLogger}. */
export interface LoggerOptions {
  /** The least severe level written. Default `info`. */
  level?: string
  /** Where lines go. Default stdout. */
  destination?: DestinationStream
}

/**
 * A pino logger whose every line logged inside a traced request carries `traceId` and `spanId`.
 *
 * @throws {ConfigError} naming `LOG_LEVEL` when `level` is not one of {@link logLevels}.
 */
export function serviceLogger(options: LoggerOptions = {}): Logger {
  const { level = 'info', destination } = options
  if (!(logLevels as readonly string[]).includes(level)) {
    throw new ConfigError('LOG_LEVEL', `one of ${logLevels.join(', ')}`, level)
  }
  return pino({ level, mixin: traceFields }, destination)
}

/** Runs for lines that pass the level check only, so a debug line below the level costs nothing here. */
function traceFields(): { traceId?: string; spanId?: string } {
  const span = currentSpan()
  return span === undefined ? {} : { traceId: span.trace.id, spanId: span.spanId }
}

/**
 * fastify's logging options for `logger`: a pino logger of the service's own (a level, or `true` for
 * info) writing one line per request (see {@link OneLinePerRequest}), or none.
 */
export function fastifyLogging(
  logger: boolean | { level: string } | Logger,
): Pick<FastifyServerOptions, 'logger' | 'loggerInstance' | 'logController'> {
  if (logger === false) return { logger: false }
  const instance =
    logger === true
      ? serviceLogger()
      : 'child' in logger
        ? (logger as Logger)
        : serviceLogger({ level: logger.level })
  return { loggerInstance: instance, logController: new OneLinePerRequest() }
}

/**
 * fastify's request logging, as one line per request at info when its response is sent (fastify's
 * default is two: on arrival and on completion): method, route pattern, URL, status, duration in ms,
 * and the request's trace and span ids when it is traced. A response that failed mid-stream is one
 * line at error instead.
 */
export class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const span = request.scope?.span
    const line = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      url: request.url,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100,
      ...(span !== undefined && { traceId: span.trace.id, spanId: span.spanId }),
    }
    if (error) request.log.error({ ...line, err: error }, 'request failed')
    else request.log.info(line, 'request')
  }
}
