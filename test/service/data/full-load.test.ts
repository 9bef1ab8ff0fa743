// The one test that loads the complete bundled data sets, into PGlite as a first `npm start` does,
// and checks what the rest of the suite takes for granted on fixtures.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type LoadProgress, loadDatasets } from '../../../service/data/load.ts'
import { migrate } from '../../../service/data/migrate.ts'
import { citiesByPrefix, citiesNear, networkOf } from '../../../service/data/queries.ts'
import { pglite, type TestDatabase } from './databases.ts'

describe('the complete data sets in PGlite', () => {
  let database: TestDatabase
  before(async () => {
    database = await pglite.open()
  })
  after(() => database.close())

  test('a first start loads every city and every IPv4 range; a second start reuses them', async (t) => {
    const { db } = database
    const progress: LoadProgress[] = []
    const started = performance.now()
    await migrate(db)
    const first = await loadDatasets(db, { onProgress: (p) => progress.push(p) })
    t.diagnostic(`first start: migrated and loaded in ${((performance.now() - started) / 1000).toFixed(1)} s`)

    assert.deepEqual(
      first.map(({ dataset, state, rows }) => [dataset, state, rows]),
      [
        ['cities', 'loaded', 135233],
        ['ip_networks', 'loaded', 411961],
      ],
    )
    for (const dataset of ['cities', 'ip_networks']) {
      const own = progress.filter((p) => p.dataset === dataset)
      assert.equal(own[0]?.rows, 0)
      assert.equal(own.at(-1)?.state, 'loaded')
    }

    const again = performance.now()
    const second = await loadDatasets(db)
    t.diagnostic(`second start: ${Math.round(performance.now() - again)} ms`)
    assert.deepEqual(
      second.map(({ state }) => state),
      ['reused', 'reused'],
    )
  })

  test('the queries answer from the real data', async () => {
    const { db } = database
    assert.deepEqual(
      (await citiesByPrefix(db, 'lisb', { limit: 1 })).map(({ name, country }) => [name, country]),
      [['Lisbon', 'PT']],
    )
    assert.ok((await citiesNear(db, { lat: 38.72, lon: -9.14 })).some(({ name }) => name === 'Lisbon'))
    assert.deepEqual(await networkOf(db, '1.1.1.1'), {
      start: '1.1.1.0',
      end: '1.1.1.255',
      asn: 13335,
      org: 'Cloudflare, Inc.',
    })
  })

  test('no range of the IP database lies inside an earlier one, as networkOf relies on', async () => {
    const { rows } = await database.db.query(`
      SELECT count(*) AS nested FROM (
        SELECT end_ip, max(end_ip) OVER (ORDER BY start_ip ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
        FROM ip_networks
      ) ranges WHERE end_ip < reach`)
    assert.equal(Number(rows[0]?.nested), 0)
  })
})
