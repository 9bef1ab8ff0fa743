import { PGlite } from '@electric-sql/pglite'
import { createPgConfig } from '@electric-sql/pglite/node-postgres'
import pg from 'pg'
import { BackendRefused } from '../../core/errors.ts'
import type { DriverMetrics, SqlConnection, SqlDriver } from './driver.ts'
import { cancelled, toSqlError } from './errors.ts'
import { PgSession } from './session.ts'

/** Options of {@link pgliteDriver}. */
export interface PgliteDriverOptions {
  /** Where the database lives on disk; omitted, it lives in memory and vanishes on close. */
  dataDir?: string
}

/**
 * The driver for PGlite, PostgreSQL compiled to WebAssembly and run in this process.
 *
 * PGlite is one single-user session, so the driver serves one connection at a time (the pool queues
 * the rest). Statements run on the JavaScript thread: nothing can interrupt one, so cancellation drops
 * the result instead, and `statement_timeout` has no effect. The node-postgres client runs over PGlite's
 * own adapter, so parameters, result types and errors are exactly those of the real server driver.
 */
export function pgliteDriver(options: PgliteDriverOptions = {}): SqlDriver {
  return new PgliteDriver(options)
}

class PgliteDriver implements SqlDriver {
  readonly backend = 'pglite'
  readonly address: string
  readonly maxConnections = 1
  readonly #dataDir: string | undefined
  #database: Promise<PGlite> | undefined

  constructor(options: PgliteDriverOptions) {
    this.#dataDir = options.dataDir
    this.address = options.dataDir ?? 'memory://'
  }

  async connect(signal: AbortSignal, metrics: DriverMetrics): Promise<SqlConnection> {
    const endpoint = { backend: this.backend, address: this.address }
    if (signal.aborted) throw cancelled(endpoint, signal.reason)
    // Started on first use: creating the database object costs nothing until a query needs it.
    this.#database ??= PGlite.create(this.#dataDir)
    let database: PGlite
    try {
      database = await this.#database
    } catch (error) {
      this.#database = undefined
      throw new BackendRefused(`cannot open the embedded database: ${String(error)}`, {
        ...endpoint,
        cause: error,
      })
    }
    if (signal.aborted) throw cancelled(endpoint, signal.reason)
    const client = new pg.Client({ ...createPgConfig(database), pipeline: true })
    try {
      await client.connect()
    } catch (error) {
      throw toSqlError(error, endpoint, 'connect')
    }
    metrics.connectionOpened()
    return new PgSession(client, {
      endpoint,
      metrics,
      cancel: undefined,
      statementTimeouts: false,
      socket: undefined,
    })
  }

  async close(): Promise<void> {
    const database = this.#database
    this.#database = undefined
    if (database !== undefined) await (await database).close()
  }
}
