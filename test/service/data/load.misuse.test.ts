import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { City } from '../../../service/data/cities.ts'
import { loadCities, loadDatasets, loadIpNetworks } from '../../../service/data/load.ts'
import { migrate } from '../../../service/data/migrate.ts'
import { pglite, type TestDatabase, untouchable } from './databases.ts'
import { city } from './fixtures.ts'

describe('options are checked before the database is touched', () => {
  const cases: [string, unknown, RegExp][] = [
    ['records without a version', { records: [] }, /records and version go together/],
    ['a version without records', { version: 'v1' }, /records and version go together/],
    ['an empty version', { records: [], version: '' }, /version must be a non-empty string/],
    ['records that are not iterable', { records: 42, version: 'v1' }, /records must be iterable, got number/],
    ['a negative limit', { limit: -1 }, /limit must be a whole number of at least 0, got -1/],
    ['a fractional limit', { limit: 2.5 }, /limit must be a whole number/],
    ['a batch size of 0', { batchSize: 0 }, /batchSize must be a whole number of at least 1, got 0/],
    ['onProgress that is not a function', { onProgress: 'log' }, /onProgress must be a function, got string/],
    ['a signal that is not an AbortSignal', { signal: {} }, /signal must be an AbortSignal/],
    ['options that are not an object', null, /options must be an object, got null/],
  ]
  for (const [what, options, message] of cases) {
    test(`${what} is a TypeError`, async () => {
      await assert.rejects(loadCities(untouchable, options as never), { name: 'TypeError', message })
    })
  }

  test('loadIpNetworks and loadDatasets check theirs the same way', async () => {
    await assert.rejects(loadIpNetworks(untouchable, { limit: -1 }), TypeError)
    await assert.rejects(loadDatasets(untouchable, { batchSize: 0 }), TypeError)
  })
})

describe('bad records', () => {
  let database: TestDatabase
  before(async () => {
    database = await pglite.open()
    await migrate(database.db)
  })
  after(() => database.close())

  test('a record the table refuses fails the load and records no version', async () => {
    const lisbon = city('Lisbon', 'PT')
    const records: City[] = [lisbon, { ...lisbon, id: 2, name: null as unknown as string }]
    await assert.rejects(loadCities(database.db, { records, version: 'broken' }))
    const { rows } = await database.db.query("SELECT 1 FROM dataset_versions WHERE name = 'cities'")
    assert.deepEqual(rows, [])
  })

  test('a place outside the globe fails the load with the geo cell TypeError', async () => {
    const lisbon = city('Lisbon', 'PT')
    await assert.rejects(
      loadCities(database.db, { records: [{ ...lisbon, lat: 123 }], version: 'off the map' }),
      {
        name: 'TypeError',
        message: /latitude must be a number from -90 to 90, got 123/,
      },
    )
  })
})
