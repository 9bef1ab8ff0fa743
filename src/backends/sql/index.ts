/**
 * `weft/sql`: PostgreSQL for code built on weft scopes, on a real server or embedded (PGlite).
 *
 * - {@link postgres}, {@link embeddedDatabase}, {@link databaseFromEnv}, {@link createDatabase} open a
 *   {@link Database}: `query(text, params)`, `tx(fn)`, `stats()`, `close()`.
 * - The ambient deadline becomes the statement timeout; the ambient signal cancels statements on the
 *   server; transactions roll back when their scope is cancelled.
 * - {@link keyLoader} and {@link rowsByKey} batch the key lookups of a turn into one `= ANY($1)` statement.
 * - {@link migrate} applies forward-only migrations.
 * - {@link SqlDriver} is the thin interface both drivers implement; bring your own through `createDatabase`.
 */
export { Database, type DatabaseStats, type PoolSettings, type TransactionOptions } from './database.ts'
export type { Deferred, DriverMetrics, SqlConnection, SqlDriver, SqlRequest, SqlResponse } from './driver.ts'
export { QueryError, TransactionClosedError } from './errors.ts'
export { keyLoader, rowsByKey, type SqlKey, type SqlLoaderOptions } from './loader.ts'
export {
  type MigrateOptions,
  type MigrateResult,
  type Migration,
  MigrationConflict,
  migrate,
} from './migrate.ts'
export {
  type CreateDatabaseOptions,
  createDatabase,
  type DatabaseOptions,
  databaseFromEnv,
  type EmbeddedOptions,
  embeddedDatabase,
  type PostgresOptions,
  postgres,
} from './open.ts'
export { type PgliteDriverOptions, pgliteDriver } from './pglite-driver.ts'
export { type PostgresDriverOptions, postgresDriver } from './postgres-driver.ts'
export type { Queryable, QueryOptions, QueryResult } from './statement.ts'
export { type NestedTransactionOptions, Transaction } from './transaction.ts'
