import {
  AbortError,
  BackendError,
  BackendRefused,
  BackendTimeout,
  DeadlineExceeded,
  ProtocolError,
  WeftError,
} from '../../core/errors.ts'

/** Which server a statement ran on: what errors and spans name. */
export interface Endpoint {
  readonly backend: string
  readonly address: string
}

/** The fields PostgreSQL sends with an error (a subset of its ErrorResponse), as drivers expose them. */
interface ServerError {
  message: string
  code: string
  severity?: string
  detail?: string
  hint?: string
  position?: string
  table?: string
  column?: string
  constraint?: string
}

/**
 * The server rejected a statement: bad SQL, a constraint violated, a serialization failure. The
 * connection stays usable. `sqlState` is PostgreSQL's five-character SQLSTATE (`23505` for a unique
 * violation, `40001` for a serialization failure), to branch on; `code` stays weft's own.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { embeddedDatabase, QueryError } from 'weft/sql'
 * await using db = embeddedDatabase()
 * await assert.rejects(
 *   db.query('SELECT * FROM no_such_table'),
 *   (error) => error instanceof QueryError && error.sqlState === '42P01' && error.backend === 'pglite',
 * )
 * ```
 */
export class QueryError extends BackendError {
  override name = 'QueryError'
  /** PostgreSQL's SQLSTATE, such as `23505` (unique violation) or `42P01` (undefined table). */
  readonly sqlState: string
  /** The server's detail line, when it sent one. */
  readonly detail: string | undefined
  /** The server's hint, when it sent one. */
  readonly hint: string | undefined
  /** The constraint violated, for integrity errors. */
  readonly constraint: string | undefined
  /** The table concerned, when the server names one. */
  readonly table: string | undefined
  /** The column concerned, when the server names one. */
  readonly column: string | undefined
  /** 1-based character position of the error in the statement text, when the server gives one. */
  readonly position: number | undefined

  constructor(
    message: string,
    endpoint: Endpoint,
    server: Partial<ServerError> & { code: string },
    cause?: unknown,
  ) {
    // A code of its own: a failed statement is neither refused, timed out nor malformed, and callers
    // need to tell it apart from those.
    super('WEFT_BACKEND_QUERY', `${message} (SQLSTATE ${server.code})`, {
      ...endpoint,
      cause,
    })
    this.sqlState = server.code
    this.detail = server.detail
    this.hint = server.hint
    this.constraint = server.constraint
    this.table = server.table
    this.column = server.column
    this.position = server.position === undefined ? undefined : Number(server.position)
  }
}

/**
 * A query was issued on a transaction after it ended: every query of a transaction must run (and be
 * awaited) inside its callback. Its code is `WEFT_SCOPE_CLOSED`, as for a task spawned on a settled scope.
 */
export class TransactionClosedError extends WeftError {
  override name = 'TransactionClosedError'
  constructor(endpoint: Endpoint) {
    super(
      'WEFT_SCOPE_CLOSED',
      `${endpoint.backend} ${endpoint.address}: the transaction has already ended; run and await every query of a transaction inside its callback`,
    )
  }
}

/** The error for a call cancelled by its signal: names the backend and address, keeps the reason. */
export function cancelled(endpoint: Endpoint, reason: unknown): AbortError {
  return new AbortError(`query on ${endpoint.backend} ${endpoint.address}`, reason)
}

/** The error for a call whose deadline passed: a cancellation whose reason is `DeadlineExceeded`. */
export function deadlinePassed(endpoint: Endpoint, deadline: number): AbortError {
  const what = `query on ${endpoint.backend} ${endpoint.address}`
  return new AbortError(what, new DeadlineExceeded(what, deadline))
}

/** PostgreSQL's SQLSTATE for a statement cancelled by a cancel request or by `statement_timeout`. */
export const QUERY_CANCELED = '57014'

/**
 * True when `error` leaves the connection it came from unusable: the socket closed, a reply the client
 * could not read, or a server error that ends the session (FATAL, shutdown, connection exception).
 */
export function endsConnection(error: unknown): boolean {
  if (!isServerError(error)) return !(error instanceof TypeError || error instanceof WeftError)
  return (
    error.severity === 'FATAL' ||
    error.severity === 'PANIC' ||
    (error.code.startsWith('08') && error.code !== '08P01') ||
    /^57P0[1-3]$/.test(error.code)
  )
}

/** The SQLSTATE of a server error, or undefined for any other error. */
export function sqlStateOf(error: unknown): string | undefined {
  return isServerError(error) ? error.code : undefined
}

function isServerError(error: unknown): error is ServerError {
  if (!(error instanceof Error)) return false
  const { code, severity } = error as Error & Partial<ServerError>
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && typeof severity === 'string'
}

// Errors node-postgres raises itself (not the server) when the connection goes away.
const connectionLost =
  /Connection terminated|not queryable|Client was closed|Connection ended|connection error|ECONNRESET|EPIPE/i

/**
 * The weft error for what a driver raised during `operation` (`'connect'`, `'query'`): a new instance
 * every time, naming the backend and address, with the driver's error as `cause`.
 */
export function toSqlError(error: unknown, endpoint: Endpoint, operation: string): Error {
  if (error instanceof WeftError || error instanceof TypeError) return error
  const details = { ...endpoint, cause: error }
  if (isServerError(error)) {
    // Class 08 (connection exception) and 57P0x (server shutting down) are about the connection, not
    // the statement; but 08P01 is the server refusing a malformed message (parameters that do not
    // match the placeholders), after which the connection goes on.
    const connectionLevel =
      (error.code.startsWith('08') && error.code !== '08P01') || /^57P0[1-3]$/.test(error.code)
    if (connectionLevel || operation === 'connect') {
      return new BackendRefused(`${operation}: ${error.message} (SQLSTATE ${error.code})`, details)
    }
    return new QueryError(error.message, endpoint, error, error)
  }
  if (!(error instanceof Error)) return new ProtocolError(`${operation}: ${String(error)}`, details)
  switch ((error as NodeJS.ErrnoException).code) {
    case 'ECONNREFUSED':
      return new BackendRefused(`${operation}: connection refused`, details)
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new BackendRefused(`${operation}: cannot resolve the host`, details)
    case 'ECONNRESET':
    case 'EPIPE':
      return new BackendRefused(`${operation}: the connection was reset`, details)
    case 'ETIMEDOUT':
      return new BackendTimeout(`${operation}: the connection timed out`, details)
  }
  if (connectionLost.test(error.message)) {
    return new BackendRefused(`${operation}: the connection was lost (${error.message})`, details)
  }
  return new ProtocolError(`${operation}: ${error.message}`, details)
}
