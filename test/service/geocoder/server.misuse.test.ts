import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { geocoderServer } from '../../../service/geocoder/server.ts'

let app: FastifyInstance
let base: string
before(async () => {
  app = await geocoderServer()
  base = await app.listen({ host: '127.0.0.1', port: 0 })
})
after(() => app.close())

const geocode = (query: string) => fetch(`${base}/geocode${query}`)

async function assertBadRequest(query: string, message: string): Promise<void> {
  const response = await geocode(query)
  assert.equal(response.status, 400, query)
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/)
  assert.deepEqual(await response.json(), {
    statusCode: 400,
    code: 'INVALID_IP_ADDRESS',
    error: 'Bad Request',
    message,
  })
}

test('a malformed address is a 400 JSON error that quotes it', async () => {
  for (const ip of [
    '1.2.3',
    '999.1.1.1',
    '08.8.8.8',
    'localhost',
    '8.8.8.8 ',
    '1::2::3',
    'fe80::1%eth0',
    '../etc',
  ]) {
    await assertBadRequest(`?ip=${encodeURIComponent(ip)}`, `not an IP address: ${JSON.stringify(ip)}`)
  }
})

test('a missing, empty or repeated ip parameter is a 400 JSON error', async () => {
  const missing = 'give one address as the "ip" query parameter'
  await assertBadRequest('', missing)
  await assertBadRequest('?address=8.8.8.8', missing)
  await assertBadRequest('?ip=8.8.8.8&ip=1.1.1.1', missing)
  await assertBadRequest('?ip=', 'not an IP address: ""')
})

test('no query string, however odd, makes the service fail: every answer is 200, 400 or 404', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.ipV4(), fc.ipV6(), fc.ipV4Extended()),
      async (ip) => {
        const response = await geocode(`?ip=${encodeURIComponent(ip)}`)
        await response.arrayBuffer()
        return [200, 400, 404].includes(response.status)
      },
    ),
    { numRuns: 300 },
  )
  for (const raw of ['?ip=%', '?ip=%zz', '?ip=%00', `?ip=${'9'.repeat(5000)}`, '?ip[]=1.1.1.1', '?ip[a]=1']) {
    const response = await geocode(raw)
    await response.arrayBuffer()
    assert.ok([400, 404].includes(response.status), `${raw}: ${response.status}`)
  }
})

test('bad options are TypeErrors', async () => {
  await assert.rejects(geocoderServer(null as never), {
    name: 'TypeError',
    message: /options must be an object/,
  })
  await assert.rejects(geocoderServer({ register: 'plugin' as never }), {
    name: 'TypeError',
    message: /register must be a function, got string/,
  })
})
