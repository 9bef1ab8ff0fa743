import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BackendUnavailable } from 'weft'
import { embeddedRedis, type Redis } from 'weft/redis'
import { withVirtualClock } from 'weft/testing'
import { redisContract } from './contract.ts'

redisContract('embeddedRedis()', {
  open: (keyPrefix) => embeddedRedis({ keyPrefix }),
  cleanup: async () => {}, // the keyspace goes with the client
})

test('keys expire on the virtual clock, exactly when their time is up', async () => {
  await withVirtualClock(async (clock) => {
    const redis = embeddedRedis()
    await clock.run(redis.set('session', 'v', { px: 1000 }))
    await clock.advance(999)
    assert.equal(await clock.run(redis.get('session')), 'v')
    assert.equal(await clock.run(redis.pttl('session')), 1)
    await clock.advance(1)
    assert.equal(await clock.run(redis.get('session')), undefined)
    await clock.run(redis.close())
  })
})

test('a fixed-window counter restarts after its window', async () => {
  await withVirtualClock(async (clock) => {
    const redis = embeddedRedis()
    const hit = () => clock.run(redis.incr('limit:1.2.3.4', { px: 60_000 }))
    assert.deepEqual([await hit(), await hit(), await hit()], [1, 2, 3])
    await clock.advance(60_000)
    assert.equal(await hit(), 1)
    await clock.run(redis.close())
  })
})

test('calls leave no timer behind, whatever their outcome', async () => {
  await withVirtualClock(async (clock) => {
    const redis = embeddedRedis({ timeout: 500 })
    await clock.run(Promise.allSettled([redis.set('a', '1'), redis.get('a'), redis.hget('a', 'f')]))
    assert.equal(clock.pendingTimers, 0)
    await clock.run(redis.close())
  })
})

test('separate embedded clients have separate keyspaces', async () => {
  const [one, two] = [embeddedRedis(), embeddedRedis()]
  await one.set('k', 'v')
  assert.equal(await two.get('k'), undefined)
  await Promise.all([one.close(), two.close()])
})

test('await using closes the client at the end of the block', async () => {
  let outside: Redis | undefined
  {
    await using redis = embeddedRedis()
    outside = redis
    await redis.set('k', 'v')
  }
  await assert.rejects(outside.get('k'), BackendUnavailable)
})
