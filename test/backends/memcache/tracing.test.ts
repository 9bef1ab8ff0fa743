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
    assert.deepEqual(hit?.attributes, {
      'db.system': 'memcached',
      'db.operation.name': 'get',
      'server.address': cache.serverFor('present'),
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
    const [first, second] = await Promise.all([
      traced(() => cache.get('one')),
      traced(() => Promise.all([cache.get('two'), cache.get('three')])),
    ])
    assert.equal(named(first as Trace, 'memcache.batch')[0]?.attributes['memcache.batch.size'], 3)
    assert.equal(named(first as Trace, 'memcache.batch')[0]?.attributes['memcache.batch.calls'], 1)
    assert.equal(named(second as Trace, 'memcache.batch')[0]?.attributes['memcache.batch.calls'], 2)
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
      const trace = await traced(() => cache.get('k'))
      const [batch] = named(trace, 'memcache.batch')
      assert.equal(batch?.attributes['memcache.bytes_out'], 'mg k v\r\nmn\r\n'.length)
      assert.equal(batch?.attributes['memcache.bytes_in'], 'EN\r\nMN\r\n'.length)
      assert.equal(batch?.attributes['memcache.misses'], 1)
      assert.equal(batch?.attributes['server.address'], server.address)
    } finally {
      await cache.close()
      await server.close()
    }
  })
})
