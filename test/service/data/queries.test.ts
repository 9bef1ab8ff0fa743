import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { geoCell, nearbyCells } from '../../../service/data/geo-cell.ts'
import { formatIPv4 } from '../../../service/data/ip.ts'
import { loadCities, loadIpNetworks } from '../../../service/data/load.ts'
import { migrate } from '../../../service/data/migrate.ts'
import { citiesByPrefix, citiesInCountry, citiesNear, networkOf } from '../../../service/data/queries.ts'
import type { SqlExecutor } from '../../../service/data/sql-executor.ts'
import { engines, type TestDatabase } from './databases.ts'
import { city, someCities, someNetworks } from './fixtures.ts'

const byPopulation = (a: { population: number }, b: { population: number }) => b.population - a.population

for (const engine of engines) {
  describe(`queries on ${engine.name}`, () => {
    let database: TestDatabase
    let db: SqlExecutor
    before(async () => {
      database = await engine.open()
      db = database.db
      await migrate(db)
      await loadCities(db, { records: someCities(), version: 'fixture' })
      await loadIpNetworks(db, { records: someNetworks(), version: 'fixture' })
    })
    after(() => database.close())

    describe('citiesByPrefix', () => {
      test('finds places by the start of their name, most populous first', async () => {
        const found = await citiesByPrefix(db, 'lisb')
        assert.deepEqual(found[0], city('Lisbon', 'PT'))
        assert.deepEqual(found[1], city('Lisburn', 'GB'))
        assert.deepEqual(
          found.map((place) => place.population),
          found.map((place) => place.population).sort((a, b) => b - a),
        )
        assert.ok(found.every((place) => place.name.startsWith('Lisb')))
        assert.equal(found.length, 8)
      })

      test('ignores case and accents, both in the names and in what is typed', async () => {
        assert.deepEqual(await citiesByPrefix(db, 'LISB'), await citiesByPrefix(db, 'lisb'))
        assert.deepEqual(await citiesByPrefix(db, 'sao pa'), [city('São Paulo', 'BR')])
        assert.deepEqual(await citiesByPrefix(db, 'São Pa'), [city('São Paulo', 'BR')])
        assert.deepEqual(await citiesByPrefix(db, 'lodz'), [city('Łódź', 'PL')])
      })

      test('takes LIKE wildcards in the prefix literally', async () => {
        assert.deepEqual(await citiesByPrefix(db, '%'), [])
        assert.deepEqual(await citiesByPrefix(db, 'l_sb'), [])
        assert.deepEqual(await citiesByPrefix(db, 'lisb\\'), [])
      })

      test('a blank prefix matches nothing', async () => {
        assert.deepEqual(await citiesByPrefix(db, ''), [])
        assert.deepEqual(await citiesByPrefix(db, '   '), [])
      })

      test('returns at most limit places', async () => {
        assert.deepEqual(await citiesByPrefix(db, 'lisb', { limit: 2 }), [
          city('Lisbon', 'PT'),
          city('Lisburn', 'GB'),
        ])
      })
    })

    describe('citiesInCountry', () => {
      test("returns a country's most populous places, whatever the case of its code", async () => {
        const expected = someCities()
          .filter((place) => place.country === 'PT')
          .sort(byPopulation)
          .slice(0, 5)
        assert.deepEqual(
          (await citiesInCountry(db, 'PT', { limit: 5 })).map((place) => place.name),
          expected.map((place) => place.name),
        )
        assert.deepEqual(
          await citiesInCountry(db, 'pt', { limit: 5 }),
          await citiesInCountry(db, 'PT', { limit: 5 }),
        )
        assert.equal((await citiesInCountry(db, 'PT'))[0]?.name, 'Lisbon')
      })

      test('returns nothing for a country without places', async () => {
        assert.deepEqual(await citiesInCountry(db, 'ZZ'), [])
      })
    })

    describe('citiesNear', () => {
      test("a point in Lisbon finds Lisbon first, and only places in the point's cell and its neighbours", async () => {
        const lisbon = city('Lisbon', 'PT')
        const found = await citiesNear(db, { lat: 38.7223, lon: -9.1393 }, { limit: 50 })
        assert.deepEqual(found[0], lisbon)
        const cells = nearbyCells(lisbon.lat, lisbon.lon)
        assert.ok(found.every((place) => cells.includes(geoCell(place.lat, place.lon))))
        assert.ok(found.some((place) => place.name === 'Sintra'))
        assert.ok(!found.some((place) => place.name === 'Porto'), 'Porto is 270 km away')
      })

      test('more rings reach further', async () => {
        const far = await citiesNear(db, { lat: 38.7223, lon: -9.1393 }, { limit: 1000, rings: 3 })
        assert.ok(far.some((place) => place.name === 'Porto'))
      })

      test('reaches across the antimeridian', async () => {
        const beringovskiy = city('Beringovskiy', 'RU')
        const found = await citiesNear(db, beringovskiy, { rings: 3 })
        assert.deepEqual(found.map((place) => place.name).sort(), ['Beringovskiy', 'Egvekinot'])
      })
    })

    describe('networkOf', () => {
      test('finds the autonomous system announcing an address', async () => {
        assert.deepEqual(await networkOf(db, '1.1.1.1'), {
          start: '1.1.1.0',
          end: '1.1.1.255',
          asn: 13335,
          org: 'Cloudflare, Inc.',
        })
        assert.deepEqual(await networkOf(db, '8.8.8.8'), {
          start: '8.8.8.0',
          end: '8.8.8.255',
          asn: 15169,
          org: 'Google LLC',
        })
      })

      test("a range's first and last addresses are inside it", async () => {
        assert.equal((await networkOf(db, '1.1.1.0'))?.asn, 13335)
        assert.equal((await networkOf(db, '1.1.1.255'))?.asn, 13335)
      })

      test('an address no range holds has no network: gaps, private space, both ends of the space', async () => {
        for (const ip of ['1.0.1.0', '10.0.0.1', '0.0.0.0', '255.255.255.255']) {
          assert.equal(await networkOf(db, ip), undefined, ip)
        }
      })

      test('where two ranges of the data overlap, the one starting later wins', async () => {
        const overlapStart = 3607101440
        assert.equal((await networkOf(db, formatIPv4(overlapStart - 1)))?.asn, 749)
        assert.equal((await networkOf(db, formatIPv4(overlapStart)))?.asn, 721)
        assert.equal((await networkOf(db, formatIPv4(3607167000)))?.asn, 721)
      })
    })
  })
}
