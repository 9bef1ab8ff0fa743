import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BackendUnavailable } from 'weft'
import { embeddedMemcache } from 'weft/memcache'
import { withVirtualClock } from 'weft/testing'

describe('embeddedMemcache', () => {
  it('expires items on weft clock, to the millisecond of their TTL', async () => {
    await withVirtualClock(async (clock) => {
      const cache = embeddedMemcache()
      await cache.set('session', 'x', { ttl: 10 })
      await cache.incr('hits', 1, { initial: 1, ttl: 5 })
      await clock.advance(4_999)
      assert.equal(await cache.incr('hits'), 2n)
      await clock.advance(1)
      assert.equal(await cache.incr('hits'), undefined)
      await clock.advance(4_999)
      assert.equal((await cache.get('session'))?.toString(), 'x')
      await clock.advance(1)
      assert.equal(await cache.get('session'), undefined)
      await cache.close()
    })
  })

  it('extends the life of a touched item', async () => {
    await withVirtualClock(async (clock) => {
      const cache = embeddedMemcache()
      await cache.set('k', 'x', { ttl: 10 })
      await clock.advance(9_000)
      assert.equal(await cache.touch('k', 10), true)
      await clock.advance(9_000)
      assert.equal((await cache.get('k'))?.toString(), 'x')
      await cache.close()
    })
  })

  it('leaves no timer behind once its calls have settled', async () => {
    await withVirtualClock(async (clock) => {
      const cache = embeddedMemcache({ shards: 3 })
      await Promise.all(Array.from({ length: 20 }, (_, i) => cache.set(`k${i}`, 'v')))
      await cache.getMulti(Array.from({ length: 20 }, (_, i) => `k${i}`))
      await assert.rejects(cache.get('x', { signal: AbortSignal.abort() }))
      assert.equal(clock.pendingTimers, 0)
      await cache.close()
      assert.equal(clock.pendingTimers, 0)
    })
  })

  it('evicts the least recently used items past maxItems', async () => {
    const cache = embeddedMemcache({ maxItems: 3 })
    await cache.set('a', '1')
    await cache.set('b', '2')
    await cache.set('c', '3')
    await cache.get('a') // now b is the least recently used
    await cache.set('d', '4')
    const found = await cache.getMulti(['a', 'b', 'c', 'd'])
    assert.deepEqual([...found.keys()].sort(), ['a', 'c', 'd'])
    await cache.close()
  })

  it('evicts the least recently used items past maxBytes, counting as memcached does', async () => {
    // Each item costs 56 + (key + 1) + (value + 2) = 56 + 2 + 1002 = 1060 bytes.
    const cache = embeddedMemcache({ maxBytes: 3 * 1060 })
    for (const key of ['a', 'b', 'c', 'd']) await cache.set(key, Buffer.alloc(1000))
    const found = await cache.getMulti(['a', 'b', 'c', 'd'])
    assert.deepEqual([...found.keys()].sort(), ['b', 'c', 'd'])
    await cache.close()
  })

  it('keeps stored values apart from the buffers passed in and handed out', async () => {
    const cache = embeddedMemcache()
    const input = Buffer.from('original')
    await cache.set('k', input)
    input.fill(0)
    const output = await cache.get('k')
    output?.fill(0)
    assert.equal((await cache.get('k'))?.toString(), 'original')
    await cache.close()
  })

  it('pads a counter that got shorter with spaces, as memcached does', async () => {
    const cache = embeddedMemcache()
    assert.equal(await cache.incr('n', 1, { initial: 99 }), 99n)
    assert.equal(await cache.incr('n'), 100n)
    assert.equal(await cache.decr('n', 95), 5n)
    assert.equal((await cache.get('n'))?.toString(), '5  ')
    assert.equal(await cache.incr('n'), 6n)
    await cache.close()
  })

  it('names its shards and reports them up, then closed', async () => {
    const cache = embeddedMemcache({ shards: 2 })
    assert.deepEqual(cache.servers, ['embedded:0', 'embedded:1'])
    assert.deepEqual(
      cache.stats().map((shard) => [shard.address, shard.state]),
      [
        ['embedded:0', 'up'],
        ['embedded:1', 'up'],
      ],
    )
    await cache.close()
    assert.deepEqual(
      cache.stats().map((shard) => shard.state),
      ['closed', 'closed'],
    )
    await assert.rejects(cache.get('k'), BackendUnavailable)
  })

  it('finishes the calls under way before closing', async () => {
    const cache = embeddedMemcache()
    const pending = cache.set('k', 'v')
    await cache.close()
    await pending
    await cache.close() // idempotent
  })
})
