import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { embeddedRedis, redisClient, redisFromEnv } from 'weft/redis'

// Every check happens at the call, before anything is queued: a TypeError naming the function, the
// argument, what was expected and what was received.
const redis = embeddedRedis()
after(() => redis.close())

// biome-ignore lint/suspicious/noExplicitAny: misuse means calling with the wrong types.
type Loose = any
const loose: Loose = redis

describe('Redis methods refuse bad arguments with a TypeError', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['get without a key', () => loose.get(), /redis\.get\(\): key must be a string, got undefined/],
    ['get with a number key', () => loose.get(42), /redis\.get\(\): key must be a string, got 42/],
    [
      'mget with a string',
      () => loose.mget('a'),
      /redis\.mget\(\): keys must be an array of strings, got "a"/,
    ],
    [
      'mget with a non-string key',
      () => loose.mget(['a', null]),
      /redis\.mget\(\): keys\[1\] must be a string, got null/,
    ],
    ['set with a number value', () => loose.set('k', 1), /redis\.set\(\): value must be a string, got 1/],
    [
      'set with an object value',
      () => loose.set('k', { a: 1 }),
      /redis\.set\(\): value must be a string, got an object/,
    ],
    [
      'set with px 0',
      () => redis.set('k', 'v', { px: 0 }),
      /redis\.set\(\): options\.px must be a whole number of at least 1, got 0/,
    ],
    [
      'set with a fractional px',
      () => redis.set('k', 'v', { px: 1.5 }),
      /options\.px must be a whole number/,
    ],
    [
      'set with nx and xx',
      () => redis.set('k', 'v', { nx: true, xx: true }),
      /give options\.nx or options\.xx, not both/,
    ],
    [
      'set with options that are not an object',
      () => loose.set('k', 'v', 'px'),
      /redis\.set\(\): options must be an object, got "px"/,
    ],
    [
      'set with a misspelt option',
      () => redis.set('k', 'v', { ex: 10 } as Loose),
      /redis\.set\(\): unknown option "ex" \(the options are px, nx, xx\)/,
    ],
    [
      'incr with a misspelt option',
      () => redis.incr('k', { ttl: 10 } as Loose),
      /redis\.incr\(\): unknown option "ttl" \(the options are by, px\)/,
    ],
    [
      'del with an array',
      () => loose.del(['a', 'b']),
      /redis\.del\(\): key\[0\] must be a string, got an array/,
    ],
    [
      'incr by a fraction',
      () => redis.incr('k', { by: 0.5 }),
      /redis\.incr\(\): options\.by must be a safe whole number, got 0\.5/,
    ],
    [
      'incr by an unsafe integer',
      () => redis.incr('k', { by: 2 ** 53 }),
      /options\.by must be a safe whole number/,
    ],
    [
      'incr with a negative px',
      () => redis.incr('k', { px: -1 }),
      /redis\.incr\(\): options\.px must be a whole number of at least 1, got -1/,
    ],
    [
      'pexpire with a negative delay',
      () => redis.pexpire('k', -5),
      /redis\.pexpire\(\): ms must be a whole number of at least 0, got -5/,
    ],
    ['pexpire without a delay', () => loose.pexpire('k'), /redis\.pexpire\(\): ms must be a whole number/],
    ['hget without a field', () => loose.hget('k'), /redis\.hget\(\): field must be a string, got undefined/],
    [
      'hset with an array',
      () => loose.hset('k', ['f', 'v']),
      /redis\.hset\(\): fields must be an object of strings, got an array/,
    ],
    [
      'hset with a number value',
      () => loose.hset('k', { f: 1 }),
      /redis\.hset\(\): fields\.f must be a string, got 1/,
    ],
    ['hdel with a number field', () => loose.hdel('k', 1), /redis\.hdel\(\): field must be a string, got 1/],
  ]
  for (const [what, call, message] of cases) {
    test(what, () => {
      assert.throws(call, (error) => error instanceof TypeError && message.test(error.message))
    })
  }
})

describe('the factories refuse bad options with a TypeError', () => {
  const cases: [string, () => unknown, RegExp][] = [
    [
      'redisClient without options',
      () => (redisClient as Loose)(),
      /redisClient\(\): options must be an object, got undefined/,
    ],
    [
      'redisClient without a url',
      () => (redisClient as Loose)({}),
      /redisClient\(\): options\.url must be a string, got undefined/,
    ],
    [
      'redisClient with an http url',
      () => redisClient({ url: 'http://localhost' }),
      /options\.url must be a redis:\/\/ or rediss:\/\/ URL, got "http:\/\/localhost"/,
    ],
    [
      'redisClient with a url that does not parse',
      () => redisClient({ url: 'localhost:6379' }),
      /options\.url must be a redis:\/\/ or rediss:\/\/ URL/,
    ],
    [
      'redisClient with a negative timeout',
      () => redisClient({ url: 'redis://localhost', timeout: -1 }),
      /redisClient\(\): options\.timeout must be a finite number of milliseconds, 0 or more, got -1/,
    ],
    [
      'redisClient with a NaN connect timeout',
      () => redisClient({ url: 'redis://localhost', connectTimeout: Number.NaN }),
      /redisClient\(\): options\.connectTimeout must be a finite number/,
    ],
    [
      'embeddedRedis with a numeric key prefix',
      () => embeddedRedis({ keyPrefix: 1 as Loose }),
      /embeddedRedis\(\): options\.keyPrefix must be a string, got 1/,
    ],
    [
      'redisClient with a misspelt option',
      () => redisClient({ url: 'redis://localhost', timout: 5 } as Loose),
      /redisClient\(\): unknown option "timout" \(the options are keyPrefix, timeout, url, connectTimeout\)/,
    ],
    [
      'embeddedRedis with a url',
      () => embeddedRedis({ url: 'redis://localhost' } as Loose),
      /embeddedRedis\(\): unknown option "url" \(the options are keyPrefix, timeout\)/,
    ],
    [
      'redisFromEnv with a url option',
      () => redisFromEnv(undefined, { url: 'redis://localhost' } as Loose),
      /redisFromEnv\(\): unknown option "url"/,
    ],
    [
      'redisFromEnv with a number',
      () => redisFromEnv(6379 as Loose),
      /redisFromEnv\(\): url must be a string or undefined, got number/,
    ],
  ]
  for (const [what, call, message] of cases) {
    test(what, () => {
      assert.throws(call, (error) => error instanceof TypeError && message.test(error.message))
    })
  }
})

test('a refused call sends nothing: the keyspace is as it was', async () => {
  await redis.set('kept', 'v')
  assert.throws(() => redis.set('kept', 'w', { px: 0 }), TypeError)
  assert.equal(await redis.get('kept'), 'v')
  assert.equal(await redis.pttl('kept'), Infinity)
})
