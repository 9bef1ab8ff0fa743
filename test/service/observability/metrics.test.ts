// GET /metrics after a few searches (answered, degraded, refused by a rate limiter, malformed), on the
// embedded backends: the series exist with their labels, and count what happened.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout } from 'node:timers/promises'
import { BackendRefused } from 'weft'
import { embeddedDatabase } from 'weft/sql'
import { memoryBackends } from '../../../service/memory-backends.ts'
import { ServiceMetrics } from '../../../service/observability/index.ts'
import { lisbonVisitor, loadTestData, memoryData, serpaVisitor } from '../fixtures.ts'
import { eventually, startService } from '../support.ts'
import { parseExposition, sampleValue, sumOf } from './exposition.ts'

test('/metrics counts requests by route and status, backend calls by outcome, cache hits, batches, rejections and the queue', async () => {
  await using db = embeddedDatabase()
  await loadTestData(db)
  await using service = await startService({
    db,
    worker: false, // the tasks stay queued: the queue's depth and age have something to show
    env: { RATE_LIMITS: 'ip=3', RATE_LIMIT_WINDOW: '86400' }, // a window that cannot roll over mid-test
    server: (runtime) => ({ metrics: new ServiceMetrics(runtime.resources) }),
    wrap: (backends) => ({
      ...backends,
      geocoder: {
        locate: async () => {
          throw new BackendRefused('connection refused', { backend: 'geocoder', address: '127.0.0.1:9' })
        },
      },
    }),
  })
  for (let i = 0; i < 3; i++) assert.equal((await service.search(lisbonVisitor, { q: 'lisb' })).status, 200)
  const refused = await service.search(lisbonVisitor, { q: 'lisb' })
  assert.equal(refused.status, 503)
  assert.equal((await service.search(serpaVisitor, { q: ' ' })).status, 400)
  assert.equal((await service.get('/nowhere/42')).status, 404)

  const response = await fetch(`${service.url}/metrics`)
  assert.equal(response.status, 200)
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
  const text = await response.text()
  assert.match(text, /# TYPE http_request_duration_seconds histogram/)
  const samples = parseExposition(text)

  const requests = (status: string, route = '/search') =>
    sampleValue(samples, 'http_request_duration_seconds_count', { method: 'GET', route, status_code: status })
  assert.equal(requests('200'), 3)
  assert.equal(requests('503'), 1)
  assert.equal(requests('400'), 1)
  assert.equal(requests('404', 'unmatched'), 1, 'an unmatched URL is one label value, not the URL')
  assert.ok(!text.includes('/nowhere/42'))
  assert.equal(
    sampleValue(samples, 'http_request_duration_seconds_bucket', {
      route: '/search',
      status_code: '200',
      le: '+Inf',
    }),
    3,
  )

  assert.equal(sampleValue(samples, 'weft_rate_limit_rejections_total', { limiter: 'ip' }), 1)

  const calls = (backend: string, call: string, outcome: string) =>
    sampleValue(samples, 'weft_backend_call_duration_seconds_count', { backend, call, outcome }) ?? 0
  assert.equal(calls('geocoder', 'locate', 'error'), 4, 'every search asked the geocoder, and it refused')
  assert.equal(
    sampleValue(samples, 'weft_backend_call_errors_total', {
      backend: 'geocoder',
      call: 'locate',
      error: 'BackendRefused',
    }),
    4,
  )
  assert.ok(calls('database', 'citiesStartingWith', 'ok') >= 1)
  assert.ok(calls('memcache', 'incr', 'ok') >= 3 * 4, 'four limiters per search answered')

  // The first search missed the attribute queries' cache and filled it; the next ones hit it.
  assert.ok((sampleValue(samples, 'weft_cache_lookups_total', { cache: 'aq', result: 'miss' }) ?? 0) >= 1)
  assert.ok((sampleValue(samples, 'weft_cache_lookups_total', { cache: 'aq', result: 'hit' }) ?? 0) >= 1)

  const batches = sampleValue(samples, 'weft_loader_total', { count: 'batches' }) ?? 0
  const keys = sampleValue(samples, 'weft_loader_total', { count: 'keys' }) ?? 0
  assert.ok(batches >= 1 && keys >= batches, `${keys} keys in ${batches} batches`)
  const roundTrips = sumOf(samples, 'weft_memcache_total', { count: 'round_trips' })
  const commands = sumOf(samples, 'weft_memcache_total', { count: 'requests' })
  assert.ok(
    roundTrips >= 1 && commands > roundTrips,
    `${commands} memcache commands in ${roundTrips} batches`,
  )
  assert.equal(samples.filter((s) => s.name === 'weft_memcache_total' && s.labels.count === 'hits').length, 4)
  assert.ok((sampleValue(samples, 'weft_sql_total', { count: 'statements' }) ?? 0) >= 1)

  // The enqueues of a search's last step may land after its response.
  await eventually(async () => {
    const later = parseExposition(await (await fetch(`${service.url}/metrics`)).text())
    assert.ok(
      (sampleValue(later, 'weft_queue_tasks', { task: 'log-ranking-decision', state: 'queued' }) ?? 0) >= 3,
    )
    assert.equal(sampleValue(later, 'weft_queue_tasks', { task: 'log-ranking-decision', state: 'done' }), 0)
    const age = sampleValue(later, 'weft_queue_oldest_due_seconds', { task: 'log-ranking-decision' })
    assert.ok(age !== undefined && age >= 0 && age < 60, `oldest task waited ${age} s`)
  })
})

test('memcache reads are counted by key kind and result, every series there from the start at 0', async () => {
  await using memory = memoryBackends(await memoryData())
  const metrics = new ServiceMetrics()
  const backends = metrics.instrument(memory.backends)
  const lookups = async () => {
    const samples = parseExposition((await metrics.scrape()).text)
    return (cache: string, result: string) =>
      sampleValue(samples, 'weft_cache_lookups_total', { cache, result })
  }
  const before = await lookups()
  for (const cache of ['session', 'network', 'aq', 'other']) {
    assert.equal(before(cache, 'hit'), 0, `${cache} hits`)
    assert.equal(before(cache, 'miss'), 0, `${cache} misses`)
  }
  await backends.memcache.set('session:abc', { visits: 1 }, 60)
  assert.deepEqual(await backends.memcache.get('session:abc'), { visits: 1 })
  assert.equal(await backends.memcache.get('session:none'), undefined)
  assert.equal(await backends.memcache.get('unlabelled'), undefined)
  assert.equal(await backends.memcache.get('sessions'), undefined)
  const after = await lookups()
  assert.equal(after('session', 'hit'), 1)
  assert.equal(after('session', 'miss'), 1, 'a kind is what comes before the colon')
  assert.equal(after('other', 'miss'), 2, 'a key of no known kind counts as other')
  assert.equal(after('aq', 'hit'), 0)
})

test('metrics: false serves no /metrics', async () => {
  await using db = embeddedDatabase()
  await loadTestData(db)
  await using service = await startService({ db, worker: false, server: () => ({ metrics: false }) })
  assert.equal((await service.get('/metrics')).status, 404)
})

test('with process: true, /metrics has the process figures, among them how late its event loop ran since the last scrape', async () => {
  const metrics = new ServiceMetrics({ process: true })
  await metrics.scrape() // the event loop's delay counts from here
  // The delay monitor samples on a 10 ms timer, overdue once the loop is let go, so it samples once
  // between two hold-ups; a sample records the time since the one before, and the first after a
  // scrape only sets where it counts from. Its timer may run before this test's `setTimeout(1)` or,
  // as that one's due time counts from the loop's time before the hold-up, after the next hold-up:
  // then the last hold-up's sample may come after the scrape. Four hold-ups make at least two
  // samples 100 ms apart either way.
  for (let i = 0; i < 4; i++) {
    const heldUntil = performance.now() + 100
    while (performance.now() < heldUntil) {
      // holding the event loop up, as a long synchronous task would
    }
    await setTimeout(1)
  }
  const samples = parseExposition((await metrics.scrape()).text)
  const late = sampleValue(samples, 'nodejs_eventloop_lag_max_seconds') ?? 0
  assert.ok(late >= 0.08, `the event loop was held up 100 ms; the metric says ${late} s`)
  assert.ok((sampleValue(samples, 'process_cpu_user_seconds_total') ?? 0) > 0)
  assert.ok((sampleValue(samples, 'nodejs_heap_size_used_bytes') ?? 0) > 0)
  const without = parseExposition((await new ServiceMetrics().scrape()).text)
  assert.deepEqual(
    without.filter((sample) => sample.name.startsWith('nodejs_') || sample.name.startsWith('process_')),
    [],
    'off by default: a process may run several servers',
  )
})

test('a backend call that throws rather than rejects is a rejection to its caller, counted as an error', async () => {
  await using memory = memoryBackends(await memoryData())
  const metrics = new ServiceMetrics()
  const backends = metrics.instrument({
    ...memory.backends,
    geocoder: {
      locate: (() => {
        throw new TypeError('bad address')
      }) as unknown as typeof memory.backends.geocoder.locate,
    },
  })
  const call = backends.geocoder.locate('203.0.113.9')
  assert.ok(call instanceof Promise)
  await assert.rejects(call, { name: 'TypeError', message: 'bad address' })
  const samples = parseExposition((await metrics.scrape()).text)
  const labels = { backend: 'geocoder', call: 'locate' }
  assert.equal(sampleValue(samples, 'weft_backend_call_errors_total', { ...labels, error: 'TypeError' }), 1)
  assert.equal(
    sampleValue(samples, 'weft_backend_call_duration_seconds_count', { ...labels, outcome: 'error' }),
    1,
  )
})
