/**
 * One statement, from a caller's options and ambient scope to a result or a weft error: what
 * `Database.query` and `Transaction.query` share.
 */
import { clock } from '../../core/clock.ts'
import { currentDeadline, currentSignal } from '../../core/context.ts'
import { BackendTimeout, isAbort } from '../../core/errors.ts'
import type { AttributeValue, Span } from '../../trace/span.ts'
import type { SqlConnection } from './driver.ts'
import { cancelled, deadlinePassed, type Endpoint, QUERY_CANCELED, sqlStateOf, toSqlError } from './errors.ts'

/** Options of one query. */
export interface QueryOptions {
  /**
   * Cancels the query (on the server where possible). Default: the ambient signal. Given explicitly,
   * it replaces the ambient scope altogether: the ambient deadline no longer applies either.
   */
  signal?: AbortSignal
  /**
   * An absolute deadline (epoch ms of weft's clock) in place of the ambient one, such as a batch
   * function's `deadline`: it becomes the statement timeout, and a statement the server stops at it
   * fails with a `DeadlineExceeded` cancellation. Pass the matching `signal` too.
   */
  deadlineAt?: number
  /**
   * A server-side statement timeout for this query, in ms: the server stops the statement when it
   * runs longer, and the query fails with `BackendTimeout`. The ambient deadline applies as well
   * (the earlier wins). Not enforced by the embedded database, which cannot interrupt a statement.
   */
  timeout?: number
}

/** What a query returned. */
export interface QueryResult<Row> {
  /** The rows, typed by the caller (`db.query<User>(...)`): weft does not check the shape. */
  rows: Row[]
  /** Rows returned, or rows affected by INSERT, UPDATE, DELETE. */
  rowCount: number
}

/** Anything queries can run on: a database, or a transaction. */
export interface Queryable {
  /** The kind of server: `'postgres'`, `'pglite'`. */
  readonly backend: string
  /** Its address: `host:port`, or the embedded database's data directory. */
  readonly address: string
  /**
   * Runs `text` with `params` as `$1`, `$2`, ... Without parameters, `text` may hold several
   * statements (the result is the last one's).
   */
  query<Row = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<Row>>
}

/** The cancellation and time budget a call runs under. */
export interface Budget {
  readonly signal: AbortSignal
  /** Epoch ms, or undefined. */
  readonly deadline: number | undefined
  /** A statement timeout in ms asked for explicitly or by default (0: none). */
  readonly timeout: number
}

/**
 * The budget of a call: its explicit signal (or `fallback`, or the ambient one with the ambient
 * deadline), its explicit deadline, and its explicit timeout or `defaultTimeout`.
 */
export function budgetOf(
  options: QueryOptions | undefined,
  defaultTimeout: number,
  fallback?: AbortSignal,
): Budget {
  const explicit = options?.signal ?? fallback
  return {
    signal: explicit ?? currentSignal(),
    deadline: options?.deadlineAt ?? (explicit === undefined ? currentDeadline() : undefined),
    timeout: options?.timeout ?? defaultTimeout,
  }
}

/** The statement timeout to send now (0: none), and whether it is the deadline's. */
interface Limit {
  readonly ms: number
  readonly fromDeadline: boolean
}

function limitOf(budget: Budget, endpoint: Endpoint): Limit {
  if (budget.deadline === undefined) return { ms: budget.timeout, fromDeadline: false }
  const left = budget.deadline - clock().now()
  if (left <= 0) throw deadlinePassed(endpoint, budget.deadline)
  // Rounded up: the server starts counting when the statement arrives, so it never fires before the
  // deadline, and the caller's own deadline (which sends a cancel request) normally wins.
  const ms = Math.ceil(left)
  return budget.timeout > 0 && budget.timeout <= ms
    ? { ms: budget.timeout, fromDeadline: false }
    : { ms, fromDeadline: true }
}

/** Longest statement text recorded on a span. */
const STATEMENT_SPAN_LENGTH = 500

/** The attributes of every span about `endpoint`. */
export function endpointAttributes(endpoint: Endpoint): Record<string, AttributeValue> {
  return { 'db.system': 'postgresql', 'weft.backend': endpoint.backend, 'server.address': endpoint.address }
}

/** The attributes of a query span. */
export function queryAttributes(endpoint: Endpoint, text: string): Record<string, AttributeValue> {
  return { ...endpointAttributes(endpoint), 'db.statement': text.slice(0, STATEMENT_SPAN_LENGTH) }
}

/**
 * Runs one statement on a connection obtained by `connect` (which may wait for the pool) and
 * records it on `span`; every failure becomes a weft error naming the backend and address.
 */
export async function runStatement<Row>(
  endpoint: Endpoint,
  connect: () => Promise<SqlConnection>,
  release: (connection: SqlConnection) => void,
  text: string,
  params: readonly unknown[],
  budget: Budget,
  span: Span | undefined,
): Promise<QueryResult<Row>> {
  let limit: Limit | undefined
  try {
    if (budget.signal.aborted) throw cancelled(endpoint, budget.signal.reason)
    const connection = await connect()
    try {
      limit = limitOf(budget, endpoint)
      if (limit.ms > 0) span?.setAttribute('db.statement_timeout', limit.ms)
      const response = await connection.run({
        text,
        params,
        signal: budget.signal,
        statementTimeout: limit.ms,
      })
      span?.setAttribute('db.rows', response.rowCount)
      if (response.bytesReceived !== undefined)
        span?.setAttribute('db.bytes_received', response.bytesReceived)
      if (response.bytesSent !== undefined) span?.setAttribute('db.bytes_sent', response.bytesSent)
      span?.finish('ok')
      return { rows: response.rows as Row[], rowCount: response.rowCount }
    } finally {
      release(connection)
    }
  } catch (error) {
    const failure = translate(error, endpoint, budget, limit)
    span?.finish(isAbort(failure) ? 'cancelled' : 'error', failure)
    throw failure
  }
}

/** The weft error for a failed statement, telling a cancellation or a timeout from a failure. */
export function translate(error: unknown, endpoint: Endpoint, budget: Budget, limit?: Limit): Error {
  if (budget.signal.aborted)
    return isAbort(error) ? (error as Error) : cancelled(endpoint, budget.signal.reason)
  if (limit !== undefined && limit.ms > 0 && sqlStateOf(error) === QUERY_CANCELED) {
    if (limit.fromDeadline && budget.deadline !== undefined) return deadlinePassed(endpoint, budget.deadline)
    return new BackendTimeout(`query: the statement ran longer than its ${limit.ms} ms timeout`, {
      ...endpoint,
      cause: error,
    })
  }
  return toSqlError(error, endpoint, 'query')
}
