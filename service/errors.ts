/**
 * The answers the service gives instead of results, each a class with an HTTP status and a stable
 * `code` that clients branch on (never on the message). The server turns them into JSON:
 * `{ statusCode, code, error, message, ...details }`.
 */
import { STATUS_CODES } from 'node:http'
import type { LimiterName } from './config.ts'

/** The JSON body of every error answer of the service: `{ statusCode, code, error, message }`. */
export function errorBody(status: number, code: string, message: string) {
  return { statusCode: status, code, error: STATUS_CODES[status] ?? 'Error', message }
}

/** Stable codes of the service's error answers. */
export type ServiceErrorCode =
  | 'INVALID_QUERY'
  | 'INVALID_LIMIT'
  | 'INVALID_SESSION_COOKIE'
  | 'INVALID_CLIENT_ADDRESS'
  | 'RATE_LIMITED'
  | 'BACKEND_UNAVAILABLE'
  | 'OVERLOADED'

/** Base class: an answer with a status, a code, and details that go into the JSON body. */
export class ServiceError extends Error {
  readonly status: number
  readonly code: ServiceErrorCode
  /** Extra fields of the JSON body. */
  readonly details: Readonly<Record<string, string | number>>
  /** Extra response headers (Retry-After). */
  readonly headers: Readonly<Record<string, string>>
  constructor(
    status: number,
    code: ServiceErrorCode,
    message: string,
    extra: {
      details?: Record<string, string | number>
      headers?: Record<string, string>
      cause?: unknown
    } = {},
  ) {
    super(message, { cause: extra.cause })
    this.status = status
    this.code = code
    this.details = extra.details ?? {}
    this.headers = extra.headers ?? {}
  }
}

/** The request itself is wrong: a 400 naming what. */
export class BadRequest extends ServiceError {
  override name = 'BadRequest'
  constructor(
    code: Extract<
      ServiceErrorCode,
      'INVALID_QUERY' | 'INVALID_LIMIT' | 'INVALID_SESSION_COOKIE' | 'INVALID_CLIENT_ADDRESS'
    >,
    message: string,
  ) {
    super(400, code, message)
  }
}

/**
 * A rate limiter refused the request: 503 with `Retry-After` (seconds until the limiter's window
 * ends), naming the limiter.
 */
export class OverLimit extends ServiceError {
  override name = 'OverLimit'
  readonly limiter: LimiterName
  readonly retryAfter: number
  constructor(limiter: LimiterName, limit: number, retryAfter: number) {
    super(
      503,
      'RATE_LIMITED',
      `over the ${limiter} rate limit of ${limit} requests; retry in ${retryAfter} s`,
      {
        details: { limiter, retryAfter },
        headers: { 'retry-after': String(retryAfter) },
      },
    )
    this.limiter = limiter
    this.retryAfter = retryAfter
  }
}

/**
 * A backend the answer cannot do without failed or did not answer in time: 503 naming it, with a
 * short `Retry-After`. See the degradation policy in pipeline.ts for which backends those are.
 */
export class BackendDown extends ServiceError {
  override name = 'BackendDown'
  readonly backend: string
  constructor(backend: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause)
    super(503, 'BACKEND_UNAVAILABLE', `the ${backend} is unavailable: ${why}`, {
      details: { backend },
      headers: { 'retry-after': '1' },
      cause,
    })
    this.backend = backend
  }
}

/**
 * The server runs as many searches as it takes (`MAX_IN_FLIGHT`), and this one waited `waited` ms
 * for its turn without getting one (admission.ts): 503 with `Retry-After: 1`, before any work.
 */
export class Overloaded extends ServiceError {
  override name = 'Overloaded'
  constructor(limit: number, waited: number) {
    super(503, 'OVERLOADED', `the server is running ${limit} searches; none ended within ${waited} ms`, {
      details: { limit },
      headers: { 'retry-after': '1' },
    })
  }
}
