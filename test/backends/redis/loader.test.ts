import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Redis as IORedis } from 'ioredis'
import { AbortError, type SpanData, scope, type Trace } from 'weft'
import { embeddedRedis, keysLoader, type Redis, redisClient } from 'weft/redis'
import { type RedisServer, startRedisServer } from '../../../src/testing/redis.ts'

/** Runs `fn` as a traced request; returns its result and its spans. */
async function traced<T>(fn: Parameters<typeof scope<T>>[1]): Promise<{ value: T; spans: SpanData[] }> {
  let trace: Trace | undefined
  const value = await scope({ name: 'request', trace: (finished) => (trace = finished) }, fn)
  return { value, spans: trace?.toJSON().spans ?? [] }
}

const named = (spans: SpanData[], name: string) => spans.filter((span) => span.name === name)

describe('keysLoader()', () => {
  let redis: Redis
  before(async () => {
    redis = embeddedRedis()
    await Promise.all([redis.set('user:1', 'Ada'), redis.set('user:2', 'Grace')])
  })
  after(() => redis.close())

  test('the loads of one turn, from anywhere in the request, are one MGET with each key once', async () => {
    const users = keysLoader(redis, { name: 'users' })
    const { value, spans } = await traced(async (s) => {
      const profile = s.spawn('profile', () => users.load('user:1'))
      const friends = s.spawn('friends', () => users.loadMany(['user:2', 'user:1', 'user:3']))
      return [await profile, ...(await friends)]
    })
    assert.deepEqual(value, ['Ada', 'Grace', 'Ada', undefined])
    const [mget] = named(spans, 'redis.mget')
    assert.equal(named(spans, 'redis.mget').length, 1)
    assert.deepEqual([mget?.attributes['db.hits'], mget?.attributes['db.misses']], [2, 1])
    const [batch] = named(spans, 'users.batch')
    assert.equal(batch?.attributes['batch.keys'], 3)
    assert.equal(mget?.parentId, batch?.spanId, 'the MGET is the batch’s call, with no span between')
  })

  test('values are cached for the request, never across requests', async () => {
    const users = keysLoader(redis, { name: 'users' })
    const first = await traced(async () => [await users.load('user:1'), await users.load('user:1')])
    assert.deepEqual(first.value, ['Ada', 'Ada'])
    assert.equal(named(first.spans, 'redis.mget').length, 1)
    await redis.set('user:1', 'Ada Lovelace')
    const second = await traced(() => users.load('user:1'))
    assert.equal(second.value, 'Ada Lovelace')
  })

  test('maxBatchSize splits a large read into several MGETs', async () => {
    const users = keysLoader(redis, { name: 'users', maxBatchSize: 2 })
    const { value, spans } = await traced(() =>
      users.loadMany(['user:1', 'user:2', 'user:3', 'user:4', 'user:5']),
    )
    assert.equal(value.length, 5)
    assert.equal(named(spans, 'redis.mget').length, 3)
  })

  test('a load cancelled before its batch is sent leaves no MGET behind', async () => {
    const users = keysLoader(redis, { name: 'users' })
    const { spans } = await traced(async (s) => {
      const read = s.spawn('read', () => users.load('user:1'))
      read.cancel()
      await assert.rejects(read, AbortError)
    })
    assert.equal(named(spans, 'redis.mget').length, 0)
  })
})

describe('keysLoader() on a server of its own', () => {
  let server: RedisServer
  let admin: IORedis
  let redis: Redis
  before(async () => {
    server = await startRedisServer()
    admin = new IORedis(server.url)
    redis = redisClient({ url: server.url })
    await redis.set('user:1', 'Ada')
  })
  after(async () => {
    await redis.close()
    admin.disconnect()
    await server.stop()
  })

  test('when every load of a sent batch is cancelled, its MGET is cancelled too and the connection stays in step', async () => {
    const users = keysLoader(redis, { name: 'users' })
    await admin.call('client', 'pause', '300', 'ALL')
    const started = performance.now()
    const { spans } = await traced(async (s) => {
      const read = s.spawn('read', () => users.load('user:1'))
      await new Promise((resolve) => setImmediate(resolve)) // the MGET is on the wire, held by the server
      read.cancel()
      await assert.rejects(read, AbortError)
    })
    assert.ok(performance.now() - started < 250, 'nobody waited for the paused server')
    assert.equal(named(spans, 'redis.mget')[0]?.status, 'cancelled')
    assert.equal(await redis.get('user:1'), 'Ada')
  })
})
