// The degradation policy over HTTP, on failures of the real kind: a geocoder that refuses
// connections, stalls or answers garbage; a memcached server killed; Redis unreachable; the database
// refusing. Each a bounded wait, then an answer that says what it lacks, or a 503 naming the backend.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance, type RouteHandlerMethod } from 'fastify'
import { BackendRefused } from 'weft'
import { type Database, embeddedDatabase } from 'weft/sql'
import { startMemcached } from 'weft/testing'
import { type Call, mapCalls } from '../../service/backend-calls.ts'
import { sessionKey } from '../../service/pipeline.ts'
import { freePort } from '../../src/testing/free-port.ts'
import { lisbonVisitor, loadTestData } from './fixtures.ts'
import { cookieOf, eventually, type Response, type StartOptions, startService } from './support.ts'

let db: Database
before(async () => {
  db = embeddedDatabase()
  await loadTestData(db)
})
after(() => db.close())

const start = (options: Omit<StartOptions, 'db'> = {}) => startService({ db, worker: false, ...options })

/** A geocoder impostor on a free port. */
async function fakeGeocoder(handler: RouteHandlerMethod): Promise<FastifyInstance> {
  const app = Fastify()
  app.get('/geocode', handler)
  await app.listen({ host: '127.0.0.1', port: 0 })
  return app
}

function backendsOf(response: Response): string[] {
  return [...new Set((response.body.degraded as { backend: string }[]).map(({ backend }) => backend))]
}

describe('the geocoder', () => {
  test('refusing connections: an answer without location', async () => {
    await using service = await start({ env: { GEOCODER_URL: `http://127.0.0.1:${await freePort()}` } })
    const response = await service.search(lisbonVisitor, { q: 'lis' })
    assert.equal(response.status, 200)
    assert.equal(response.body.location, null)
    assert.deepEqual(backendsOf(response), ['geocoder'])
    assert.equal(response.body.results[0].name, 'Lisbon')
  })

  test('never answering: the answer comes once its budget is spent, without location', async () => {
    const stalled = await fakeGeocoder(() => new Promise(() => {}))
    try {
      await using service = await start({
        env: { GEOCODER_URL: `http://127.0.0.1:${(stalled.server.address() as { port: number }).port}` },
        budgets: { geocoder: 150 },
      })
      const started = performance.now()
      const response = await service.search(lisbonVisitor, { q: 'lis' })
      const elapsed = performance.now() - started
      assert.equal(response.status, 200)
      assert.equal(response.body.location, null)
      assert.match(response.body.degraded[0].error, /^BackendTimeout: geocoder .*no answer within 150 ms/)
      assert.ok(elapsed < 1500, `answered in ${elapsed.toFixed(0)} ms`)
    } finally {
      await stalled.close()
    }
  })

  test("never answering, with a caller's deadline shorter than its budget: a 504 at the deadline", async () => {
    const stalled = await fakeGeocoder(() => new Promise(() => {}))
    try {
      await using service = await start({
        env: { GEOCODER_URL: `http://127.0.0.1:${(stalled.server.address() as { port: number }).port}` },
      })
      const started = performance.now()
      const response = await service.search(lisbonVisitor, { q: 'lis' }, { 'weft-timeout-ms': '100' })
      const elapsed = performance.now() - started
      assert.equal(response.status, 504)
      assert.equal(response.body.code, 'WEFT_DEADLINE_EXCEEDED')
      assert.match(response.headers.get('x-trace-id') ?? '', /^[0-9a-f]{32}$/)
      assert.ok(elapsed < 1000, `answered in ${elapsed.toFixed(0)} ms`)
    } finally {
      await stalled.close()
    }
  })

  test('answering garbage: an answer without location, naming the protocol error', async () => {
    const garbage = await fakeGeocoder(async () => ({ lat: 'north', city: 42 }))
    try {
      await using service = await start({
        env: { GEOCODER_URL: `http://127.0.0.1:${(garbage.server.address() as { port: number }).port}` },
      })
      const response = await service.search(lisbonVisitor, { q: 'lis' })
      assert.equal(response.status, 200)
      assert.equal(response.body.location, null)
      assert.match(response.body.degraded[0].error, /^ProtocolError: /)
    } finally {
      await garbage.close()
    }
  })
})

describe('memcache', () => {
  test('a memcached server killed: its rate limiters fail open, and the answers keep coming', async () => {
    await using memcached = await startMemcached({ servers: 3 })
    await using service = await start({ env: { MEMCACHE_SERVERS: memcached.addresses.join(',') } })
    const first = await service.search(lisbonVisitor, { q: 'lis' })
    assert.deepEqual(first.body.degraded, [])
    await memcached.kill(1)
    const dead = memcached.addresses[1]
    for (let i = 0; i < 3; i++) {
      const response = await service.search(
        lisbonVisitor,
        { q: 'lis' },
        { cookie: cookieOf(first) as string },
      )
      assert.equal(response.status, 200)
      assert.equal(response.body.results[0].name, 'Lisbon')
      const effects = (response.body.degraded as { backend: string; effect: string }[]).map(
        ({ backend, effect }) => `${backend}: ${effect}`,
      )
      assert.ok(
        effects.some(
          (effect) =>
            effect.startsWith(`memcache ${dead}: the `) && effect.endsWith('rate limit failed open'),
        ),
        effects.join('\n'),
      )
    }
  })

  test('the server holding a session killed: the session is read from the database, and lives on', async () => {
    await using memcached = await startMemcached({ servers: 3 })
    await using service = await start({
      worker: true,
      env: { MEMCACHE_SERVERS: memcached.addresses.join(',') },
    })
    const first = await service.search(lisbonVisitor, { q: 'lis' })
    const { id } = first.body.session
    await eventually(async () => {
      const { rows } = await db.query<{ data: { recent: string[] } }>(
        'SELECT data FROM sessions WHERE id = $1',
        [id],
      )
      assert.deepEqual(rows[0]?.data.recent, ['lis'], 'saved, with its search')
    })
    const holder = service.runtime.resources.memcache.serverFor(sessionKey(id))
    await memcached.kill(memcached.addresses.indexOf(holder))
    const second = await service.search(lisbonVisitor, { q: 'porto' }, { cookie: cookieOf(first) as string })
    assert.equal(second.status, 200)
    assert.equal(second.body.session.id, id)
    assert.deepEqual(second.body.session.recent, ['porto', 'lis'])
    assert.ok(
      second.body.degraded.some(
        ({ backend, effect }: { backend: string; effect: string }) =>
          backend === 'memcache' && effect === 'session read from the database',
      ),
    )
  })
})

describe('redis', () => {
  test('unreachable: no result is demoted, and the answer comes', async () => {
    await using service = await start({ env: { REDIS_URL: `redis://127.0.0.1:${await freePort()}` } })
    const response = await service.search(lisbonVisitor, { q: 'lis' })
    assert.equal(response.status, 200)
    assert.deepEqual(backendsOf(response), ['redis'])
    assert.equal(response.body.degraded[0].effect, 'no result demoted')
  })
})

describe('the database', () => {
  /** The service's backends with every database call refused, once `down.refusing` is set. */
  function refusable() {
    const down = { refusing: false }
    const wrap = (backends: Parameters<NonNullable<StartOptions['wrap']>>[0]) =>
      mapCalls(backends, (backend, _name, call): Call => {
        if (backend !== 'database') return call
        return (...args) =>
          down.refusing
            ? Promise.reject(
                new BackendRefused('connection refused', { backend: 'postgres', address: '127.0.0.1:5432' }),
              )
            : call(...args)
      })
    return { down, wrap }
  }

  test('refusing: a search memcache cannot answer is a 503 naming the database', async () => {
    const { down, wrap } = refusable()
    await using service = await start({ wrap })
    down.refusing = true
    const response = await service.search(lisbonVisitor, { q: 'braga' })
    assert.equal(response.status, 503)
    assert.equal(response.body.code, 'BACKEND_UNAVAILABLE')
    assert.equal(response.body.backend, 'database')
    assert.equal(response.headers.get('retry-after'), '1')
    assert.match(response.headers.get('x-trace-id') ?? '', /^[0-9a-f]{32}$/)
  })

  test('refusing: a search memcache can answer still gets its answer', async () => {
    const { down, wrap } = refusable()
    await using service = await start({ wrap })
    const headers = { 'accept-language': 'pt' }
    const warmUp = await service.search(lisbonVisitor, { q: 'braga' }, headers)
    down.refusing = true
    const response = await service.search(
      lisbonVisitor,
      { q: 'braga' },
      { ...headers, cookie: cookieOf(warmUp) as string },
    )
    assert.equal(response.status, 200)
    assert.deepEqual(response.body.results, warmUp.body.results)
    assert.deepEqual(response.body.degraded, [])
  })
})
