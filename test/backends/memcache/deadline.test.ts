import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { BackendTimeout, DeadlineExceeded, scope, systemClock } from 'weft'
import { type Memcache, memcacheClient } from 'weft/memcache'
import { emptyCache, type FakeServer, fakeServer } from './fake-server.ts'

describe('time budgets', () => {
  let server: FakeServer
  let cache: Memcache
  before(async () => {
    server = await fakeServer(emptyCache)
    // The client's timeout is long: the server is slow, not unresponsive, and must not be marked down.
    cache = memcacheClient({ servers: [server.address], timeout: 5000 })
  })
  after(async () => {
    server.holding = false
    await cache.close()
    await server.close()
  })

  it('fails a call after its timeout with a BackendTimeout naming the server; the connection stays usable', async () => {
    server.holding = true
    const start = systemClock.now()
    await assert.rejects(cache.get('slow', { timeout: 30 }), (error) => {
      assert.ok(error instanceof BackendTimeout)
      assert.equal(error.address, server.address)
      assert.match(error.message, /no reply within 30 ms/)
      return true
    })
    const waited = systemClock.now() - start
    assert.ok(waited >= 29 && waited < 1000, `waited ${waited} ms`)
    server.holding = false
    assert.equal(await cache.get('next'), undefined)
    const [stats] = cache.stats()
    assert.equal(stats?.timeouts, 1)
    assert.equal(stats?.discarded, 1)
    assert.equal(stats?.state, 'up')
    assert.equal(server.connections, 1)
  })

  it('fails a call at the ambient deadline with DeadlineExceeded, leaving the server up', async () => {
    server.holding = true
    await assert.rejects(
      scope({ deadline: 30 }, () => cache.get('slow')),
      DeadlineExceeded,
    )
    server.holding = false
    assert.equal(await cache.get('next'), undefined)
    assert.equal(cache.stats()[0]?.state, 'up')
    assert.equal(server.connections, 1)
  })

  it('fails a call with no time left at once, without sending it', async () => {
    const requests = cache.stats()[0]?.requests
    await assert.rejects(cache.get('late', { timeout: 0 }), BackendTimeout)
    await cache.get('flush')
    assert.equal(cache.stats()[0]?.requests, (requests ?? 0) + 1)
  })
})
