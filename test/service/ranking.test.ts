import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { City, Place } from '../../service/backend-calls.ts'
import { distanceKm, Ranking, type Searcher } from '../../service/ranking.ts'

function city(id: number, name: string, country: string, population: number, lat = 0, lon = 0): City {
  return { id, name, country, population, lat, lon, adminCode: null, featureCode: 'PPL' }
}
const lisbon = city(1, 'Lisbon', 'PT', 517_802, 38.72, -9.13)
const lisburn = city(2, 'Lisburn', 'GB', 77_506, 54.52, -6.04)
const lisbonUs = city(3, 'Lisbon', 'US', 9_392, 44.03, -70.1)
const porto = city(4, 'Porto', 'PT', 249_633, 41.15, -8.61)
const queluz: Place = {
  ip: '94.132.0.1',
  city: 'Queluz',
  region: 'Lisbon',
  country: 'PT',
  lat: 38.76,
  lon: -9.25,
}

function searcher(overrides: Partial<Searcher> = {}): Searcher {
  return { text: 'lis', place: undefined, languages: [], recent: [], ...overrides }
}

test('only places whose name starts with the text are ranked, whoever found them', () => {
  const ranking = new Ranking(searcher(), 1000)
  ranking.add('query text', [lisbon, lisburn], [0, 0])
  ranking.add('country', [porto, lisbon], [0, 0])
  assert.equal(ranking.size, 2)
  assert.deepEqual(
    ranking.best(10).map(({ id }) => id),
    [1, 2],
  )
})

test('an exact name beats a prefix; then population decides', () => {
  const ranking = new Ranking(searcher({ text: 'Lisburn' }), 1000)
  ranking.add('query text', [lisburn], [0])
  const [best] = ranking.best(1)
  assert.equal(best?.why[0], 'the name is what you searched for')
  const prefix = new Ranking(searcher({ text: 'lis' }), 1000)
  prefix.add('query text', [lisbonUs, lisbon, lisburn], [0, 0, 0])
  assert.deepEqual(
    prefix.best(3).map(({ id }) => id),
    [1, 2, 3],
  )
})

test("nearness, the visitor's country, language and recent searches add to the score, with reasons", () => {
  const ranking = new Ranking(searcher({ place: queluz, languages: ['pt'], recent: ['lisbon'] }), 1000)
  ranking.add('query text', [lisbon, lisburn, lisbonUs], [0, 0, 0])
  ranking.add('country', [lisbon], [0])
  ranking.add('language', [lisbon], [0])
  ranking.add('recent searches', [lisbon, lisbonUs], [0, 0])
  const ranked = ranking.best(3)
  const [first] = ranked
  const third = ranked.find(({ id }) => id === lisbonUs.id)
  assert.equal(first?.id, 1)
  for (const reason of [
    'in your country (PT)',
    'where Portuguese is spoken',
    'you searched for "lisbon" recently',
  ]) {
    assert.ok(first?.why.includes(reason), reason)
  }
  assert.ok(first?.why.some((reason) => /^\d+ km from you$/.test(reason)))
  assert.ok(third?.why.includes('you searched for "lisbon" recently'))
  assert.ok(!third?.why.includes('in your country (PT)'), "not in the visitor's country")
})

test('a place served as often as the result limit is demoted, and says so', () => {
  const ranking = new Ranking(searcher(), 100)
  ranking.add('query text', [lisbon, lisburn], [100, 3])
  const [first, second] = ranking.best(2)
  assert.equal(first?.id, 2)
  assert.equal(second?.why.at(-1), 'demoted: served 100 times in this window')
})

test('distances are great-circle kilometres', () => {
  assert.equal(Math.round(distanceKm(lisbon, lisbon)), 0)
  assert.ok(Math.abs(distanceKm(lisbon, porto) - 274) < 3)
})
