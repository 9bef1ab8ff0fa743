// The seed's behaviours, one by one, over HTTP: one suite, run on the embedded defaults
// (server.test.ts) and on PostgreSQL, Redis and three memcached servers (real-backends.test.ts).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { SpanData } from 'weft'
import type { Database } from 'weft/sql'
import { countingCalls } from '../../service/backend-modes.ts'
import { lisbonVisitor, usVisitor } from './fixtures.ts'
import { cookieOf, eventually, queueDrained, type StartOptions, startService } from './support.ts'
import { depth, descendants, peakConcurrency } from './trace-shape.ts'

/** What a suite runs on: a database loaded with the test data, and the variables naming the servers. */
export interface Backing {
  db: Database
  env: Record<string, string>
  close(): Promise<void>
}

const portuguese = { 'accept-language': 'pt-PT,pt;q=0.9,en;q=0.8' }

/** A visitor's address no other test uses, so that rate limits and caches start from nothing. */
let visitors = 0
function freshVisitor(): string {
  visitors += 1
  return `94.132.${visitors}.${Math.floor(Math.random() * 250) + 1}`
}

/** Runs the suite on the backends `open` provides. */
export function searchSuite(label: string, open: () => Promise<Backing>): void {
  describe(`the search service over HTTP, on ${label}`, () => {
    let backing: Backing
    before(async () => {
      backing = await open()
    })
    after(() => backing.close())
    const start = (options: Omit<StartOptions, 'db'> = {}) =>
      startService({ ...options, db: backing.db, env: { ...backing.env, ...options.env } })

    test('answers a search with ranked places and their reasons, the location, the session and the trace id', async () => {
      await using service = await start()
      const response = await service.search(lisbonVisitor, { q: 'lisb', limit: '3' }, portuguese)
      assert.equal(response.status, 200)
      const { results, location, session, traceId, degraded } = response.body
      assert.equal(results[0].name, 'Lisbon')
      assert.equal(results[0].country, 'PT')
      for (const result of results) {
        assert.deepEqual(Object.keys(result).sort(), [
          'country',
          'id',
          'lat',
          'lon',
          'name',
          'population',
          'score',
          'why',
        ])
        assert.ok(result.why.length > 0)
      }
      assert.ok(results.length <= 3)
      assert.equal(location.country, 'PT')
      assert.equal(location.city, 'Queluz')
      assert.equal(session.new, true)
      assert.match(traceId, /^[0-9a-f]{32}$/)
      assert.equal(response.headers.get('x-trace-id'), traceId)
      assert.deepEqual(degraded, [])
    })

    test('creates a session once (a signed HttpOnly, SameSite=Lax cookie), then reuses it', async () => {
      await using service = await start()
      const ip = freshVisitor()
      const first = await service.search(ip, { q: 'porto' })
      const setCookie = first.headers.get('set-cookie') ?? ''
      assert.match(setCookie, /^sid=[\w-]{22}\.[\w-]{43}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/)
      const cookie = cookieOf(first) as string
      const second = await service.search(ip, { q: 'braga' }, { cookie })
      const third = await service.search(freshVisitor(), { q: 'faro' }, { cookie })
      assert.equal(second.headers.get('set-cookie'), null, 'no new cookie for an existing session')
      assert.equal(third.headers.get('set-cookie'), null)
      assert.equal(second.body.session.id, first.body.session.id)
      assert.equal(third.body.session.id, first.body.session.id)
      assert.deepEqual([first.body.session.new, second.body.session.new], [true, false])
      assert.deepEqual(third.body.session.recent, ['faro', 'braga', 'porto'])
      assert.equal(third.body.session.searches, 3)
    })

    test('the worker saves the session and logs each ranking decision', async () => {
      await using service = await start()
      const first = await service.search(freshVisitor(), { q: 'coimbra' })
      const cookie = cookieOf(first) as string
      const second = await service.search(freshVisitor(), { q: 'aveiro' }, { cookie })
      await eventually(async () => {
        const { rows: sessions } = await backing.db.query<{ data: { searches: number; recent: string[] } }>(
          'SELECT data FROM sessions WHERE id = $1',
          [first.body.session.id],
        )
        assert.deepEqual(sessions[0]?.data.recent, ['aveiro', 'coimbra'])
        assert.equal(sessions[0]?.data.searches, 2)
      })
      await eventually(async () => {
        const { rows: logged } = await backing.db.query<{ query: string; results: { name: string }[] }>(
          'SELECT query, results FROM ranking_log WHERE trace_id = ANY($1) ORDER BY id',
          [[first.body.traceId, second.body.traceId]],
        )
        assert.deepEqual(logged.map(({ query, results }) => [query, results[0]?.name]).sort(), [
          ['aveiro', 'Aveiro'],
          ['coimbra', 'Coimbra'],
        ])
      })
    })

    test('over the rate limit: a 503 with Retry-After, the rest cancelled, and no session or ranking log', async () => {
      await using service = await start({ env: { RATE_LIMITS: 'ip=2' } })
      const ip = freshVisitor()
      for (let i = 0; i < 2; i++) assert.equal((await service.search(ip, { q: 'sintra' })).status, 200)
      const refused = await service.search(ip, { q: 'sintra' })
      assert.equal(refused.status, 503)
      assert.equal(refused.body.code, 'RATE_LIMITED')
      assert.equal(refused.body.limiter, 'ip')
      const retryAfter = Number(refused.headers.get('retry-after'))
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After: ${retryAfter}`)
      assert.equal(refused.headers.get('set-cookie'), null)

      const traceId = refused.headers.get('x-trace-id')
      const trace = await service.get(`/_weft/traces/${traceId}`)
      const spans: SpanData[] = trace.body.spans
      assert.ok(
        spans.some((span) => span.status === 'cancelled'),
        'the work still running when the limit said no was cancelled',
      )
      await queueDrained(service.runtime.resources.queue)
      const { rows } = await backing.db.query('SELECT 1 FROM ranking_log WHERE trace_id = $1', [traceId])
      assert.deepEqual(rows, [], 'no ranking log for the refused request')
      assert.ok(
        spans.every((span) => !span.name.startsWith('enqueue')),
        'nothing was enqueued for the refused request',
      )
    })

    test('a warm cache issues no SQL', async () => {
      let counts: (() => Record<string, number>) | undefined
      await using service = await start({
        wrap: (backends) => {
          const counting = countingCalls(backends)
          counts = counting.counts
          return counting.backends
        },
      })
      const ip = freshVisitor()
      const cold = await service.search(ip, { q: 'evora' }, portuguese)
      const cookie = cookieOf(cold) as string
      const before = counts?.().database ?? 0
      assert.ok(before > 0, 'the cold request went to the database')
      const warm = await service.search(ip, { q: 'evora' }, { ...portuguese, cookie })
      assert.equal(warm.status, 200)
      assert.deepEqual(warm.body.results, cold.body.results)
      assert.equal((counts?.().database ?? 0) - before, 0, 'no database call')
      const spans: SpanData[] = (await service.get(`/_weft/traces/${warm.body.traceId}`)).body.spans
      const worker = spans.filter((span) => span.kind === 'consumer' || span.name.startsWith('queue.process'))
      const fromWorker = new Set(worker.flatMap((span) => [span, ...descendants(spans, span)]))
      const statements = spans.filter((span) => span.name === 'sql.query' && !fromWorker.has(span))
      assert.deepEqual(
        statements.map((span) => span.name),
        [],
        "no SQL statement in the request's trace (the worker's own writes aside)",
      )
    })

    test("a request's trace has the seed's shape: 5 layers deep, 10 calls in flight at once", async () => {
      await using service = await start()
      const ip = freshVisitor()
      const first = await service.search(ip, { q: 'lisboa' }, portuguese)
      const response = await service.search(
        ip,
        { q: 'l' },
        { ...portuguese, cookie: cookieOf(first) as string },
      )
      const trace = await service.get(`/_weft/traces/${response.body.traceId}`)
      assert.equal(trace.status, 200)
      const spans: SpanData[] = trace.body.spans
      assert.ok(depth(spans) >= 5, `depth ${depth(spans)}`)
      assert.ok(peakConcurrency(spans, 'task') >= 10, `peak ${peakConcurrency(spans, 'task')} tasks`)
      const names = new Set(spans.map((span) => span.name))
      for (const step of [
        'geocode',
        'rate limits',
        'session',
        'query text',
        'query recent searches',
        'finish',
      ]) {
        assert.ok(names.has(step), `the trace shows "${step}"`)
      }
    })

    test('a visitor the geocoder cannot place gets an answer without location', async () => {
      await using service = await start()
      const response = await service.search(usVisitor, { q: 'lis' }, { 'accept-language': 'en' })
      assert.equal(response.status, 200)
      assert.equal(response.body.location.country, 'US')
      const local = await service.get('/search?q=lis')
      assert.equal(local.status, 200)
      assert.equal(local.body.location, null, '127.0.0.1 is nowhere')
      assert.deepEqual(local.body.degraded, [], 'not knowing a place is no failure')
    })
  })
}
