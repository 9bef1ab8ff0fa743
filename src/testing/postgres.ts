import { randomBytes } from 'node:crypto'
import pg from 'pg'

/** A database created for one test run, dropped by {@link TestDatabase.drop}. */
export interface TestDatabase {
  /** Connection URL of the new database. */
  readonly url: string
  /** Its name: `weft_test_` and random hex digits. */
  readonly name: string
  /** Drops the database, disconnecting whoever is still connected. */
  drop(): Promise<void>
  /** `await using` drops it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void>
}

/** Options of {@link createTestDatabase}. */
export interface TestDatabaseOptions {
  /**
   * A URL of the server's maintenance database, used to create and drop the test database. Default:
   * `$WEFT_TEST_POSTGRES_URL`, or `postgres://postgres@127.0.0.1:5432/postgres`.
   */
  adminUrl?: string
}

/**
 * Creates a throwaway database on a real PostgreSQL server, for tests that need one.
 * Needs a server that lets the admin URL's user create databases (the test machines trust local
 * connections as `postgres`). Used as `await using database = await createTestDatabase()`.
 */
export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const adminUrl =
    options.adminUrl ?? process.env.WEFT_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
  const name = `weft_test_${randomBytes(6).toString('hex')}`
  await withAdmin(adminUrl, (admin) => admin.query(`CREATE DATABASE ${name}`))
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  let dropped: Promise<void> | undefined
  const drop = (): Promise<void> => {
    dropped ??= withAdmin(adminUrl, async (admin) => {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    })
    return dropped
  }
  return { url: url.toString(), name, drop, [Symbol.asyncDispose]: drop }
}

async function withAdmin<T>(url: string, fn: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  try {
    return await fn(admin)
  } finally {
    await admin.end()
  }
}
