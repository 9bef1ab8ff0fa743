import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { WeftError } from '../../core/errors.ts'
import { checkOptions, checkString, describe } from '../../core/validate.ts'
import type { Database } from './database.ts'
import type { Transaction } from './transaction.ts'

/** One forward-only migration. */
export interface Migration {
  /** Unique and stable: recorded once applied. Migrations apply in the order given. */
  readonly id: string
  /** The SQL to run; may hold several statements. Runs in a transaction with the bookkeeping. */
  readonly sql: string
}

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** The table recording applied migrations. Default `schema_migrations`. */
  table?: string
}

/** What {@link migrate} did. */
export interface MigrateResult {
  /** Ids applied by this call, in order. */
  applied: string[]
}

/**
 * A migration already applied has changed since: migrations are forward-only, so fix forward with a
 * new one instead of editing history.
 */
export class MigrationConflict extends WeftError {
  override name = 'MigrationConflict'
  /** The migration whose text changed. */
  readonly id: string
  constructor(id: string, table: string) {
    super(
      'WEFT_MIGRATION_CONFLICT',
      `migration "${id}" was applied with a different text (its checksum in ${table} differs): migrations are forward-only, add a new one instead of editing an applied one`,
    )
    this.id = id
  }
}

// Any 64-bit number shared by every process migrating the same database.
const LOCK_KEY = 7_266_100_771_223_349n

/**
 * Applies, in order, the migrations not applied yet, each in its own transaction together with its
 * record in `schema_migrations`. Concurrent starters (several instances of a service booting at once)
 * take turns on an advisory lock, so each migration runs exactly once. `migrations` is a list, or a
 * directory whose `*.sql` files are migrations (id: the file name without `.sql`, applied in name order).
 * A migration must not hold its own BEGIN or COMMIT. An applied migration whose text changed fails the
 * run with {@link MigrationConflict} before anything is applied.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { embeddedDatabase, migrate } from 'weft/sql'
 * await using db = embeddedDatabase()
 * const migrations = [
 *   { id: '001_users', sql: 'CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL)' },
 *   { id: '002_email', sql: 'ALTER TABLE users ADD COLUMN email text' },
 * ]
 * assert.deepEqual((await migrate(db, migrations)).applied, ['001_users', '002_email'])
 * assert.deepEqual((await migrate(db, migrations)).applied, []) // already applied
 * await db.query('INSERT INTO users (name, email) VALUES ($1, $2)', ['Ada', 'ada@example.com'])
 * ```
 */
export async function migrate(
  db: Database,
  migrations: readonly Migration[] | string,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  checkOptions('migrate()', options)
  const { table = 'schema_migrations' } = options
  if (typeof table !== 'string' || !/^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/.test(table)) {
    throw new TypeError(
      `migrate(): options.table must be a lower-case SQL identifier, got ${describe(table)}`,
    )
  }
  const list = typeof migrations === 'string' ? await readDirectory(migrations) : migrations
  checkMigrations(list)
  const recorded = await db.tx(async (tx) => {
    await lockAndPrepare(tx, table)
    return checksums(tx, table)
  })
  const pending = list.filter((migration) => {
    const known = recorded.get(migration.id)
    if (known !== undefined && known !== checksumOf(migration))
      throw new MigrationConflict(migration.id, table)
    return known === undefined
  })
  const applied: string[] = []
  for (const migration of pending) {
    if (await applyOnce(db, migration, checksumOf(migration), table)) applied.push(migration.id)
  }
  return { applied }
}

function checksumOf(migration: Migration): string {
  return createHash('sha256').update(migration.sql).digest('hex')
}

async function checksums(tx: Transaction, table: string): Promise<Map<string, string>> {
  const { rows } = await tx.query<{ id: string; checksum: string }>(`SELECT id, checksum FROM ${table}`)
  return new Map(rows.map((row) => [row.id, row.checksum]))
}

/** Applies `migration` unless another starter did meanwhile; true when it ran here. */
function applyOnce(db: Database, migration: Migration, checksum: string, table: string): Promise<boolean> {
  return db.tx(async (tx) => {
    await lockAndPrepare(tx, table)
    const { rows } = await tx.query(`SELECT 1 FROM ${table} WHERE id = $1`, [migration.id])
    if (rows.length > 0) return false
    await tx.query(migration.sql)
    await tx.query(`INSERT INTO ${table} (id, checksum) VALUES ($1, $2)`, [migration.id, checksum])
    return true
  })
}

/**
 * Waits for the migration lock (released when the transaction ends), then makes sure the record table
 * exists: created under the lock, since concurrent `CREATE TABLE IF NOT EXISTS` can still collide.
 * One round trip: two statements without parameters travel as one.
 */
function lockAndPrepare(tx: Transaction, table: string): Promise<unknown> {
  return tx.query(
    `SELECT pg_advisory_xact_lock(${LOCK_KEY}); CREATE TABLE IF NOT EXISTS ${table} (id text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
  )
}

async function readDirectory(directory: string): Promise<Migration[]> {
  checkString('migrate()', 'migrations', directory)
  const names = (await readdir(directory)).filter((name) => name.endsWith('.sql')).sort()
  return Promise.all(
    names.map(async (name) => ({
      id: name.slice(0, -'.sql'.length),
      sql: await readFile(join(directory, name), 'utf8'),
    })),
  )
}

function checkMigrations(list: unknown): asserts list is readonly Migration[] {
  if (!Array.isArray(list)) {
    throw new TypeError(
      `migrate(): migrations must be an array of { id, sql } or a directory, got ${describe(list)}`,
    )
  }
  const seen = new Set<string>()
  list.forEach((migration: unknown, index) => {
    const { id, sql } = (migration ?? {}) as Partial<Migration>
    if (typeof id !== 'string' || id === '') {
      throw new TypeError(
        `migrate(): migrations[${index}].id must be a non-empty string, got ${describe(id)}`,
      )
    }
    if (typeof sql !== 'string' || sql.trim() === '') {
      throw new TypeError(
        `migrate(): migrations[${index}].sql must be a non-empty string, got ${describe(sql)}`,
      )
    }
    if (seen.has(id)) throw new TypeError(`migrate(): migration id "${id}" appears twice`)
    seen.add(id)
  })
}
