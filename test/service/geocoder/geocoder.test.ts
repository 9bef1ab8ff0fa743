import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import { createGeocoder, type Geocoder } from '../../../service/geocoder/geocoder.ts'

let geocoder: Geocoder
before(async () => {
  geocoder = await createGeocoder()
})

test('places an IPv4 address with its country, position and time zone', () => {
  const google = geocoder.lookup('8.8.8.8')
  assert.equal(google?.country, 'US')
  assert.equal(typeof google?.lat, 'number')
  assert.equal(typeof google?.lon, 'number')
  assert.equal(google?.timezone, 'America/Chicago')
  assert.equal(geocoder.lookup('193.136.0.1')?.country, 'PT')
})

test('names the city and region when the database knows them, and null when it does not', () => {
  assert.deepEqual(geocoder.lookup('81.2.69.142'), {
    country: 'GB',
    region: 'England',
    city: 'Bracknell',
    lat: 51.40359878540039,
    lon: -0.7617999911308289,
    timezone: 'Europe/London',
  })
  assert.equal(geocoder.lookup('8.8.8.8')?.city, null)
})

test('places IPv6 addresses from the IPv6 database, not from the first 32 bits in the IPv4 one', () => {
  assert.equal(geocoder.lookup('2001:4860:4860::8888')?.country, 'US')
  // Walking the IPv4 tree with this address lands on a record in Hong Kong: a wrong answer, not none.
  assert.equal(geocoder.lookup('2a03:2880::1')?.country, 'US')
})

test('places an IPv4-mapped IPv6 address where its IPv4 address is', () => {
  assert.deepEqual(geocoder.lookup('::ffff:8.8.8.8'), geocoder.lookup('8.8.8.8'))
  assert.deepEqual(geocoder.lookup('::ffff:c188:1'), geocoder.lookup('193.136.0.1'))
})

test('has no location for private, loopback and reserved addresses', () => {
  for (const ip of ['10.0.0.1', '127.0.0.1', '192.168.1.1', '0.0.0.0', '::1', 'fe80::1', '::ffff:10.0.0.1']) {
    assert.equal(geocoder.lookup(ip), undefined, ip)
  }
})
