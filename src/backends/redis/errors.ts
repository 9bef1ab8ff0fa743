import {
  type BackendErrorDetails,
  BackendRefused,
  BackendTimeout,
  BackendUnavailable,
  ProtocolError,
} from '../../core/errors.ts'
import { describe } from '../../core/validate.ts'

/** An error reply of the server (`-WRONGTYPE ...`), as the embedded server raises it; ioredis's has the same name. */
export class ReplyError extends Error {
  override name = 'ReplyError'
}

/** A reply of a shape the command never returns. */
export class UnexpectedReply extends Error {
  override name = 'UnexpectedReply'
  constructor(reply: unknown) {
    super(`unexpected reply ${describe(reply)}`)
  }
}

/** Why commands cannot be written, as a transport's `ready()` reports it. */
export class NotConnected extends Error {
  override name = 'NotConnected'
  /** `failed`: the connection attempt failed; `reconnecting`: the last one did, the next is pending; `closed`. */
  readonly state: 'failed' | 'reconnecting' | 'closed'
  constructor(state: 'failed' | 'reconnecting' | 'closed', cause?: unknown) {
    super(state, { cause })
    this.state = state
  }
}

/**
 * The weft error for what went wrong with `operation`: a new instance for every call, so that no two
 * callers share (and annotate) one error object.
 */
export function toRedisError(
  error: unknown,
  operation: string,
  details: Omit<BackendErrorDetails, 'cause'>,
): Error {
  const at = { ...details, cause: error }
  if (error instanceof NotConnected) return notConnected(error, operation, details)
  if (!(error instanceof Error)) return new ProtocolError(`${operation}: ${describe(error)}`, at)
  switch (error.name) {
    case 'ReplyError':
    case 'UnexpectedReply':
      return new ProtocolError(`${operation}: ${error.message}`, at)
    case 'ParserError':
      return new ProtocolError(`${operation}: cannot parse the reply: ${error.message}`, at)
    // ioredis rejects commands still waiting for their reply when the connection closes.
    case 'MaxRetriesPerRequestError':
    case 'AbortError':
      return new BackendRefused(`${operation}: the connection was lost before the reply`, at)
    default:
      return /closed|writeable/i.test(error.message)
        ? new BackendRefused(`${operation}: not connected (${error.message})`, at)
        : new ProtocolError(`${operation}: ${error.message}`, at)
  }
}

function notConnected(
  error: NotConnected,
  operation: string,
  details: Omit<BackendErrorDetails, 'cause'>,
): Error {
  const cause = error.cause
  const at = { ...details, cause }
  const why = cause instanceof Error ? cause.message : 'no reason given'
  switch (error.state) {
    case 'closed':
      return new BackendUnavailable(`${operation}: the client is closed`, at)
    case 'reconnecting':
      return new BackendUnavailable(
        `${operation}: not connected, reconnecting in the background (last attempt: ${why})`,
        at,
      )
    default:
      return (cause as { code?: unknown } | undefined)?.code === 'ETIMEDOUT'
        ? new BackendTimeout(`${operation}: connecting timed out (${why})`, at)
        : new BackendRefused(`${operation}: cannot connect (${why})`, at)
  }
}
