/**
 * Applies the pending migrations of `schema.ts`, each exactly once, even when several processes start
 * at the same moment against the same database.
 */

import { textColumn } from './columns.ts'
import { type Migration, migrations as serviceMigrations } from './schema.ts'
import type { SqlExecutor } from './sql-executor.ts'

// Each migration runs as ONE statement, a DO block, because the executor may be a pool whose
// consecutive calls use different connections: a BEGIN/COMMIT pair could straddle two of them. A DO
// block is atomic by itself, and the transaction-scoped advisory lock inside it serialises processes
// racing to migrate; the re-check under the lock makes the loser skip what the winner applied.
const lockKey = "hashtext('weft service migrations')"
// Not `schema_migrations`: that is the default table of weft/sql's migrate, with columns of its own,
// which an application using it would claim.
const table = 'service_migrations'
const quote = '$weft_migration$'

/**
 * Brings the database up to date with `list` (the service's migrations by default). Returns the ids of
 * the migrations that were pending, oldest first, all applied now (by this call, or by a process that
 * migrated at the same moment). An up-to-date database costs two short statements.
 */
export async function migrate(
  db: SqlExecutor,
  list: readonly Migration[] = serviceMigrations,
): Promise<string[]> {
  checkMigrations(list)
  await db.query(
    atomically(`CREATE TABLE IF NOT EXISTS ${table} (
      id text PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`),
  )
  const { rows } = await db.query(`SELECT id FROM ${table}`)
  const applied = new Set(rows.map((row) => textColumn(row, 'id')))
  const done: string[] = []
  for (const migration of list) {
    if (applied.has(migration.id)) continue
    await db.query(
      atomically(`IF NOT EXISTS (SELECT 1 FROM ${table} WHERE id = '${migration.id}') THEN
        ${migration.sql.trim().replace(/;$/, '')};
        INSERT INTO ${table} (id) VALUES ('${migration.id}');
      END IF`),
    )
    done.push(migration.id)
  }
  return done
}

function atomically(body: string): string {
  return `DO ${quote} BEGIN
    PERFORM pg_advisory_xact_lock(${lockKey});
    ${body};
  END ${quote}`
}

function checkMigrations(list: readonly Migration[]): void {
  if (!Array.isArray(list)) throw new TypeError(`migrate: migrations must be an array, got ${typeof list}`)
  let previous = ''
  for (const migration of list) {
    const { id, sql } = migration ?? {}
    // Ids go into the statement as literals, so their alphabet is what keeps that safe.
    if (typeof id !== 'string' || !/^\d{3}_[a-z0-9_]+$/.test(id)) {
      throw new TypeError(`migrate: a migration id must look like "001_name", got ${JSON.stringify(id)}`)
    }
    if (id <= previous) throw new TypeError(`migrate: migration "${id}" is out of order after "${previous}"`)
    if (typeof sql !== 'string' || sql.trim() === '' || sql.includes(quote)) {
      throw new TypeError(`migrate: migration "${id}" must have SQL text without ${quote}`)
    }
    previous = id
  }
}
