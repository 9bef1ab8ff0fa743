import { currentSpan } from '../../core/context.ts'
import { BackendUnavailable, isAbort } from '../../core/errors.ts'
import { checkFunction } from '../../core/validate.ts'
import { checkQuery, checkQueryOptions } from './checks.ts'
import type { DriverMetrics, SqlConnection, SqlDriver } from './driver.ts'
import { cancelled } from './errors.ts'
import { Pool } from './pool.ts'
import {
  budgetOf,
  type Queryable,
  type QueryOptions,
  type QueryResult,
  queryAttributes,
  runStatement,
} from './statement.ts'
import { Transaction, topLevelBrackets, transact, transactionSpan } from './transaction.ts'

/** Options of a transaction. */
export interface TransactionOptions {
  /** Cancels the transaction (it rolls back); default: the ambient signal (and deadline). */
  signal?: AbortSignal
  /** The isolation level; default the server's (read committed). */
  isolation?: 'read committed' | 'repeatable read' | 'serializable'
  /** Refuse writes. */
  readOnly?: boolean
}

/** Counters of what went over the wire, for benchmarks and health pages. */
export interface DatabaseStats {
  /** Round trips to the server (statements pipelined together count once). */
  roundTrips: number
  /** Statements sent, weft's own included (a deferred BEGIN, COMMIT, SET statement_timeout). */
  statements: number
  /** Cancel requests sent to the server for cancelled statements. */
  cancelRequests: number
  /** Connections opened since the database was created. */
  connectionsOpened: number
  /** Connections open now, idle among them, and callers waiting for one. */
  pool: { open: number; idle: number; waiting: number }
}

/** Pool and statement settings of a {@link Database}. */
export interface PoolSettings {
  /** Connections at most (the driver may allow fewer). */
  max: number
  /** Close a connection unused this long, in ms (Infinity: never). */
  idleTimeout: number
  /** Statement timeout in ms for statements with no deadline or timeout of their own (0: none). */
  statementTimeout: number
}

const isolationLevels = new Set(['read committed', 'repeatable read', 'serializable'])

/**
 * A PostgreSQL database (a real server or the embedded PGlite) behind one interface: a pool of
 * connections, queries and transactions that follow the ambient scope, and counters.
 *
 * Every call honours the ambient signal and deadline (or explicit `options.signal`): the deadline
 * becomes the statement's server-side `statement_timeout`, and an abort cancels the statement on the
 * server and rejects at once with an `AbortError` naming the backend and address. Failures are typed:
 * `BackendRefused` (cannot connect, connection lost), `BackendTimeout` (connect timeout, a query's own
 * `timeout`), `QueryError` (the server rejected the statement; `sqlState` says why), `ProtocolError`.
 *
 * Create one with `postgres(url)`, `embeddedDatabase()` or `databaseFromEnv()`, share it for the life
 * of the process, and close it at the end (`await using` does).
 */
export class Database implements Queryable {
  /** The kind of server: `'postgres'` or `'pglite'`. */
  readonly backend: string
  /** Its address: `host:port`, or the embedded database's data directory. */
  readonly address: string
  readonly #driver: SqlDriver
  readonly #pool: Pool<SqlConnection>
  readonly #settings: PoolSettings
  readonly #counters = { roundTrips: 0, statements: 0, cancelRequests: 0, connectionsOpened: 0 }
  #closing: Promise<void> | undefined

  /** @internal Use `createDatabase`, `postgres`, `embeddedDatabase` or `databaseFromEnv`. */
  constructor(driver: SqlDriver, settings: PoolSettings) {
    this.backend = driver.backend
    this.address = driver.address
    this.#driver = driver
    this.#settings = settings
    const counters = this.#counters
    const metrics: DriverMetrics = {
      roundTrip: (statements) => {
        counters.roundTrips += 1
        counters.statements += statements
      },
      cancelRequest: () => {
        counters.cancelRequests += 1
      },
      connectionOpened: () => {
        counters.connectionsOpened += 1
      },
    }
    this.#pool = new Pool<SqlConnection>({
      create: (signal) => driver.connect(signal, metrics),
      max: Math.min(settings.max, driver.maxConnections),
      idleTimeout: settings.idleTimeout,
      closedError: () => new BackendUnavailable('the database was closed', this),
      cancelledError: (reason) => cancelled(this, reason),
    })
  }

  /**
   * Runs `text` with `params` (`$1`, `$2`, ...) on a pooled connection and returns the rows, typed
   * by the caller. Without parameters, `text` may hold several statements; the result is the last's.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict'
   * import { scope } from 'weft'
   * import { embeddedDatabase } from 'weft/sql'
   * await using db = embeddedDatabase()
   * await db.query('CREATE TABLE cities (name text, population int)')
   * await db.query('INSERT INTO cities VALUES ($1, $2), ($3, $4)', ['Lisbon', 545_000, 'Porto', 232_000])
   * const { rows } = await scope({ deadline: 5_000 }, () =>
   *   db.query<{ name: string }>('SELECT name FROM cities WHERE population > $1', [300_000]),
   * )
   * assert.deepEqual(rows, [{ name: 'Lisbon' }])
   * ```
   */
  query<Row = Record<string, unknown>>(
    text: string,
    params: readonly unknown[] = [],
    options?: QueryOptions,
  ): Promise<QueryResult<Row>> {
    checkQuery('db.query()', text, params, options)
    const budget = budgetOf(options, this.#settings.statementTimeout)
    // Attributes are built only for a traced request: the chain stops at an absent span.
    const span = currentSpan()?.child('sql.query', 'client').adoptAttributes(queryAttributes(this, text))
    const pool = this.#pool
    return runStatement<Row>(
      this,
      () => pool.acquire(budget.signal),
      (connection) => pool.release(connection),
      text,
      params,
      budget,
      span,
    )
  }

  /**
   * Runs `fn` in a transaction on one connection: COMMIT when it returns, ROLLBACK when it throws or
   * when its scope is cancelled before the commit (the caller then gets the `AbortError`). Issue and
   * await every query of the transaction inside `fn`, on `tx`: a `db.query` there runs outside the
   * transaction, on another connection, and on the embedded database (a single connection) it waits
   * for the transaction to end. The `BEGIN` travels with the first query, so a transaction adds one
   * round trip (the COMMIT) to its queries.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict'
   * import { embeddedDatabase } from 'weft/sql'
   * await using db = embeddedDatabase()
   * await db.query('CREATE TABLE accounts (id int PRIMARY KEY, balance int CHECK (balance >= 0))')
   * await db.query('INSERT INTO accounts VALUES (1, 100), (2, 0)')
   * const transfer = (amount: number) =>
   *   db.tx(async (tx) => {
   *     await tx.query('UPDATE accounts SET balance = balance + $1 WHERE id = 2', [amount])
   *     await tx.query('UPDATE accounts SET balance = balance - $1 WHERE id = 1', [amount])
   *   })
   * await transfer(60)
   * await assert.rejects(transfer(60), { sqlState: '23514' }) // check violation: rolled back
   * const { rows } = await db.query('SELECT balance FROM accounts ORDER BY id')
   * assert.deepEqual(rows, [{ balance: 40 }, { balance: 60 }])
   * ```
   */
  tx<T>(fn: (tx: Transaction) => T | PromiseLike<T>, options?: TransactionOptions): Promise<T> {
    checkFunction('db.tx()', 'fn', fn)
    checkTransactionOptions(options)
    return this.#transaction(fn, options)
  }

  async #transaction<T>(
    fn: (tx: Transaction) => T | PromiseLike<T>,
    options: TransactionOptions | undefined,
  ): Promise<T> {
    const budget = budgetOf(options, this.#settings.statementTimeout)
    const span = transactionSpan(this)
    let connection: SqlConnection
    try {
      if (budget.signal.aborted) throw cancelled(this, budget.signal.reason)
      connection = await this.#pool.acquire(budget.signal)
    } catch (error) {
      span?.finish(isAbort(error) ? 'cancelled' : 'error', error)
      throw error
    }
    try {
      const tx = new Transaction(this, connection, span, options?.signal, this.#settings.statementTimeout, {
        count: 0,
      })
      return await transact(
        tx,
        connection,
        topLevelBrackets(options?.isolation, options?.readOnly),
        budget,
        span,
        fn,
      )
    } finally {
      this.#pool.release(connection)
    }
  }

  /** Counters of round trips, statements and cancel requests so far, and the pool's state now. */
  stats(): DatabaseStats {
    return { ...this.#counters, pool: this.#pool.state }
  }

  /**
   * Closes the database: new calls fail with `BackendUnavailable`, calls waiting for a connection
   * fail, calls in flight finish; resolves once every connection (and the embedded database) is closed.
   */
  close(): Promise<void> {
    this.#closing ??= this.#pool.close().then(() => this.#driver.close())
    return this.#closing
  }

  /** `await using db = ...` closes the database at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}

function checkTransactionOptions(options: unknown): asserts options is TransactionOptions | undefined {
  checkQueryOptions('db.tx()', options)
  const { isolation, readOnly } = (options ?? {}) as TransactionOptions
  if (isolation !== undefined && !isolationLevels.has(isolation)) {
    throw new TypeError(
      `db.tx(): options.isolation must be 'read committed', 'repeatable read' or 'serializable', got ${JSON.stringify(isolation)}`,
    )
  }
  if (readOnly !== undefined && typeof readOnly !== 'boolean') {
    throw new TypeError(`db.tx(): options.readOnly must be a boolean, got ${typeof readOnly}`)
  }
}
