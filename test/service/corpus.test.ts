import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { scope } from 'weft'
import { type Database, embeddedDatabase } from 'weft/sql'
import { corpus, prefixRange } from '../../service/corpus.ts'
import { geoCell, nearbyCells } from '../../service/data/geo-cell.ts'
import { loadTestData } from './fixtures.ts'

let db: Database
before(async () => {
  db = embeddedDatabase()
  await loadTestData(db)
})
after(() => db.close())

const names = (cities: { name: string; country: string }[]) =>
  cities.map(({ name, country }) => `${name}, ${country}`)

test('finds places by the prefix of their folded name, most populous first', async () => {
  const places = corpus(db)
  const [lisb, sao, lodz, none] = await scope(() =>
    places.citiesStartingWith(['lisb', 'sao pa', 'lodz', 'zzzz']),
  )
  assert.deepEqual(names(lisb ?? []).slice(0, 2), ['Lisbon, PT', 'Lisburn, GB'])
  assert.deepEqual(names(sao ?? []), ['São Paulo, BR'])
  assert.deepEqual(names(lodz ?? []), ['Łódź, PL'])
  assert.deepEqual(none, [])
})

test('finds places by prefix within countries and within geo cells', async () => {
  const places = corpus(db)
  const inCountries = await scope(() => places.citiesInCountries(['GB', 'US'], 'lis'))
  assert.equal(names(inCountries)[0], 'Lisburn, GB')
  assert.ok(
    inCountries.length > 2 && inCountries.every(({ country }) => country === 'GB' || country === 'US'),
  )
  const near = await scope(() => places.citiesInCells(nearbyCells(38.72, -9.14), 'lis'))
  assert.deepEqual(names(near), ['Lisbon, PT'])
  assert.deepEqual(await scope(() => places.citiesInCells([geoCell(0, 0)], 'lis')), [])
})

test('the lookups of a turn are one statement per loader; without batching, one per key', async () => {
  for (const [batching, statements] of [
    [true, 2],
    [false, 6],
  ] as const) {
    const places = corpus(db, { batching })
    const before = db.stats().roundTrips
    await scope(() =>
      Promise.all([
        places.citiesStartingWith(['lis', 'por']),
        places.citiesStartingWith(['bra']),
        places.citiesInCountries(['PT', 'BR', 'AO'], 'co'),
      ]),
    )
    assert.equal(db.stats().roundTrips - before, statements, `batching ${batching}`)
  }
})

test('a prefix becomes the range of strings starting with it, in code point order', () => {
  assert.equal(prefixRange('lis'), 'lis\tlit')
  assert.equal(prefixRange('az'), 'az\ta{')
  assert.equal(prefixRange('\ud7ff'), '\ud7ff\t\ue000', 'skipping the surrogates')
  assert.equal(prefixRange('a\u{10ffff}'), 'a\u{10ffff}\tb')
  assert.equal(prefixRange('😀'), '😀\t😁')
})
