import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { AbortError, ProtocolError } from 'weft'
import type { Memcache, MemcacheOptions, MemcacheShardStats } from 'weft/memcache'
import { eventually } from './eventually.ts'

/** Makes a client of the implementation under test, with these options, over 3 shards. */
export type MemcacheFactory = (options?: MemcacheOptions) => Memcache

function total(stats: MemcacheShardStats[], counter: 'roundTrips' | 'requests'): number {
  return stats.reduce((sum, shard) => sum + shard[counter], 0)
}

/**
 * The behaviour every `Memcache` shares, run against memcached over real sockets and against the
 * embedded shards: a difference between them fails here.
 */
export function memcacheContract(name: string, create: MemcacheFactory): void {
  describe(`Memcache contract: ${name}`, () => {
    const run = randomUUID().slice(0, 8)
    let cache: Memcache
    let keys = 0
    const key = (label: string): string => `contract:${run}:${++keys}:${label}`
    before(() => {
      cache = create()
    })
    after(() => cache.close())

    it('has three shards and spreads keys over all of them', () => {
      assert.equal(cache.servers.length, 3)
      const used = new Set(Array.from({ length: 300 }, (_, i) => cache.serverFor(`spread:${i}`)))
      assert.deepEqual([...used].sort(), [...cache.servers].sort())
    })

    it('gives undefined for a key never stored', async () => {
      assert.equal(await cache.get(key('missing')), undefined)
      assert.equal(await cache.gets(key('missing')), undefined)
    })

    it('returns the bytes stored, strings as UTF-8, binary and empty values intact', async () => {
      const text = key('text')
      const binary = key('binary')
      const empty = key('empty')
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
      await Promise.all([cache.set(text, 'héllo wörld ✓'), cache.set(binary, bytes), cache.set(empty, '')])
      assert.equal((await cache.get(text))?.toString(), 'héllo wörld ✓')
      assert.deepEqual(await cache.get(binary), bytes)
      assert.deepEqual(await cache.get(empty), Buffer.alloc(0))
    })

    it('replaces the value on set, with its flags; the CAS token changes with every write', async () => {
      const k = key('replace')
      await cache.set(k, 'one', { flags: 7 })
      const first = await cache.gets(k)
      await cache.set(k, 'two', { flags: 0xffff_ffff })
      const second = await cache.gets(k)
      assert.equal(first?.value.toString(), 'one')
      assert.equal(first?.flags, 7)
      assert.equal(second?.value.toString(), 'two')
      assert.equal(second?.flags, 0xffff_ffff)
      assert.equal(typeof second?.cas, 'bigint')
      assert.notEqual(second?.cas, first?.cas)
    })

    it('adds only when the key holds nothing', async () => {
      const k = key('add')
      assert.equal(await cache.add(k, 'first'), true)
      assert.equal(await cache.add(k, 'second'), false)
      assert.equal((await cache.get(k))?.toString(), 'first')
    })

    it('replaces only when the key holds a value', async () => {
      const k = key('replace-only')
      assert.equal(await cache.replace(k, 'nothing to replace'), false)
      assert.equal(await cache.get(k), undefined)
      await cache.set(k, 'old')
      assert.equal(await cache.replace(k, 'new'), true)
      assert.equal((await cache.get(k))?.toString(), 'new')
    })

    it('compares and swaps: stores with the current token only', async () => {
      const k = key('cas')
      await cache.set(k, 'v1')
      const item = await cache.gets(k)
      assert.ok(item !== undefined)
      await cache.set(k, 'changed meanwhile')
      assert.equal(await cache.cas(k, 'v2', item.cas), false)
      const current = await cache.gets(k)
      assert.ok(current !== undefined)
      assert.equal(await cache.cas(k, 'v3', current.cas), true)
      assert.equal((await cache.get(k))?.toString(), 'v3')
      assert.equal(await cache.cas(key('cas-missing'), 'x', current.cas), false)
    })

    it('deletes, and says whether there was an item', async () => {
      const k = key('delete')
      await cache.set(k, 'x')
      assert.equal(await cache.delete(k), true)
      assert.equal(await cache.get(k), undefined)
      assert.equal(await cache.delete(k), false)
    })

    it('touches, and says whether there was an item', async () => {
      const k = key('touch')
      await cache.set(k, 'x', { ttl: 100 })
      assert.equal(await cache.touch(k, 3600), true)
      assert.equal((await cache.get(k))?.toString(), 'x')
      assert.equal(await cache.touch(key('touch-missing'), 10), false)
    })

    it('lets items expire after their TTL', async () => {
      const k = key('ttl')
      const kept = key('ttl-kept')
      await Promise.all([cache.set(k, 'short-lived', { ttl: 1 }), cache.set(kept, 'kept')])
      // memcached counts TTLs in whole seconds of its own clock: the item goes within 2 s.
      await eventually(async () => assert.equal(await cache.get(k), undefined), 3000)
      assert.equal((await cache.get(kept))?.toString(), 'kept')
    })

    it('keeps an item whose TTL is over 30 days (sent as a Unix time, not read as one)', async () => {
      const k = key('long-ttl')
      await cache.set(k, 'x', { ttl: 60 * 60 * 24 * 365 })
      assert.equal((await cache.get(k))?.toString(), 'x')
      assert.equal(await cache.incr(key('long-ttl-counter'), 1, { initial: 5, ttl: 60 * 60 * 24 * 40 }), 5n)
    })

    it('counts: a missing counter stays missing unless created with an initial value', async () => {
      const k = key('counter')
      assert.equal(await cache.incr(k), undefined)
      assert.equal(await cache.get(k), undefined)
      assert.equal(await cache.incr(k, 5, { initial: 10 }), 10n) // created: the delta is not applied
      assert.equal(await cache.incr(k, 5, { initial: 10 }), 15n)
      assert.equal(await cache.incr(k), 16n)
      assert.equal(await cache.decr(k, 6), 10n)
      assert.equal(await cache.decr(k, 100), 0n) // stops at 0
      assert.equal((await cache.get(k))?.toString().trim(), '0') // decr may leave trailing spaces
      assert.equal(await cache.decr(key('counter-missing')), undefined)
    })

    it('counts in unsigned 64 bits, wrapping on overflow', async () => {
      const k = key('wrap')
      const max = 2n ** 64n - 1n
      assert.equal(await cache.incr(k, 0, { initial: max }), max)
      assert.equal(await cache.incr(k, 2n), 1n)
    })

    it('counts atomically under concurrent increments', async () => {
      const k = key('atomic')
      await cache.set(k, '0')
      const results = await Promise.all(Array.from({ length: 50 }, () => cache.incr(k)))
      assert.deepEqual(
        results.map(Number).sort((a, b) => a - b),
        Array.from({ length: 50 }, (_, i) => i + 1),
      )
    })

    it('fails an increment of a non-number with a ProtocolError naming the shard, and keeps working', async () => {
      const k = key('not-a-number')
      await cache.set(k, 'abc')
      await assert.rejects(cache.incr(k), (error) => {
        assert.ok(error instanceof ProtocolError)
        assert.equal(error.backend, 'memcache')
        assert.equal(error.address, cache.serverFor(k))
        assert.match(error.message, /non-numeric/)
        return true
      })
      assert.equal((await cache.get(k))?.toString(), 'abc')
    })

    it('stores the largest item that fits, and refuses a larger one, dropping the old value', async () => {
      const k = key('size')
      // memcached's limit (1 MiB by default) counts a 56-byte header, the key and a \0, the value and \r\n.
      const largest = 2 ** 20 - 56 - (Buffer.byteLength(k) + 1) - 2
      await cache.set(k, Buffer.alloc(largest, 'a'))
      assert.equal((await cache.get(k))?.length, largest)
      await assert.rejects(cache.set(k, Buffer.alloc(largest + 1, 'b')), (error) => {
        assert.ok(error instanceof ProtocolError)
        assert.match(error.message, /too large/)
        return true
      })
      assert.equal(await cache.get(k), undefined)
      await cache.set(k, 'small again')
      assert.equal((await cache.get(k))?.toString(), 'small again')
    })

    it('gets many keys across shards at once, returning the hits', async () => {
      const present = Array.from({ length: 30 }, (_, i) => key(`multi-${i}`))
      await Promise.all(present.map((k) => cache.set(k, `value of ${k}`)))
      const missing = key('multi-missing')
      const found = await cache.getMulti([...present, missing, present[0] as string])
      assert.equal(found.size, present.length)
      for (const k of present) assert.equal(found.get(k)?.toString(), `value of ${k}`)
      assert.equal(found.has(missing), false)
      assert.deepEqual(await cache.getMulti([]), new Map())
    })

    it('stores and reads JSON', async () => {
      const k = key('json')
      await cache.setJson(k, { user: 7, tags: ['a', 'b'] })
      assert.deepEqual(await cache.getJson(k), { user: 7, tags: ['a', 'b'] })
      assert.equal(await cache.getJson(key('json-missing')), undefined)
      await cache.set(k, 'not json')
      await assert.rejects(cache.getJson(k), SyntaxError)
    })

    it('takes UTF-8 keys and keys of 250 bytes', async () => {
      const utf8 = key('clé-ключ-鍵')
      const longest = key('long').padEnd(250, 'x')
      await Promise.all([cache.set(utf8, 'u'), cache.set(longest, 'l')])
      assert.equal((await cache.get(utf8))?.toString(), 'u')
      assert.equal((await cache.get(longest))?.toString(), 'l')
    })

    it('takes any key, spaces and newlines included, with base64 keys', async () => {
      const base64 = create({ keyEncoding: 'base64' })
      try {
        const k = `${key('base64')} with spaces\r\nand a newline`
        await base64.set(k, 'ok')
        assert.equal((await base64.get(k))?.toString(), 'ok')
        assert.equal(await base64.incr(k, 1, { initial: 1 }).catch((error) => error.name), 'ProtocolError')
        assert.equal(await base64.delete(k), true)
      } finally {
        await base64.close()
      }
    })

    it('sends the gets of one turn to each shard as one round trip', async () => {
      const keys = Array.from({ length: 100 }, (_, i) => key(`turn-${i}`))
      await Promise.all(keys.map((k) => cache.set(k, k)))
      const before = total(cache.stats(), 'roundTrips')
      const values = await Promise.all(keys.map((k) => cache.get(k)))
      assert.deepEqual(
        values.map((value) => value?.toString()),
        keys,
      )
      assert.equal(total(cache.stats(), 'roundTrips') - before, 3)
      const oneByOne = total(cache.stats(), 'roundTrips')
      for (const k of keys.slice(0, 10)) await cache.get(k)
      assert.equal(total(cache.stats(), 'roundTrips') - oneByOne, 10)
    })

    it('sends identical gets of one turn once', async () => {
      const k = key('shared')
      await cache.set(k, 'x')
      const before = total(cache.stats(), 'requests')
      const values = await Promise.all([cache.get(k), cache.get(k), cache.get(k)])
      assert.deepEqual(values.map(String), ['x', 'x', 'x'])
      assert.equal(total(cache.stats(), 'requests') - before, 1)
    })

    it('never sends a call cancelled before its batch left', async () => {
      const controller = new AbortController()
      const before = total(cache.stats(), 'requests')
      const cancelled = cache.get(key('cancelled'), { signal: controller.signal })
      const kept = cache.get(key('kept'))
      controller.abort(new Error('user went away'))
      await assert.rejects(
        cancelled,
        (error) => error instanceof AbortError && /user went away/.test(error.message),
      )
      assert.equal(await kept, undefined)
      assert.equal(total(cache.stats(), 'requests') - before, 1)
    })
  })
}
