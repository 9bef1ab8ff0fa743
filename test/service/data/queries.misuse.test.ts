import assert from 'node:assert/strict'
import { test } from 'node:test'
import { InvalidIpAddress } from '../../../service/data/ip.ts'
import { citiesByPrefix, citiesInCountry, citiesNear, networkOf } from '../../../service/data/queries.ts'
import { untouchable } from './databases.ts'

test('networkOf rejects a malformed address with InvalidIpAddress, without querying', async () => {
  for (const ip of [
    '',
    '1.1.1',
    '1.1.1.256',
    '01.1.1.1',
    '1.1.1.1 ',
    'example.com',
    '::1',
    '::ffff:1.1.1.1',
  ]) {
    await assert.rejects(networkOf(untouchable, ip), InvalidIpAddress, ip)
  }
  await assert.rejects(networkOf(untouchable, 16843009 as unknown as string), { code: 'INVALID_IP_ADDRESS' })
})

test('a limit outside 1..1000 is a TypeError', async () => {
  for (const limit of [0, -1, 1001, 2.5, Number.NaN]) {
    await assert.rejects(citiesByPrefix(untouchable, 'lisb', { limit }), {
      name: 'TypeError',
      message: new RegExp(`citiesByPrefix: limit must be a whole number from 1 to 1000, got ${limit}`),
    })
  }
  await assert.rejects(citiesInCountry(untouchable, 'PT', { limit: 0 }), TypeError)
  await assert.rejects(citiesNear(untouchable, { lat: 0, lon: 0 }, { limit: 0 }), TypeError)
})

test('citiesByPrefix refuses a prefix that is not a string', async () => {
  await assert.rejects(citiesByPrefix(untouchable, undefined as unknown as string), {
    name: 'TypeError',
    message: 'citiesByPrefix: prefix must be a string, got undefined',
  })
})

test('citiesInCountry refuses anything but a two-letter code', async () => {
  for (const country of ['', 'P', 'PRT', 'P1', 42]) {
    await assert.rejects(citiesInCountry(untouchable, country as string), {
      name: 'TypeError',
      message: /citiesInCountry: country must be a two-letter ISO code/,
    })
  }
})

test('citiesNear refuses a point off the globe, a missing point, and bad rings', async () => {
  await assert.rejects(
    citiesNear(untouchable, { lat: 91, lon: 0 }),
    /latitude must be a number from -90 to 90/,
  )
  await assert.rejects(
    citiesNear(untouchable, { lat: 0, lon: Number.NaN }),
    /longitude must be a finite number/,
  )
  await assert.rejects(citiesNear(untouchable, null as never), /point must be an object with lat and lon/)
  await assert.rejects(
    citiesNear(untouchable, { lat: 0, lon: 0 }, { rings: -1 }),
    /rings must be a whole number/,
  )
})
