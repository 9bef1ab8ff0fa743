// memcacheStore: the shared cache's store over memcache, on 3 real memcached servers and on the
// embedded shards; its expiry on the active clock, prefixes, bad input, and servers that are down.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { BackendUnavailable } from 'weft'
import { sharedCache } from 'weft/batch'
import { embeddedMemcache, type Memcache, memcacheClient, memcacheStore } from 'weft/memcache'
import { withVirtualClock } from 'weft/testing'
import { freePort } from '../../../src/testing/free-port.ts'
import { type MemcachedServers, startMemcached } from '../../../src/testing/memcached.ts'

let memcached: MemcachedServers
before(async () => {
  memcached = await startMemcached({ servers: 3 })
})
after(() => memcached.stop())

const kinds: [string, () => Memcache][] = [
  ['3 memcached servers over TCP', () => memcacheClient({ servers: memcached.addresses })],
  ['embedded, 3 shards', () => embeddedMemcache({ shards: 3 })],
]

for (const [kind, create] of kinds) {
  describe(`memcacheStore: ${kind}`, () => {
    // Keys of this run alone: the servers outlive the test, and other tests share them.
    const prefix = `cache-store:${randomUUID().slice(0, 8)}:`
    let memcache: Memcache
    before(() => {
      memcache = create()
    })
    after(() => memcache.close())

    it('gives back what it stored, as JSON, until it is deleted', async () => {
      const store = memcacheStore(memcache, { prefix })
      const value = { id: 7, tags: ['a', 'b'], score: 1.5, missing: null }
      await store.set('user:7', value, 60_000)
      assert.deepEqual(await store.get('user:7'), value)
      assert.equal(await store.get('user:8'), undefined)
      await store.delete('user:7')
      assert.equal(await store.get('user:7'), undefined)
    })

    it('keeps an entry no longer than its time to live, below a second too, on the active clock', async () => {
      await withVirtualClock(async (clock) => {
        const store = memcacheStore(memcache, { prefix })
        await store.set('short', 'soon gone', 500)
        await clock.advance(499)
        assert.equal(await store.get('short'), 'soon gone')
        await clock.advance(1)
        assert.equal(await store.get('short'), undefined)
      })
    })

    it('stores for no time by removing what was there', async () => {
      const store = memcacheStore(memcache, { prefix })
      await store.set('zero', 'first', 60_000)
      await store.set('zero', 'second', 0)
      assert.equal(await store.get('zero'), undefined)
    })

    it('keeps caches with different prefixes apart, and reads nothing it did not write', async () => {
      const a = memcacheStore(memcache, { prefix: `${prefix}a:` })
      const b = memcacheStore(memcache, { prefix: `${prefix}b:` })
      await a.set('key', 'of a', 60_000)
      await b.set('key', 'of b', 60_000)
      assert.deepEqual([await a.get('key'), await b.get('key')], ['of a', 'of b'])
      await memcache.setJson(`${prefix}foreign`, { value: 'not an entry' })
      await memcache.set(`${prefix}bytes`, 'not JSON of an entry either: 42')
      const store = memcacheStore(memcache, { prefix })
      assert.equal(await store.get('foreign'), undefined)
      await assert.rejects(store.get('bytes'), SyntaxError)
    })

    it('serves a shared cache: what one process loaded is a hit for the others', async () => {
      const options = { store: memcacheStore(memcache, { prefix: `${prefix}shared:` }), ttl: 60_000 }
      const [first, second] = [sharedCache(options), sharedCache(options)]
      let loads = 0
      const load = async () => ({ loaded: ++loads })
      assert.deepEqual(await first.getOrLoad('k', load), { loaded: 1 })
      assert.deepEqual(await second.getOrLoad('k', load), { loaded: 1 })
      assert.equal(loads, 1)
    })
  })
}

describe('memcacheStore: bad input', () => {
  const memcache = embeddedMemcache()
  after(() => memcache.close())

  it('refuses what is not a memcache client, and options that are not', () => {
    assert.throws(() => memcacheStore(undefined as never), {
      name: 'TypeError',
      message:
        /memcacheStore\(\): memcache must be a weft\/memcache client, got undefined without getJson, setJson, delete/,
    })
    assert.throws(() => memcacheStore(memcache, { prefix: 5 as never }), /options\.prefix must be a string/)
    assert.throws(() => memcacheStore(memcache, 'x' as never), /memcacheStore\(\)/)
  })

  it('rejects a time to live that is not a duration, and a key memcache cannot take', async () => {
    const store = memcacheStore(memcache, { prefix: 'p:' })
    await assert.rejects(store.set('k', 1, -1), /MemcacheStore\.set\(\): ttlMs must be a finite number/)
    await assert.rejects(store.set('k', 1, Number.NaN), /ttlMs/)
    await assert.rejects(store.get('k'.repeat(250)), { name: 'TypeError' })
  })
})

describe('memcacheStore: servers that are down', () => {
  it('fails with the backend error; a shared cache over it loads from the source and reports it', async () => {
    const memcache = memcacheClient({ servers: [`127.0.0.1:${await freePort()}`], timeout: 2000 })
    try {
      const store = memcacheStore(memcache)
      const reported: unknown[] = []
      const cache = sharedCache({ store, ttl: 60_000, onError: (error) => reported.push(error) })
      assert.equal(await cache.getOrLoad('k', async () => 'from the source'), 'from the source')
      await cache.idle()
      // The read (refused, which marks the server down), then the write of what was loaded (failing
      // fast): neither failed the lookup.
      assert.deepEqual(
        reported.map((error) => (error as Error).name),
        ['BackendRefused', 'BackendUnavailable'],
      )
      await assert.rejects(store.get('k'), (error) => error instanceof BackendUnavailable)
    } finally {
      await memcache.close()
    }
  })
})
