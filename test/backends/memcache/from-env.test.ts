import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { memcacheFromEnv } from 'weft/memcache'

describe('memcacheFromEnv', () => {
  it('uses the servers of a comma-separated list', async () => {
    const cache = memcacheFromEnv('10.0.0.1:11211, 10.0.0.2,,', { timeout: 100 })
    assert.deepEqual(cache.servers, ['10.0.0.1:11211', '10.0.0.2:11211'])
    assert.deepEqual(
      cache.stats().map((shard) => shard.state),
      ['idle', 'idle'],
    )
    await cache.close()
  })

  it('falls back to embedded shards when no server is given', async () => {
    for (const servers of [undefined, '', ' , ']) {
      const cache = memcacheFromEnv(servers, { shards: 3 })
      assert.deepEqual(cache.servers, ['embedded:0', 'embedded:1', 'embedded:2'])
      await cache.set('k', 'v')
      assert.equal((await cache.get('k'))?.toString(), 'v')
      await cache.close()
    }
  })

  it('reads MEMCACHE_SERVERS by default', async () => {
    const saved = process.env.MEMCACHE_SERVERS
    try {
      process.env.MEMCACHE_SERVERS = '10.1.1.1:11211'
      const cache = memcacheFromEnv()
      assert.deepEqual(cache.servers, ['10.1.1.1:11211'])
      await cache.close()
    } finally {
      if (saved === undefined) delete process.env.MEMCACHE_SERVERS
      else process.env.MEMCACHE_SERVERS = saved
    }
  })

  it('applies the options that fit the client chosen', async () => {
    const embedded = memcacheFromEnv('', { maxItems: 1, reconnect: { min: 1, max: 2 } })
    await embedded.set('a', '1')
    await embedded.set('b', '2')
    assert.equal(await embedded.get('a'), undefined)
    await embedded.close()
  })
})
