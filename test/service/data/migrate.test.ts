import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { migrate } from '../../../service/data/migrate.ts'
import { type Migration, migrations } from '../../../service/data/schema.ts'
import type { SqlExecutor } from '../../../service/data/sql-executor.ts'
import { engines } from './databases.ts'

async function appliedIds(db: SqlExecutor): Promise<string[]> {
  const { rows } = await db.query('SELECT id FROM service_migrations ORDER BY id')
  return rows.map((row) => String(row.id))
}

async function tableExists(db: SqlExecutor, name: string): Promise<boolean> {
  const { rows } = await db.query('SELECT to_regclass($1)::text AS name', [name])
  return rows[0]?.name === name
}

const allIds = migrations.map((migration) => migration.id)

for (const engine of engines) {
  describe(`migrate on ${engine.name}`, () => {
    const withDatabase = (fn: (db: SqlExecutor) => Promise<void>) => async () => {
      const database = await engine.open()
      try {
        await fn(database.db)
      } finally {
        await database.close()
      }
    }

    test(
      'applies every migration in order on an empty database and records each',
      withDatabase(async (db) => {
        assert.deepEqual(await migrate(db), allIds)
        assert.deepEqual(await appliedIds(db), allIds)
        for (const table of ['dataset_versions', 'cities', 'ip_networks', 'sessions', 'ranking_log']) {
          assert.ok(await tableExists(db, table), table)
        }
      }),
    )

    test(
      'applies nothing on a database already up to date',
      withDatabase(async (db) => {
        await migrate(db)
        assert.deepEqual(await migrate(db), [])
        assert.deepEqual(await appliedIds(db), allIds)
      }),
    )

    test(
      'applies only the migrations appended since the last run',
      withDatabase(async (db) => {
        await migrate(db)
        const later: Migration = {
          id: '900_extra',
          sql: 'CREATE TABLE extra (id int); CREATE INDEX ON extra (id);',
        }
        assert.deepEqual(await migrate(db, [...migrations, later]), ['900_extra'])
        assert.ok(await tableExists(db, 'extra'))
      }),
    )

    test(
      'processes migrating at the same moment apply each migration exactly once, without errors',
      withDatabase(async (db) => {
        const runs = await Promise.all([migrate(db), migrate(db), migrate(db)])
        assert.deepEqual(await appliedIds(db), allIds)
        // Whoever lost a race saw the winner's record under the lock and skipped: nothing ran twice.
        // What each call found pending depends on timing, but migrations go in order: it is a suffix.
        for (const pending of runs) assert.deepEqual(pending, allIds.slice(allIds.length - pending.length))
      }),
    )

    test(
      'a failing migration leaves nothing behind: neither its first statements nor its record',
      withDatabase(async (db) => {
        const broken: Migration = {
          id: '900_broken',
          sql: 'CREATE TABLE half (id int); SELECT * FROM missing_table',
        }
        await assert.rejects(migrate(db, [...migrations, broken]), /missing_table/)
        assert.equal(await tableExists(db, 'half'), false)
        assert.deepEqual(await appliedIds(db), allIds)
      }),
    )

    test(
      'the schema holds the data the service stores',
      withDatabase(async (db) => {
        await migrate(db)
        await db.query(
          `INSERT INTO cities (id, name, name_key, country, admin_code, feature_code, population, lat, lon, geo_cell)
           VALUES (1, 'Lisbon', 'lisbon', 'PT', '14', 'PPLC', 517802, 38.71667, -9.13333, 46090)`,
        )
        await db.query(`INSERT INTO ip_networks VALUES (1737150976, 1737151231, 4294967294, 'AS4294967294')`)
        await db.query(`INSERT INTO sessions (id, data) VALUES ('s1', '{"recent": ["lisbon"]}')`)
        await db.query(`INSERT INTO ranking_log (request_id, query, results) VALUES ('r1', 'lisb', '[1]')`)
        const again = await db.query(
          `INSERT INTO ranking_log (request_id, query, results) VALUES ('r1', 'lisb', '[1]') ON CONFLICT (request_id) DO NOTHING RETURNING id`,
        )
        assert.equal(again.rows.length, 0, 'a redelivered ranking log entry is absorbed')
        await assert.rejects(db.query(`INSERT INTO ip_networks VALUES (10, 9, 1, 'backwards')`), /check/i)
      }),
    )
  })
}
