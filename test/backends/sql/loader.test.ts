import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { AbortError, scope } from 'weft'
import { type Database, keyLoader, postgres, rowsByKey } from 'weft/sql'
import { createTestDatabase, type TestDatabase } from '../../../src/testing/postgres.ts'
import { traced } from './contract.ts'

interface City {
  id: string
  name: string
  country: string
}

let database: TestDatabase
let db: Database
before(async () => {
  database = await createTestDatabase()
  db = postgres(database.url)
  await db.query(`CREATE TABLE cities (id bigint PRIMARY KEY, name text NOT NULL, country text NOT NULL);
    INSERT INTO cities SELECT n, 'city ' || n, CASE WHEN n % 2 = 0 THEN 'even' ELSE 'odd' END
    FROM generate_series(1, 200) AS n`)
})
after(async () => {
  await db.close()
  await database.drop()
})

const cityById = () =>
  keyLoader<City, number>(db, {
    name: 'city by id',
    sql: 'SELECT * FROM cities WHERE id = ANY($1)',
    key: 'id',
  })

describe('keyLoader', () => {
  test('turns 100 lookups of one turn into one statement and one round trip, each key once', async () => {
    const cities = cityById()
    const before = db.stats()
    const ids = Array.from({ length: 100 }, (_, i) => (i % 50) + 1)
    const found = await scope(() => Promise.all(ids.map((id) => cities.load(id))))
    assert.deepEqual(
      found.map((city) => city?.name),
      ids.map((id) => `city ${id}`),
    )
    const after = db.stats()
    assert.equal(after.roundTrips - before.roundTrips, 1)
    assert.equal(after.statements - before.statements, 1)
  })

  test('loads a key with no row as undefined, matching bigint keys by their string form', async () => {
    const cities = cityById()
    const found = await scope(() => Promise.all([cities.load(7), cities.load(9_999)]))
    assert.deepEqual(found, [{ id: '7', name: 'city 7', country: 'odd' }, undefined])
  })

  test('splits batches larger than maxBatchSize', async () => {
    const cities = keyLoader<City, number>(db, {
      name: 'small batches',
      sql: 'SELECT * FROM cities WHERE id = ANY($1)',
      key: (row) => row.id,
      maxBatchSize: 40,
    })
    const before = db.stats().roundTrips
    const found = await scope(() => cities.loadMany(Array.from({ length: 100 }, (_, i) => i + 1)))
    assert.equal(found.length, 100)
    assert.equal(db.stats().roundTrips - before, 3)
  })

  test('records the query under the batch span, with hits and misses and the deadline as statement timeout', async () => {
    const cities = cityById()
    // A batch serves its whole request: the request's deadline is the batch's.
    const spans = await traced(() => Promise.all([cities.load(1), cities.load(2), cities.load(500)]), {
      deadline: 5_000,
    })
    const batch = spans.find((span) => span.kind === 'batch')
    const query = spans.find((span) => span.name === 'sql.query')
    assert.equal(query?.parentId, batch?.spanId)
    assert.equal(batch?.attributes['db.hits'], 2)
    assert.equal(batch?.attributes['db.misses'], 1)
    assert.ok(Number(query?.attributes['db.statement_timeout']) > 4_000)
  })

  test('cancels the statement on the server when the request is cancelled', async () => {
    const slow = keyLoader<City, number>(db, {
      name: 'slow cities',
      sql: 'SELECT * FROM cities WHERE id = ANY($1) AND pg_sleep(10) IS NOT NULL',
      key: 'id',
    })
    const controller = new AbortController()
    const loading = scope({ signal: controller.signal }, () => slow.load(1))
    await delay(50)
    controller.abort('request abandoned')
    await assert.rejects(loading, AbortError)
    const start = performance.now()
    for (;;) {
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%pg_sleep(10) IS NOT NULL'`,
      )
      if (rows[0]?.n === 0) break
      assert.ok(performance.now() - start < 1_000, 'the statement still runs after 1 s')
      await delay(10)
    }
  })
})

describe('rowsByKey', () => {
  test('groups the rows of each key, an empty list for a key with none, in one statement', async () => {
    const citiesIn = rowsByKey<City, string>(db, {
      name: 'cities by country',
      sql: 'SELECT * FROM cities WHERE country = ANY($1) AND id <= 4 ORDER BY id',
      key: 'country',
    })
    const before = db.stats().roundTrips
    const [even, odd, none] = await scope(() =>
      Promise.all([citiesIn.load('even'), citiesIn.load('odd'), citiesIn.load('none')]),
    )
    assert.deepEqual(
      [even.map((city) => city.name), odd.map((city) => city.name), none],
      [['city 2', 'city 4'], ['city 1', 'city 3'], []],
    )
    assert.equal(db.stats().roundTrips - before, 1)
  })
})
