import assert from 'node:assert/strict'
import { test } from 'node:test'
import { embeddedMemcache, memcacheClient } from 'weft/memcache'
import { defaultRateLimits } from '../../service/config.ts'
import { counterKey, limitersFor, shardFor, windowAt } from '../../service/rate-limits.ts'

const policy = { limits: defaultRateLimits, window: 60 }
const nos = { start: '94.132.0.0', end: '94.133.255.255', asn: 2860, org: 'NOS' }

test('an IPv4 client is counted by its address, its /24, its AS and everyone', () => {
  assert.deepEqual(
    limitersFor('94.132.7.9', nos, policy).map(({ name, subject, limit }) => [name, subject, limit]),
    [
      ['ip', '94.132.7.9', defaultRateLimits.ip],
      ['network', '94.132.7.0/24', defaultRateLimits.network],
      ['asn', 'AS2860', defaultRateLimits.asn],
      ['global', 'all', defaultRateLimits.global],
    ],
  )
})

test('without a known AS there is no AS limiter; an IPv6 client is counted by its /64', () => {
  assert.deepEqual(
    limitersFor('2001:db8:1:2:3:4:5:6', undefined, policy).map(({ name, subject }) => [name, subject]),
    [
      ['ip', '2001:db8:1:2:3:4:5:6'],
      ['network', '2001:db8:1:2::/64'],
      ['global', 'all'],
    ],
  )
  assert.equal(limitersFor('2001:db8::1', undefined, policy)[1]?.subject, '2001:db8:0:0::/64')
  assert.equal(limitersFor('::1', undefined, policy)[1]?.subject, '0:0:0:0::/64')
})

test('each limiter counts on its own shard, for rings of real and embedded servers', async () => {
  const clusters = [
    embeddedMemcache({ shards: 4 }),
    memcacheClient({ servers: ['10.0.0.1:11211', '10.0.0.2:11211', '10.0.0.3:11211'] }),
  ]
  for (const memcache of clusters) {
    const limiters = limitersFor('94.132.7.9', nos, policy)
    const shards = limiters.map((limiter, i) => {
      const shard = shardFor(i, memcache.servers)
      const key = counterKey(limiter, 29453760, shard, (k) => memcache.serverFor(k))
      assert.ok(key.startsWith(`rl:${limiter.name}:${limiter.subject}:29453760`))
      assert.equal(memcache.serverFor(key), shard)
      return shard
    })
    assert.equal(new Set(shards).size, Math.min(limiters.length, memcache.servers.length))
    await memcache.close()
  }
})

test('a window is numbered, and Retry-After counts the whole seconds to its end', () => {
  assert.deepEqual(windowAt(60_000, 60), { index: 1, retryAfter: 60 })
  assert.deepEqual(windowAt(119_001, 60), { index: 1, retryAfter: 1 })
  assert.deepEqual(windowAt(90_500, 60), { index: 1, retryAfter: 30 })
})
