/**
 * The one thing the data layer asks of a database client: run a statement with positional parameters
 * (`$1`, `$2`, ...) and hand back its rows. `pg`'s `Pool` and `Client`, PGlite and weft's SQL adapter
 * all fit it as they are, so the same loaders and queries run on PostgreSQL and on the embedded
 * database.
 *
 * Deliberately no transactions: with a pool, consecutive calls may land on different connections, so
 * nothing here relies on session state. Statements that must be atomic are written as one statement.
 */
export interface SqlExecutor {
  query(text: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>
}
