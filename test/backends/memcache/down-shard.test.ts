import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { BackendRefused, BackendTimeout, BackendUnavailable, systemClock } from 'weft'
import { type Memcache, memcacheClient } from 'weft/memcache'
import { freePort } from '../../../src/testing/free-port.ts'
import { type MemcachedServers, startMemcached } from '../../../src/testing/memcached.ts'
import { eventually } from './eventually.ts'
import { fakeServer } from './fake-server.ts'

/** Rejects with what `call` rejects with, and how long that took in ms. */
async function failure(call: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const start = systemClock.now()
  try {
    await call
  } catch (error) {
    return { error, ms: systemClock.now() - start }
  }
  throw new Error('the call succeeded')
}

describe('a server that refuses connections', () => {
  it('fails the first calls with BackendRefused, then fails fast with BackendUnavailable naming it', async () => {
    const address = `127.0.0.1:${await freePort()}`
    const cache = memcacheClient({
      servers: [address],
      timeout: 5000,
      reconnect: { min: 60_000, max: 60_000 },
    })
    try {
      const first = await failure(cache.get('a'))
      assert.ok(first.error instanceof BackendRefused, String(first.error))
      assert.equal(first.error.address, address)
      assert.match(first.error.message, /connection refused/)
      const next = await failure(cache.get('a'))
      assert.ok(next.error instanceof BackendUnavailable, String(next.error))
      assert.equal(next.error.address, address)
      assert.match(
        next.error.message,
        /marked down \(memcache .*connection refused\); next reconnection attempt in \d+ ms/,
      )
      assert.ok(next.ms < 5, `failing fast took ${next.ms} ms`)
      assert.equal(cache.stats()[0]?.state, 'down')
    } finally {
      await cache.close()
    }
  })
})

describe('a server that stops answering', () => {
  it('is marked down after the client timeout of silence, stays down, and is used again once it answers', async () => {
    let answering = false
    const server = await fakeServer((line) => (answering ? (line === 'mn' ? 'MN\r\n' : 'EN\r\n') : undefined))
    const cache = memcacheClient({ servers: [server.address], timeout: 100, reconnect: { min: 10, max: 50 } })
    try {
      const silent = await failure(cache.get('a'))
      assert.ok(silent.error instanceof BackendTimeout, String(silent.error))
      await eventually(async () => {
        const { error } = await failure(cache.get('a'))
        assert.ok(error instanceof BackendUnavailable, String(error))
        assert.match(error.message, /server unresponsive/)
      })
      // Reconnection attempts connect, but the server does not answer them: it is not put back in use.
      const until = systemClock.now() + 300
      while (systemClock.now() < until) {
        const { error, ms } = await failure(cache.get('a'))
        assert.ok(error instanceof BackendUnavailable, String(error))
        assert.ok(ms < 5, `failing fast took ${ms} ms`)
        await new Promise<void>((resolve) => systemClock.setTimeout(resolve, 5))
      }
      assert.ok(server.connections > 2, `only ${server.connections} connections: no reconnection attempts`)
      answering = true
      await eventually(async () => assert.equal(await cache.get('a'), undefined))
      assert.equal(cache.stats()[0]?.state, 'up')
    } finally {
      await cache.close()
      await server.close()
    }
  })
})

describe('a killed memcached shard', () => {
  let memcached: MemcachedServers
  let cache: Memcache
  before(async () => {
    memcached = await startMemcached({ servers: 3 })
    cache = memcacheClient({ servers: memcached.addresses, reconnect: { min: 20, max: 200 } })
  })
  after(async () => {
    await cache.close()
    await memcached.stop()
  })

  it('fails fast while down, the other shards working on; restarted, it is used again', async () => {
    const victim = memcached.addresses[1] as string
    const keys = Array.from({ length: 60 }, (_, i) => `down:${i}`)
    const onVictim = keys.filter((key) => cache.serverFor(key) === victim)
    const elsewhere = keys.filter((key) => cache.serverFor(key) !== victim)
    assert.ok(onVictim.length > 0 && elsewhere.length > 0)
    await Promise.all(keys.map((key) => cache.set(key, key)))

    await memcached.kill(1)
    await eventually(async () => {
      const { error, ms } = await failure(cache.get(onVictim[0] as string))
      assert.ok(error instanceof BackendUnavailable, String(error))
      assert.equal(error.address, victim)
      assert.ok(ms < 5, `failing fast took ${ms} ms`)
    })
    // Its keys are not moved to the other shards: writes to them fail too, rather than land elsewhere.
    assert.equal(cache.serverFor(onVictim[0] as string), victim)
    await assert.rejects(cache.set(onVictim[0] as string, 'x'), BackendUnavailable)
    const values = await Promise.all(elsewhere.map((key) => cache.get(key)))
    assert.deepEqual(values.map(String), elsewhere)
    assert.equal(cache.stats()[1]?.state, 'down')

    await memcached.restart(1)
    await eventually(async () => assert.equal(await cache.get(onVictim[0] as string), undefined), 3000)
    await cache.set(onVictim[0] as string, 'back')
    assert.equal((await cache.get(onVictim[0] as string))?.toString(), 'back')
    assert.equal(cache.stats()[1]?.state, 'up')
  })
})
