/**
 * Every failure weft raises has its own class with a stable `code`, so callers branch on codes
 * (or `instanceof`), never on messages. Causes are chained through the standard `cause` property.
 */

/** Stable error codes. New codes may be added; existing ones never change meaning. */
export type WeftErrorCode =
  | 'WEFT_CANCELLED'
  | 'WEFT_DEADLINE_EXCEEDED'
  | 'WEFT_SCOPE_CLOSED'
  | 'WEFT_BACKEND_REFUSED'
  | 'WEFT_BACKEND_TIMEOUT'
  | 'WEFT_BACKEND_PROTOCOL'
  | 'WEFT_BACKEND_UNAVAILABLE'
  | 'WEFT_RPC_STATUS'
  | 'WEFT_BACKEND_QUERY'
  | 'WEFT_MIGRATION_CONFLICT'

/** Base class of every error weft raises. */
export class WeftError extends Error {
  readonly code: WeftErrorCode
  constructor(code: WeftErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}

/**
 * The time budget of a scope ran out. A scope whose own deadline fired rejects with this error; the
 * scopes and tasks nested inside it are cancelled with it as the reason.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { scope, sleep, DeadlineExceeded } from 'weft'
 * await assert.rejects(scope({ deadline: 5 }, () => sleep(1000)), DeadlineExceeded)
 * ```
 */
export class DeadlineExceeded extends WeftError {
  override name = 'DeadlineExceeded'
  /** The deadline that passed, in epoch milliseconds. */
  readonly deadline: number
  constructor(what: string, deadline: number, budget?: number) {
    super(
      'WEFT_DEADLINE_EXCEEDED',
      budget === undefined ? `${what}: deadline exceeded` : `${what}: deadline of ${budget} ms exceeded`,
    )
    this.deadline = deadline
  }
}

/**
 * A task or scope was cancelled. `reason` says why: the error of the sibling that failed, the
 * `DeadlineExceeded` of an enclosing scope, the reason its parent signal was aborted with, or the
 * reason given to `cancel()`. Its `name` is `'AbortError'`, like the errors of `fetch` and Node's
 * own APIs, so code that already recognises aborts recognises it too.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { scope, sleep, AbortError } from 'weft'
 * await scope(async (s) => {
 *   const task = s.spawn('slow', ({ signal }) => sleep(1000, { signal }))
 *   task.cancel('no longer needed')
 *   await assert.rejects(task, (error) => error instanceof AbortError && error.reason === 'no longer needed')
 * })
 * ```
 */
export class AbortError extends WeftError {
  override name = 'AbortError'
  /** Why it was cancelled (the abort reason of its signal). */
  readonly reason: unknown
  constructor(what: string, reason: unknown) {
    super('WEFT_CANCELLED', `${what} was cancelled: ${describeReason(reason)}`, { cause: reason })
    this.reason = reason
  }
}

/**
 * `spawn` was called on a scope that has already settled: structured concurrency forbids a task
 * outliving its scope, so the call is refused instead of starting an orphan.
 */
export class ScopeClosedError extends WeftError {
  override name = 'ScopeClosedError'
  constructor(scopeName: string, taskName: string) {
    super(
      'WEFT_SCOPE_CLOSED',
      `cannot spawn "${taskName}": scope "${scopeName}" has already settled (spawn inside the scope's callback, before it returns)`,
    )
  }
}

/** True when `error` means "this work was cancelled" rather than "this work failed". */
export function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error instanceof DeadlineExceeded)
}

function describeReason(reason: unknown): string {
  if (reason instanceof AbortError) return reason.message
  if (reason instanceof Error) return `${reason.name}: ${reason.message}`
  if (reason === undefined) return 'no reason given'
  return String(reason)
}

/** Which backend and which server an error is about. */
export interface BackendErrorDetails {
  /** The kind of backend: `'postgres'`, `'memcache'`, `'redis'`, `'queue'`, `'rpc'`, ... */
  backend: string
  /** The server's address (`host:port`, a URL), or a description of an embedded backend. */
  address: string
  /** The underlying error, kept as the `cause`. */
  cause?: unknown
}

/** Base class of the errors a backend adapter raises; carries the backend and its address. */
export class BackendError extends WeftError {
  readonly backend: string
  readonly address: string
  constructor(code: WeftErrorCode, message: string, details: BackendErrorDetails) {
    super(code, `${details.backend} ${details.address}: ${message}`, { cause: details.cause })
    this.backend = details.backend
    this.address = details.address
  }
}

/** The server could not be reached: connection refused, reset, or closed before answering. */
export class BackendRefused extends BackendError {
  override name = 'BackendRefused'
  constructor(message: string, details: BackendErrorDetails) {
    super('WEFT_BACKEND_REFUSED', message, details)
  }
}

/** The server did not answer within the call's time budget (its own timeout, not a scope deadline). */
export class BackendTimeout extends BackendError {
  override name = 'BackendTimeout'
  constructor(message: string, details: BackendErrorDetails) {
    super('WEFT_BACKEND_TIMEOUT', message, details)
  }
}

/** The server answered something the client cannot understand. */
export class ProtocolError extends BackendError {
  override name = 'ProtocolError'
  constructor(message: string, details: BackendErrorDetails) {
    super('WEFT_BACKEND_PROTOCOL', message, details)
  }
}

/** The client refuses to call the server for now: shard marked down, circuit open. Fails fast. */
export class BackendUnavailable extends BackendError {
  override name = 'BackendUnavailable'
  constructor(message: string, details: BackendErrorDetails) {
    super('WEFT_BACKEND_UNAVAILABLE', message, details)
  }
}
