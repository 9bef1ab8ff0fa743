import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { createGeocoder, type Geocoder } from '../../../service/geocoder/geocoder.ts'
import { geocoderServer } from '../../../service/geocoder/server.ts'

let geocoder: Geocoder
let app: FastifyInstance
let base: string
before(async () => {
  geocoder = await createGeocoder()
  app = await geocoderServer({
    geocoder,
    register: (instance) =>
      instance.addHook('onRequest', async (_request, reply) => {
        reply.header('x-plugin', 'ran')
      }),
  })
  base = await app.listen({ host: '127.0.0.1', port: 0 })
})
after(() => app.close())

const get = (path: string) => fetch(`${base}${path}`)

describe('GET /geocode over HTTP', () => {
  test('answers where an IPv4 address is, as JSON', async () => {
    const response = await get('/geocode?ip=8.8.8.8')
    assert.equal(response.status, 200)
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/)
    assert.deepEqual(await response.json(), { ip: '8.8.8.8', ...geocoder.lookup('8.8.8.8') })
  })

  test('answers for IPv6 addresses, echoing the address in canonical form', async () => {
    const response = await get(`/geocode?ip=${encodeURIComponent('2001:4860:4860:0:0:0:0:8888')}`)
    assert.equal(response.status, 200)
    assert.deepEqual(await response.json(), {
      ip: '2001:4860:4860::8888',
      ...geocoder.lookup('2001:4860:4860::8888'),
    })
  })

  test('answers for an IPv4-mapped address as for the IPv4 address it carries', async () => {
    const response = await get(`/geocode?ip=${encodeURIComponent('::ffff:8.8.8.8')}`)
    assert.deepEqual(await response.json(), { ip: '8.8.8.8', ...geocoder.lookup('8.8.8.8') })
  })

  test('answers 404 with a JSON error when the database has no location for the address', async () => {
    const response = await get('/geocode?ip=10.0.0.1')
    assert.equal(response.status, 404)
    assert.deepEqual(await response.json(), {
      statusCode: 404,
      code: 'IP_NOT_FOUND',
      error: 'Not Found',
      message: 'no location known for 10.0.0.1',
    })
  })
})

test('GET /healthz answers ok', async () => {
  const response = await get('/healthz')
  assert.equal(response.status, 200)
  assert.deepEqual(await response.json(), { status: 'ok' })
})

test('what register adds to the app applies to its routes', async () => {
  assert.equal((await get('/geocode?ip=8.8.8.8')).headers.get('x-plugin'), 'ran')
  assert.equal((await get('/geocode?ip=bad')).headers.get('x-plugin'), 'ran')
})

test('serves the geocoder it is given', async () => {
  const fixed: Geocoder = {
    lookup: () => ({ country: 'PT', region: null, city: 'Lisbon', lat: 38.7, lon: -9.1, timezone: null }),
  }
  const own = await geocoderServer({ geocoder: fixed })
  try {
    const response = await own.inject('/geocode?ip=1.2.3.4')
    assert.equal(response.json().city, 'Lisbon')
  } finally {
    await own.close()
  }
})
