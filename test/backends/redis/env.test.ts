import assert from 'node:assert/strict'
import { test } from 'node:test'
import { redisFromEnv } from 'weft/redis'

test('no REDIS_URL, or a blank one, gives the embedded Redis', async () => {
  for (const url of [undefined, '', '  ']) {
    const redis = redisFromEnv(url, { keyPrefix: 'app:', connectTimeout: 100 })
    assert.equal(redis.address, 'embedded')
    await redis.set('k', 'v')
    assert.equal(await redis.get('k'), 'v')
    await redis.close()
  }
})

test('a REDIS_URL gives a client of that server, named by host and port, connecting only when used', async () => {
  const redis = redisFromEnv(' redis://127.0.0.1:6379/0 ')
  assert.equal(redis.address, '127.0.0.1:6379')
  await redis.close()
  assert.equal(redisFromEnv('rediss://cache.internal').address, 'cache.internal:6379')
})
