import { BackendError, type BackendErrorDetails, BackendRefused, BackendTimeout, ProtocolError } from 'weft'

/**
 * The server answered with an error status (4xx or 5xx). `status` and the decoded `body` (JSON when
 * it parses, text otherwise) are kept so callers can branch on them. 5xx answers of idempotent calls
 * are retried and count towards opening the circuit; 4xx answers are the caller's fault and are
 * neither retried nor counted.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import Fastify from 'fastify'
 * import { rpcClient, RpcError } from 'weft/rpc'
 * const app = Fastify()
 * app.get('/missing', async (_request, reply) => reply.code(404).send({ message: 'no such city' }))
 * const client = rpcClient({ app, name: 'geocoder' })
 * await assert.rejects(client.get('/missing'), (error) => error instanceof RpcError && error.status === 404)
 * await client.close()
 * await app.close()
 * ```
 */
export class RpcError extends BackendError {
  override name = 'RpcError'
  /** The HTTP status code of the answer. */
  readonly status: number
  /** The answer's body: parsed JSON when it is JSON, else the text (undefined when empty). */
  readonly body: unknown
  constructor(message: string, status: number, body: unknown, details: BackendErrorDetails) {
    super('WEFT_RPC_STATUS', message, details)
    this.status = status
    this.body = body
  }
}

/**
 * Whether a failure says something about the server's health: it was unreachable, too slow, or failed
 * on its side. The circuit counts these, and idempotent calls are retried after them; 4xx answers,
 * protocol errors and cancellations are final.
 */
export function isServerFailure(error: unknown): boolean {
  return (
    error instanceof BackendRefused ||
    error instanceof BackendTimeout ||
    (error instanceof RpcError && error.status >= 500)
  )
}

/**
 * Whether the request certainly never reached the server (the connection itself was refused or timed
 * out), so that sending it again is safe even when it is not idempotent, as gRPC's transparent retry.
 */
export function neverSent(error: unknown): boolean {
  if (!(error instanceof BackendError)) return false
  const code = (error.cause as { code?: unknown } | undefined)?.code
  return code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT'
}

// Codes of failures to reach the server or keep the connection: the server is down or went away.
const unreachable = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
])
const timedOut = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
])
const malformed = new Set([
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_HEADERS_OVERFLOW',
  'UND_ERR_RES_EXCEEDED_MAX_SIZE',
])

/**
 * Translates an error of the HTTP client into weft's error for it, naming the call (`what`) and the
 * server. Errors it does not recognise (programming errors) are returned unchanged.
 */
export function translate(
  error: unknown,
  what: string,
  details: Omit<BackendErrorDetails, 'cause'>,
): unknown {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code !== 'string') return error
  const reason = error instanceof Error ? error.message : String(error)
  const withCause = { ...details, cause: error }
  if (unreachable.has(code))
    return new BackendRefused(`${what}: ${describeUnreachable(code, reason)}`, withCause)
  if (timedOut.has(code)) return new BackendTimeout(`${what}: ${reason}`, withCause)
  if (malformed.has(code) || code.startsWith('HPE_'))
    return new ProtocolError(`${what}: malformed HTTP response (${reason})`, withCause)
  return error
}

function describeUnreachable(code: string, reason: string): string {
  if (code === 'ECONNREFUSED') return 'connection refused'
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `host not found (${reason})`
  return `connection lost (${reason})`
}
