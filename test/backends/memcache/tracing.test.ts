import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { currentSpan, type Span, scope, type Trace } from 'weft'
import { embeddedMemcache, memcacheClient } from 'weft/memcache'
import { emptyCache, fakeServer } from './fake-server.ts'

/** Runs `fn` as a traced request and returns its finished trace. */
async function traced(fn: () => Promise<unknown>): Promise<Trace> {
  let trace: Trace | undefined
  await scope({ name: 'request', trace: (finished) => (trace = finished) }, fn)
  assert.ok(trace !== undefined)
  return trace
}

function named(trace: Trace, name: string): Span[] {
  return trace.spans.filter((span) => span.name === name)
}

describe('memcache tracing', () => {
  it('records a client span per call, with the shard and whether it hit', async () => {
    const cache = embeddedMemcache({ shards: 2 })
    await cache.set('present', 'four')
    const trace = await traced(() => Promise.all([cache.get('present'), cache.get('absent')]))
    const gets = named(trace, 'memcache.get')
    assert.equal(gets.length, 2)
    const [hit, miss] = gets
    assert.equal(hit?.kind, 'client')
    assert.equal(hit?.status, 'ok')
    assert.equal(hit?.parent, trace.root)
    const sameShard = cache.serverFor('present') === cache.serverFor('absent')
    assert.deepEqual(hit?.attributes, {
      'db.system': 'memcached',
      'db.operation.name': 'get',
      'server.address': cache.serverFor('present'),
      'memcache.batch.size': sameShard ? 2 : 1,
      'memcache.hit': true,
      'memcache.bytes': 4,
    })
    assert.equal(miss?.attributes['memcache.hit'], false)
    await cache.close()
  })

  it("ends a call's span, with what its result says, before its caller resumes", async () => {
    const cache = embeddedMemcache()
    await cache.set('present', 'four')
    await traced(async () => {
      const { trace } = currentSpan() as Span
      await cache.get('present')
      const [get] = named(trace, 'memcache.get')
      assert.equal(get?.status, 'ok')
      assert.equal(get?.attributes['memcache.hit'], true)
      await cache.close()
      await assert.rejects(cache.get('present'), { name: 'BackendUnavailable' })
      const [, refused] = named(trace, 'memcache.get')
      assert.equal(refused?.status, 'error')
      assert.match(refused?.error ?? '', /the client is closed/)
    })
  })

  it('records a span per batch with its shard, size, bytes, hits and misses', async () => {
    const cache = embeddedMemcache()
    await Promise.all([cache.set('a', 'xx'), cache.set('b', 'yyy')])
    const trace = await traced(() => Promise.all([cache.get('a'), cache.get('b'), cache.get('c')]))
    const [batch, ...others] = named(trace, 'memcache.batch')
    assert.equal(others.length, 0)
    assert.equal(batch?.kind, 'batch')
    assert.equal(batch?.parent, trace.root)
    assert.deepEqual(batch?.attributes, {
      'db.system': 'memcached',
      'server.address': 'embedded:0',
      'memcache.batch.size': 3,
      'memcache.batch.calls': 3,
      'memcache.bytes_out': 0,
      'memcache.bytes_in': 5,
      'memcache.hits': 2,
      'memcache.misses': 1,
    })
    await cache.close()
  })

  it('reports a batch shared by two requests to each of them', async () => {
    const cache = embeddedMemcache()
    const [first, second, third] = await Promise.all([
      traced(() => Promise.all([cache.get('one'), cache.get('two')])),
      traced(() => Promise.all([cache.get('three'), cache.get('four'), cache.get('five')])),
      traced(() => cache.get('six')),
    ])
    const [batchOfFirst] = named(first as Trace, 'memcache.batch')
    assert.equal(batchOfFirst?.attributes['memcache.batch.size'], 6)
    assert.equal(batchOfFirst?.attributes['memcache.batch.calls'], 2)
    assert.equal(named(second as Trace, 'memcache.batch')[0]?.attributes['memcache.batch.calls'], 3)
    // The third request's one call: no batch span, its call's span says the batch's size.
    assert.equal(named(third as Trace, 'memcache.batch').length, 0)
    assert.equal(named(third as Trace, 'memcache.get')[0]?.attributes['memcache.batch.size'], 6)
    await cache.close()
  })

  it("records no batch span for a request's only call in a batch: the call's span says the batch's size", async () => {
    const cache = embeddedMemcache()
    await cache.set('present', 'four')
    const trace = await traced(async () => {
      await cache.get('present')
      await Promise.all([cache.get('a'), cache.getMulti(['b'])])
    })
    assert.deepEqual(
      trace.spans.map((span) => span.name),
      ['request', 'memcache.get', 'memcache.get', 'memcache.getMulti', 'memcache.batch'],
    )
    const [alone, inBatch] = named(trace, 'memcache.get')
    assert.equal(alone?.attributes['memcache.batch.size'], 1)
    assert.equal(alone?.attributes['memcache.hit'], true)
    assert.equal(inBatch?.attributes['memcache.batch.size'], 2)
    // A getMulti's span is shared by its calls (one per shard): it says their shards, not a batch size.
    assert.equal(named(trace, 'memcache.getMulti')[0]?.attributes['memcache.batch.size'], undefined)
    assert.equal(named(trace, 'memcache.batch')[0]?.attributes['memcache.batch.calls'], 2)
    await cache.close()
  })

  it('records one span for a getMulti, with its keys, shards, hits and misses', async () => {
    const cache = embeddedMemcache({ shards: 3 })
    await cache.set('k1', 'v')
    const trace = await traced(() => cache.getMulti(['k1', 'k2', 'k3']))
    const [span] = named(trace, 'memcache.getMulti')
    assert.equal(named(trace, 'memcache.get').length, 0)
    assert.equal(span?.attributes['memcache.keys'], 3)
    assert.equal(span?.attributes['memcache.hits'], 1)
    assert.equal(span?.attributes['memcache.misses'], 2)
    assert.deepEqual(
      [...((span?.attributes['memcache.shards'] ?? []) as string[])].sort(),
      [...new Set(['k1', 'k2', 'k3'].map((key) => cache.serverFor(key)))].sort(),
    )
    await cache.close()
  })

  it('marks the span of a failed call as an error and of a cancelled one as cancelled', async () => {
    const cache = embeddedMemcache()
    await cache.set('text', 'abc')
    const trace = await traced(async () => {
      await assert.rejects(cache.incr('text'))
      await assert.rejects(cache.get('k', { signal: AbortSignal.abort() }))
    })
    const [incr] = named(trace, 'memcache.incr')
    const [get] = named(trace, 'memcache.get')
    assert.equal(incr?.status, 'error')
    assert.match(incr?.error ?? '', /ProtocolError: .*non-numeric/)
    assert.equal(get?.status, 'cancelled')
    await cache.close()
  })

  it('counts the bytes on the wire of a memcached batch', async () => {
    const server = await fakeServer(emptyCache)
    const cache = memcacheClient({ servers: [server.address] })
    try {
      const trace = await traced(() => Promise.all([cache.get('k'), cache.get('j')]))
      const [batch] = named(trace, 'memcache.batch')
      assert.equal(batch?.attributes['memcache.bytes_out'], 'mg k v\r\nmg j v\r\nmn\r\n'.length)
      assert.equal(batch?.attributes['memcache.bytes_in'], 'EN\r\nEN\r\nMN\r\n'.length)
      assert.equal(batch?.attributes['memcache.misses'], 2)
      assert.equal(batch?.attributes['server.address'], server.address)
    } finally {
      await cache.close()
      await server.close()
    }
  })
})
