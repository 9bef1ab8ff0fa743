import type { IncomingHttpHeaders } from 'node:http'
import type { Dispatcher } from 'undici'
import { type BackendErrorDetails, ProtocolError } from 'weft'
import { RpcError, translate } from './errors.ts'
import type { Target } from './target.ts'

/** One HTTP request, ready to send. */
export interface Outgoing {
  method: Dispatcher.HttpMethod
  /** Path with prefix and query string. */
  path: string
  headers: Record<string, string>
  /** The JSON text of the body, or null for none. */
  body: string | null
}

/** A successful answer: its status and decoded JSON body (undefined when empty). */
export interface Answer {
  status: number
  value: unknown
}

/**
 * Sends one request over the target's pool and decodes the answer. Fails with {@link RpcError} on an
 * error status, {@link ProtocolError} when a body is not JSON, and weft's backend errors for network
 * failures. `what` names the call in error messages. Cancellation is the caller's to interpret: when
 * `signal` aborts, whatever undici rejects with is passed through.
 */
export async function exchange(
  target: Target,
  outgoing: Outgoing,
  signal: AbortSignal,
  what: string,
): Promise<Answer> {
  const details: BackendErrorDetails = { backend: 'rpc', address: target.address }
  let status: number
  let headers: IncomingHttpHeaders
  let text: string
  try {
    const response = await target.pool.request({ ...outgoing, signal })
    status = response.statusCode
    headers = response.headers
    text = await response.body.text()
  } catch (error) {
    throw signal.aborted ? error : translate(error, what, details)
  }
  if (status >= 200 && status < 300) return { status, value: decode(text, headers, status, what, details) }
  const body = decodeLoosely(text)
  throw new RpcError(`${what}: HTTP ${status}${serverMessage(body)}`, status, body, details)
}

function decode(
  text: string,
  headers: IncomingHttpHeaders,
  status: number,
  what: string,
  details: BackendErrorDetails,
): unknown {
  if (text === '') return undefined
  try {
    return JSON.parse(text)
  } catch (error) {
    const type = headers['content-type'] ?? 'no content-type'
    throw new ProtocolError(
      `${what}: HTTP ${status} answer is not JSON (${type}): ${excerpt(text)} (${(error as Error).message})`,
      { ...details, cause: error },
    )
  }
}

/** Error bodies are kept as JSON when they are JSON, as text otherwise: they are shown, not relied on. */
function decodeLoosely(text: string): unknown {
  if (text === '') return undefined
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** The server's own explanation, as fastify and most JSON APIs put it, for the error message. */
function serverMessage(body: unknown): string {
  if (typeof body === 'string') return `: ${excerpt(body)}`
  const message = (body as { message?: unknown } | null | undefined)?.message
  return typeof message === 'string' ? `: ${excerpt(message)}` : ''
}

function excerpt(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}...` : text)
}
