/** The ways to open a {@link Database}: a server URL, the embedded database, or the environment. */
import { checkCount, checkDuration, checkOptions, checkString, describe } from '../../core/validate.ts'
import { Database, type PoolSettings } from './database.ts'
import type { SqlDriver } from './driver.ts'
import { type PgliteDriverOptions, pgliteDriver } from './pglite-driver.ts'
import { postgresDriver } from './postgres-driver.ts'

/** Pool and statement options, for any database. */
export interface DatabaseOptions {
  /** Connections at most. Default 10 (the embedded database always has one). */
  max?: number
  /** Close a connection left unused this long, in ms. Default 30 000; Infinity keeps them. */
  idleTimeout?: number
  /**
   * Server-side statement timeout in ms for statements with no deadline and no `timeout` of their
   * own. Default 0: none.
   */
  statementTimeout?: number
}

/** Options of {@link postgres}. */
export interface PostgresOptions extends DatabaseOptions {
  /** How long opening a connection may take, in ms. Default 10 000. */
  connectTimeout?: number
  /** Shown in `pg_stat_activity.application_name`. Default `'weft'`. */
  applicationName?: string
}

/** Options of {@link createDatabase}: a server URL, or a driver of your own. */
export type CreateDatabaseOptions =
  | (PostgresOptions & { url: string })
  | (DatabaseOptions & { driver: SqlDriver })

/**
 * Opens a database on a PostgreSQL server (`{ url }`) or on any {@link SqlDriver} (`{ driver }`).
 * Connections are opened on first use.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { createDatabase, pgliteDriver } from 'weft/sql'
 * await using db = createDatabase({ driver: pgliteDriver() })
 * const { rows } = await db.query<{ sum: number }>('SELECT $1::int + $2::int AS sum', [20, 22])
 * assert.equal(rows[0]?.sum, 42)
 * ```
 */
export function createDatabase(options: CreateDatabaseOptions): Database {
  checkOptions('createDatabase()', options)
  if ('driver' in options) {
    const { driver } = options
    if (driver === null || typeof driver !== 'object' || typeof driver.connect !== 'function') {
      throw new TypeError(`createDatabase(): options.driver must be a SqlDriver, got ${describe(driver)}`)
    }
    return new Database(driver, settingsOf('createDatabase()', options))
  }
  return postgres(options.url, options)
}

/**
 * Opens a database on the PostgreSQL server at `url` (`postgres://user:password@host:5432/name`).
 * Connections are opened on first use, at most `max` at once.
 */
export function postgres(url: string, options: PostgresOptions = {}): Database {
  checkString('postgres()', 'url', url)
  checkOptions('postgres()', options)
  const { connectTimeout, applicationName } = options
  if (connectTimeout !== undefined) checkDuration('postgres()', 'options.connectTimeout', connectTimeout)
  if (applicationName !== undefined) checkString('postgres()', 'options.applicationName', applicationName)
  const driver = postgresDriver({
    url,
    ...(connectTimeout === undefined ? {} : { connectTimeout }),
    ...(applicationName === undefined ? {} : { applicationName }),
  })
  return new Database(driver, settingsOf('postgres()', options))
}

/** Options of {@link embeddedDatabase}. */
export interface EmbeddedOptions extends PgliteDriverOptions {
  /** Statement timeout for statements with no deadline of their own; PGlite does not enforce it. */
  statementTimeout?: number
}

/**
 * Opens the embedded database: PostgreSQL itself (PGlite, compiled to WebAssembly) in this process,
 * in memory unless `dataDir` is given. The same interface as a server, so code and tests run without
 * one. It has a single connection: calls queue for it, and a transaction holds it until it ends.
 * A statement cannot be interrupted once running; cancellation drops its result.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { embeddedDatabase } from 'weft/sql'
 * await using db = embeddedDatabase()
 * const { rows } = await db.query<{ greeting: string }>("SELECT 'hello' AS greeting")
 * assert.equal(rows[0]?.greeting, 'hello')
 * assert.equal(db.backend, 'pglite')
 * ```
 */
export function embeddedDatabase(options: EmbeddedOptions = {}): Database {
  checkOptions('embeddedDatabase()', options)
  const { dataDir } = options
  if (dataDir !== undefined) checkString('embeddedDatabase()', 'options.dataDir', dataDir)
  const settings = settingsOf('embeddedDatabase()', { ...options, idleTimeout: Number.POSITIVE_INFINITY })
  return new Database(pgliteDriver(dataDir === undefined ? {} : { dataDir }), settings)
}

/**
 * The database the environment names: a PostgreSQL server when `url` (by default
 * `process.env.DATABASE_URL`) is set, else the embedded database in memory.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { databaseFromEnv } from 'weft/sql'
 * await using db = databaseFromEnv('')
 * assert.equal(db.backend, 'pglite')
 * ```
 */
export function databaseFromEnv(
  url: string | undefined = process.env.DATABASE_URL,
  options: PostgresOptions = {},
): Database {
  if (url !== undefined) checkString('databaseFromEnv()', 'url', url)
  if (url === undefined || url === '') {
    const { statementTimeout } = options
    return embeddedDatabase(statementTimeout === undefined ? {} : { statementTimeout })
  }
  return postgres(url, options)
}

function settingsOf(where: string, options: DatabaseOptions): PoolSettings {
  const { max = 10, idleTimeout = 30_000, statementTimeout = 0 } = options
  checkCount(where, 'options.max', max, 1)
  if (idleTimeout !== Number.POSITIVE_INFINITY) checkDuration(where, 'options.idleTimeout', idleTimeout)
  checkDuration(where, 'options.statementTimeout', statementTimeout)
  return { max, idleTimeout, statementTimeout: Math.ceil(statementTimeout) }
}
