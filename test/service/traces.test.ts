import assert from 'node:assert/strict'
import { test } from 'node:test'
import { scope, sleep, type Trace } from 'weft'
import { withVirtualClock } from 'weft/testing'
import { TraceStore } from '../../service/traces.ts'

interface Shape {
  /** The request takes this long (on the virtual clock). */
  ms?: number
  /** How it ends. */
  outcome?: 'ok' | 'error' | 'cancelled'
  /** The trace continues this remote span (a part of another request's trace). */
  parent?: { traceId: string; spanId: string }
}

/** A finished trace of one request, `name`, with one task `work`, shaped as asked. */
async function traced(name: string, { ms = 0, outcome = 'ok', parent }: Shape = {}): Promise<Trace> {
  let trace: Trace | undefined
  const cancel = new AbortController()
  await withVirtualClock((clock) =>
    clock.run(
      scope(
        {
          name,
          trace: (t) => (trace = t),
          signal: cancel.signal,
          ...(parent && { traceParent: parent }),
        },
        async (s) => {
          await s.spawn('work', () => sleep(ms))
          if (outcome === 'error') throw new Error('backend down')
          if (outcome === 'cancelled') cancel.abort(new Error('client gone'))
        },
      ).catch(() => {}),
    ),
  )
  return trace as Trace
}

const coin =
  (...draws: number[]) =>
  () => {
    const draw = draws.shift()
    assert.ok(draw !== undefined, 'the coin was tossed more often than the test expected')
    return draw
  }

test('keeps the parts of a trace together, the request and what continued it', async () => {
  const store = new TraceStore()
  const request = await traced('GET /search')
  const continued = await traced('delivery', {
    parent: { traceId: request.id, spanId: request.root?.spanId as string },
  })
  store.add(request)
  store.add(continued)
  const spans = await store.get(request.id)
  assert.deepEqual(
    spans?.map((span) => span.name),
    ['GET /search', 'work', 'delivery', 'work'],
  )
  assert.equal(store.list()[0]?.spans, 4, 'the list counts the spans of every part')
  assert.equal(await store.get('f'.repeat(32)), undefined)
})

test('waits for a request announced as under way, holding the parts that come before it ends', async () => {
  const store = new TraceStore({ capacity: 2 })
  const request = await traced('GET /search')
  const geocoder = await traced('GET /geocode', {
    parent: { traceId: request.id, spanId: request.root?.spanId as string },
  })
  store.begin(request.id)
  const waiting = store.get(request.id, 5000)
  store.add(geocoder)
  store.add(request)
  assert.deepEqual(
    (await waiting)?.map((span) => span.name),
    ['GET /geocode', 'work', 'GET /search', 'work'],
  )
})

test('requests under way never push out a kept trace; past its capacity, the oldest kept one goes', async () => {
  const store = new TraceStore({ capacity: 2, perSecond: Number.POSITIVE_INFINITY })
  const [first, second, third] = [
    await traced('GET /search'),
    await traced('GET /search'),
    await traced('GET /search'),
  ]
  store.add(first)
  store.add(second)
  for (const id of ['a', 'b', 'c', 'd', 'e']) store.begin(id.repeat(32))
  assert.deepEqual(
    store
      .list()
      .map((summary) => summary.traceId)
      .sort(),
    [first.id, second.id].sort(),
  )
  assert.equal(store.size, 4, 'two kept, and the last two of the five requests under way')
  store.add(third)
  assert.equal(await store.get(first.id), undefined)
  assert.equal((await store.get(third.id))?.length, 2)
})

test('holds at most `capacity` requests under way: the oldest is let go, and whoever waits for it gets none', async () => {
  const store = new TraceStore({ capacity: 2 })
  store.begin('a'.repeat(32))
  store.begin('b'.repeat(32))
  const waiting = store.get('a'.repeat(32), 60_000)
  store.begin('c'.repeat(32))
  assert.equal(await waiting, undefined)
  assert.equal(store.size, 2)
})

test('samples ordinary requests with the injected coin, and always keeps errors, cancellations and slow ones', async () => {
  const store = new TraceStore({ sampleRate: 0.25, slowMs: 100, random: coin(0.9, 0.1) })
  const unlucky = await traced('GET /search', { ms: 10 })
  const lucky = await traced('GET /search', { ms: 20 })
  const failed = await traced('GET /search', { ms: 6, outcome: 'error' })
  const cancelled = await traced('GET /search', { ms: 5, outcome: 'cancelled' })
  const slow = await traced('GET /search', { ms: 100 })
  for (const trace of [unlucky, lucky, failed, cancelled, slow]) store.add(trace)
  assert.deepEqual(
    store.list().map(({ traceId, kept, status, duration }) => ({ traceId, kept, status, duration })),
    [
      { traceId: slow.id, kept: 'slow', status: 'ok', duration: 100 },
      { traceId: lucky.id, kept: 'sampled', status: 'ok', duration: 20 },
      { traceId: failed.id, kept: 'error', status: 'error', duration: 6 },
      { traceId: cancelled.id, kept: 'cancelled', status: 'cancelled', duration: 5 },
    ],
    'slowest first; the coin was tossed only for the two ordinary requests',
  )
  assert.equal(await store.get(unlucky.id), undefined)
})

test('a sample rate of 0 keeps only errors and slow requests, and never tosses the coin', async () => {
  const store = new TraceStore({ sampleRate: 0, slowMs: 50, random: coin() })
  store.add(await traced('GET /search', { ms: 10 }))
  store.add(await traced('GET /search', { ms: 60 }))
  store.add(await traced('GET /search', { outcome: 'error' }))
  assert.deepEqual(
    store.list().map((summary) => summary.kept),
    ['slow', 'error'],
  )
})

test('a request dropped by sampling wakes its waiters, and its late parts are dropped too', async () => {
  const store = new TraceStore({ sampleRate: 0.5, random: coin(0.75) })
  const request = await traced('GET /search', { ms: 1 })
  store.begin(request.id)
  const waiting = store.get(request.id, 60_000)
  store.add(request)
  assert.equal(await waiting, undefined)
  store.add(await traced('delivery', { parent: { traceId: request.id, spanId: 'a'.repeat(16) } }))
  assert.equal(store.size, 0)
  assert.equal(await store.get(request.id), undefined)
})

test('keeps at most perSecond ordinary requests a second, on weft’s clock: a burst of that many, then that many a second', async () => {
  const ordinary: Trace[] = []
  for (let i = 0; i < 12; i++) ordinary.push(await traced('GET /search', { ms: i }))
  const failed = await traced('GET /search', { outcome: 'error' })
  const slow = await traced('GET /search', { ms: 600 })
  const store = new TraceStore({ perSecond: 4 })
  const kept = (traces: Trace[]) => traces.filter((trace) => store.list().some((t) => t.traceId === trace.id))
  await withVirtualClock(async (clock) => {
    for (const trace of ordinary.slice(0, 6)) store.add(trace)
    assert.deepEqual(kept(ordinary), ordinary.slice(0, 4), 'a burst of 4, the rest dropped')
    store.add(failed)
    store.add(slow)
    assert.deepEqual(
      kept([failed, slow]),
      [failed, slow],
      'errors and slow requests are not counted against it',
    )
    await clock.advance(500) // half a second: room for 2 more
    for (const trace of ordinary.slice(6, 9)) store.add(trace)
    assert.deepEqual(kept(ordinary.slice(6, 9)), ordinary.slice(6, 8))
    await clock.advance(60_000) // a long quiet spell refills it to the burst, no more
    for (const trace of ordinary.slice(9)) store.add(trace)
    assert.deepEqual(kept(ordinary.slice(9)), ordinary.slice(9))
  })
  assert.equal(store.settings.perSecond, 4)
})

test('a perSecond below 1 keeps one now and then: one every 1 / perSecond seconds', async () => {
  const store = new TraceStore({ perSecond: 0.5 })
  const traces: Trace[] = []
  for (let i = 0; i < 3; i++) traces.push(await traced('GET /search', { ms: i }))
  const [first, second, third] = traces as [Trace, Trace, Trace]
  await withVirtualClock(async (clock) => {
    store.add(first)
    store.add(second)
    await clock.advance(2000)
    store.add(third)
  })
  assert.deepEqual(new Set(store.list().map((summary) => summary.traceId)), new Set([first.id, third.id]))
})

test('perSecond 0 keeps no ordinary request; Infinity keeps every one', async () => {
  const none = new TraceStore({ perSecond: 0 })
  const all = new TraceStore({ perSecond: Number.POSITIVE_INFINITY })
  for (let i = 0; i < 30; i++) {
    const trace = await traced('GET /search', { ms: i })
    none.add(trace)
    all.add(trace)
  }
  none.add(await traced('GET /search', { outcome: 'error' }))
  assert.deepEqual(
    none.list().map((summary) => summary.kept),
    ['error'],
  )
  assert.equal(all.list().length, 30)
})

test('lists by outcome, at most a limit, with what the list page shows', async () => {
  const store = new TraceStore()
  const ok = await traced('GET /search', { ms: 30 })
  const failed = await traced('GET /search', { ms: 20, outcome: 'error' })
  const other = await traced('GET /', { ms: 10 })
  for (const trace of [ok, failed, other]) store.add(trace)
  assert.deepEqual(
    store.list({ status: 'ok' }).map((summary) => summary.traceId),
    [ok.id, other.id],
  )
  assert.deepEqual(
    store.list({ status: 'error' }).map((summary) => summary.traceId),
    [failed.id],
  )
  assert.deepEqual(store.list({ status: 'cancelled' }), [])
  assert.deepEqual(store.list({ limit: 1 }), [
    {
      traceId: ok.id,
      name: 'GET /search',
      status: 'ok',
      duration: 30,
      start: ok.root?.start,
      spans: 2,
      kept: 'sampled',
    },
  ])
})

test("the trace pages' own requests and the probes are not kept", async () => {
  const store = new TraceStore()
  for (const name of ['GET /_weft/traces/:id', 'GET /_weft/traces', 'GET /healthz', 'GET /metrics']) {
    store.add(await traced(name))
  }
  assert.equal(store.size, 0)
  store.add(await traced('GET /healthz-report'))
  assert.equal(store.size, 1)
  const everything = new TraceStore({ ignore: () => false })
  everything.add(await traced('GET /_weft/traces'))
  assert.equal(everything.size, 1)
})

test('refuses options it cannot use', () => {
  assert.throws(
    () => new TraceStore({ capacity: 0 }),
    /options\.capacity must be a whole number of at least 1/,
  )
  assert.throws(() => new TraceStore({ capacity: 1.5 }), /options\.capacity/)
  assert.throws(() => new TraceStore({ sampleRate: 2 }), /options\.sampleRate must be a number from 0 to 1/)
  assert.throws(() => new TraceStore({ sampleRate: Number.NaN }), /options\.sampleRate/)
  assert.throws(() => new TraceStore({ slowMs: -1 }), /options\.slowMs/)
  assert.throws(
    () => new TraceStore({ perSecond: -1 }),
    /options\.perSecond must be a number, 0 or more \(Infinity for no bound\)/,
  )
  assert.throws(() => new TraceStore({ perSecond: Number.NaN }), /options\.perSecond/)
  assert.throws(() => new TraceStore({ random: 0.5 as never }), /options\.random must be a function/)
})

test('a burst of ordinary requests does not push out the failed and the slow, while they fill at most half the ring', async () => {
  const store = new TraceStore({ capacity: 4, slowMs: 50 })
  const failed = await traced('GET /search', { outcome: 'error' })
  const slow = await traced('GET /search', { ms: 60 })
  store.add(failed)
  store.add(slow)
  const ordinary: Trace[] = []
  for (let i = 0; i < 5; i++) {
    const trace = await traced('GET /search', { ms: i })
    ordinary.push(trace)
    store.add(trace)
  }
  assert.deepEqual(
    new Set(store.list().map((summary) => summary.traceId)),
    new Set([failed.id, slow.id, ordinary[3]?.id, ordinary[4]?.id]),
  )
  const more = await traced('GET /search', { ms: 1, outcome: 'cancelled' })
  store.add(more)
  assert.deepEqual(
    new Set(store.list().map((summary) => summary.traceId)),
    new Set([failed.id, slow.id, ordinary[4]?.id, more.id]),
    'over half notable: the oldest goes again, whatever it was',
  )
  store.add(await traced('GET /search', { ms: 2, outcome: 'error' }))
  assert.equal(await store.get(failed.id), undefined, 'the oldest failure went first')
  assert.equal(store.size, 4)
})
