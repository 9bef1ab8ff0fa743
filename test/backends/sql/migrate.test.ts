import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type Database, embeddedDatabase, MigrationConflict, migrate, postgres, QueryError } from 'weft/sql'
import { createTestDatabase, type TestDatabase } from '../../../src/testing/postgres.ts'

const users = { id: '001_users', sql: 'CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL)' }
const email = { id: '002_email', sql: 'ALTER TABLE users ADD COLUMN email text' }

async function appliedIds(db: Database, table = 'schema_migrations'): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(`SELECT id FROM ${table} ORDER BY id`)
  return rows.map((row) => row.id)
}

function migrationContract(name: string, open: () => Promise<Database>): void {
  describe(`migrate() on ${name}`, () => {
    test('applies pending migrations in order, once, and records them', async () => {
      await using db = await open()
      assert.deepEqual((await migrate(db, [users])).applied, ['001_users'])
      assert.deepEqual((await migrate(db, [users, email])).applied, ['002_email'])
      assert.deepEqual((await migrate(db, [users, email])).applied, [])
      assert.deepEqual(await appliedIds(db), ['001_users', '002_email'])
      await db.query('INSERT INTO users (name, email) VALUES ($1, $2)', ['Ada', 'ada@example.com'])
    })

    test('rolls back a failing migration entirely and records nothing for it', async () => {
      await using db = await open()
      const broken = { id: '002_broken', sql: 'CREATE TABLE half (id int); SELECT no_such_column FROM half' }
      await assert.rejects(
        migrate(db, [users, broken]),
        (error) => error instanceof QueryError && error.sqlState === '42703',
      )
      assert.deepEqual(await appliedIds(db), ['001_users'])
      await assert.rejects(db.query('SELECT 1 FROM half'), { sqlState: '42P01' })
    })

    test('refuses to run when an applied migration was edited, before applying anything', async () => {
      await using db = await open()
      await migrate(db, [users])
      const edited = { ...users, sql: `${users.sql}; -- reformatted` }
      await assert.rejects(
        migrate(db, [edited, email]),
        (error) => error instanceof MigrationConflict && error.id === '001_users',
      )
      assert.deepEqual(await appliedIds(db), ['001_users'])
    })

    test('reads a directory of .sql files, in name order, named after the files', async () => {
      const directory = await mkdtemp(join(tmpdir(), 'weft-migrations-'))
      try {
        await writeFile(join(directory, '002_email.sql'), email.sql)
        await writeFile(join(directory, '001_users.sql'), users.sql)
        await writeFile(join(directory, 'README.md'), 'not a migration')
        await using db = await open()
        assert.deepEqual((await migrate(db, directory, { table: 'applied' })).applied, [
          '001_users',
          '002_email',
        ])
        assert.deepEqual(await appliedIds(db, 'applied'), ['001_users', '002_email'])
      } finally {
        await rm(directory, { recursive: true, force: true })
      }
    })
  })
}

describe('migrate() on the embedded database', () => {
  // Starting PGlite takes a second or more: the tests share one, each in a schema of its own (the
  // embedded database has a single session, so search_path holds for everything that follows).
  const shared = embeddedDatabase()
  let schemas = 0
  after(() => shared.close())
  const open = async (): Promise<Database> => {
    schemas += 1
    await shared.query(`CREATE SCHEMA test_${schemas}; SET search_path TO test_${schemas}`)
    // The tests close what open() returns: hand them a view of the shared database that stays open.
    const view = {
      query: shared.query.bind(shared),
      tx: shared.tx.bind(shared),
      [Symbol.asyncDispose]: async () => {},
    }
    return view as unknown as Database
  }
  migrationContract('PGlite', open)
})

describe('migrate() on PostgreSQL', () => {
  const databases: TestDatabase[] = []
  const open = async (): Promise<Database> => {
    const database = await createTestDatabase()
    databases.push(database)
    return postgres(database.url)
  }
  after(() => Promise.all(databases.map((database) => database.drop())))

  migrationContract('PostgreSQL', open)

  describe('with several starters at once', () => {
    let url: string
    before(async () => {
      const database = await createTestDatabase()
      databases.push(database)
      url = database.url
    })

    test('applies each migration exactly once', async () => {
      const counted = { id: '002_count', sql: 'INSERT INTO users (name) VALUES ($$applied$$)' }
      const starters = Array.from({ length: 6 }, () => postgres(url, { max: 2 }))
      try {
        const results = await Promise.all(starters.map((db) => migrate(db, [users, counted, email])))
        const applied = results.flatMap((result) => result.applied).sort()
        assert.deepEqual(applied, ['001_users', '002_count', '002_email'])
        const { rows } = await starters[0]!.query<{ n: number }>('SELECT count(*)::int AS n FROM users')
        assert.deepEqual(rows, [{ n: 1 }])
      } finally {
        await Promise.all(starters.map((db) => db.close()))
      }
    })
  })
})
