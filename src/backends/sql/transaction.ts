import { currentSpan } from '../../core/context.ts'
import { checkFunction } from '../../core/validate.ts'
import type { Span } from '../../trace/span.ts'
import { checkQuery, checkQueryOptions } from './checks.ts'
import type { SqlConnection } from './driver.ts'
import { cancelled, type Endpoint, QueryError, TransactionClosedError } from './errors.ts'
import {
  type Budget,
  budgetOf,
  endpointAttributes,
  type Queryable,
  type QueryOptions,
  type QueryResult,
  queryAttributes,
  runStatement,
} from './statement.ts'

/** Options of a transaction: its own signal, in place of the ambient one. */
export type NestedTransactionOptions = Pick<QueryOptions, 'signal'>

/** The statements that open and close one level of transaction. */
interface Brackets {
  readonly begin: string
  readonly commit: string
  readonly rollback: string
}

const neverAborted = new AbortController().signal

/**
 * The handle a transaction's callback receives: run its queries on it (and await them inside the
 * callback), open a nested transaction (a savepoint) with {@link tx}. Not constructed directly; see
 * `Database.tx`.
 */
export class Transaction implements Queryable {
  readonly backend: string
  readonly address: string
  readonly #connection: SqlConnection
  readonly #span: Span | undefined
  /** The transaction's explicit signal, which its queries inherit; undefined: the ambient one. */
  readonly #signal: AbortSignal | undefined
  readonly #defaultTimeout: number
  readonly #savepoints: { count: number }
  #ended = false

  /** @internal Created by `Database.tx` and {@link tx}. */
  constructor(
    endpoint: Endpoint,
    connection: SqlConnection,
    span: Span | undefined,
    signal: AbortSignal | undefined,
    defaultTimeout: number,
    savepoints: { count: number },
  ) {
    this.backend = endpoint.backend
    this.address = endpoint.address
    this.#connection = connection
    this.#span = span
    this.#signal = signal
    this.#defaultTimeout = defaultTimeout
    this.#savepoints = savepoints
  }

  /**
   * Runs a query inside the transaction. The first query also carries the `BEGIN` (in the same round
   * trip), so a transaction costs no round trip of its own. Queries of one transaction run one after
   * the other, in the order they were issued.
   *
   * @throws {TransactionClosedError} once the transaction has ended.
   */
  query<Row = Record<string, unknown>>(
    text: string,
    params: readonly unknown[] = [],
    options?: QueryOptions,
  ): Promise<QueryResult<Row>> {
    checkQuery('tx.query()', text, params, options)
    if (this.#ended) return Promise.reject(new TransactionClosedError(this))
    const budget = budgetOf(options, this.#defaultTimeout, this.#signal)
    const span = this.#span?.child('sql.query', 'client')
    if (span !== undefined) Object.assign(span.attributes, queryAttributes(this, text))
    return runStatement<Row>(
      this,
      () => Promise.resolve(this.#connection),
      () => {},
      text,
      params,
      budget,
      span,
    )
  }

  /**
   * Runs `fn` in a nested transaction: a savepoint, released when `fn` succeeds, rolled back to when
   * it fails or its scope is cancelled (the enclosing transaction goes on).
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict'
   * import { embeddedDatabase } from 'weft/sql'
   * await using db = embeddedDatabase()
   * await db.query('CREATE TABLE notes (body text)')
   * await db.tx(async (tx) => {
   *   await tx.query('INSERT INTO notes VALUES ($1)', ['kept'])
   *   await tx.tx(async (inner) => {
   *     await inner.query('INSERT INTO notes VALUES ($1)', ['undone'])
   *     throw new Error('changed my mind')
   *   }).catch(() => {})
   * })
   * const { rows } = await db.query('SELECT body FROM notes')
   * assert.deepEqual(rows, [{ body: 'kept' }])
   * ```
   */
  tx<T>(fn: (tx: Transaction) => T | PromiseLike<T>, options?: NestedTransactionOptions): Promise<T> {
    checkFunction('tx.tx()', 'fn', fn)
    checkQueryOptions('tx.tx()', options)
    if (this.#ended) return Promise.reject(new TransactionClosedError(this))
    this.#savepoints.count += 1
    const name = `weft_savepoint_${this.#savepoints.count}`
    const budget = budgetOf(options, this.#defaultTimeout, this.#signal)
    const span = this.#span?.child('sql.savepoint', 'client')
    if (span !== undefined) Object.assign(span.attributes, endpointAttributes(this))
    const nested = new Transaction(
      this,
      this.#connection,
      span,
      budget.signal,
      this.#defaultTimeout,
      this.#savepoints,
    )
    const brackets = {
      begin: `SAVEPOINT ${name}`,
      commit: `RELEASE SAVEPOINT ${name}`,
      rollback: `ROLLBACK TO SAVEPOINT ${name}`,
    }
    return transact(nested, this.#connection, brackets, budget, span, fn)
  }

  /** @internal Refuses queries from now on. */
  end(): void {
    this.#ended = true
  }
}

/** The statements of a top-level transaction with these options. */
export function topLevelBrackets(isolation: string | undefined, readOnly: boolean | undefined): Brackets {
  const modes = [
    isolation === undefined ? '' : ` ISOLATION LEVEL ${isolation.toUpperCase()}`,
    readOnly ? ' READ ONLY' : '',
  ]
  return { begin: `BEGIN${modes.join('')}`, commit: 'COMMIT', rollback: 'ROLLBACK' }
}

/**
 * Runs `fn(tx)` between `brackets.begin` and `brackets.commit`; rolls back when `fn` fails or the
 * budget's signal aborted before the commit. The opening statement is deferred to the first query:
 * a transaction that runs no query never reaches the server.
 */
export async function transact<T>(
  tx: Transaction,
  connection: SqlConnection,
  brackets: Brackets,
  budget: Budget,
  span: Span | undefined,
  fn: (tx: Transaction) => T | PromiseLike<T>,
): Promise<T> {
  const opening = connection.defer(brackets.begin)
  const endpoint: Endpoint = tx
  const close = async (text: string): Promise<string | undefined> => {
    if (connection.undefer(opening)) return undefined // never reached the server: nothing to close
    const response = await connection.run({
      text,
      params: [],
      signal: neverAborted,
      statementTimeout: undefined,
    })
    return response.command
  }
  let value: T
  try {
    value = await fn(tx)
    if (budget.signal.aborted) throw cancelled(endpoint, budget.signal.reason)
  } catch (error) {
    tx.end()
    await rollback(close, brackets.rollback, connection)
    span?.setAttribute('db.outcome', 'rollback')
    span?.finish(budget.signal.aborted ? 'cancelled' : 'error', error)
    throw error
  }
  tx.end()
  try {
    // COMMIT is never cancelled: once sent, its outcome is the truth, and it is reported.
    const command = await close(brackets.commit)
    if (command === 'ROLLBACK') {
      throw new QueryError(
        'the transaction was rolled back instead of committed: a statement in it failed',
        endpoint,
        {
          code: '25P02',
        },
      )
    }
  } catch (error) {
    span?.setAttribute('db.outcome', 'rollback')
    span?.finish('error', error)
    throw error
  }
  span?.setAttribute('db.outcome', 'commit')
  span?.finish('ok')
  return value
}

async function rollback(
  close: (text: string) => Promise<string | undefined>,
  text: string,
  connection: SqlConnection,
): Promise<void> {
  try {
    await close(text)
  } catch {
    // The rollback itself failed (the connection is gone, most likely). Closing the connection makes
    // the server roll back, and keeps it from being reused; the caller gets the original error.
    await connection.close()
  }
}

/** Opens the span of a top-level transaction. */
export function transactionSpan(endpoint: Endpoint): Span | undefined {
  return currentSpan()?.child('sql.transaction', 'client').adoptAttributes(endpointAttributes(endpoint))
}
