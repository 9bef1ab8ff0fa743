import assert from 'node:assert/strict'
import { test } from 'node:test'
import { defaultRateLimits, loadConfig } from '../../service/config.ts'

test('with nothing set, everything is embedded and local, with a generated session secret', () => {
  const config = loadConfig({})
  assert.equal(config.port, 3000)
  assert.equal(config.host, '127.0.0.1')
  assert.equal(config.databaseUrl, undefined)
  assert.equal(config.memcacheServers, undefined)
  assert.equal(config.redisUrl, undefined)
  assert.equal(config.geocoderUrl, undefined)
  assert.equal(config.trustProxy, 0)
  assert.equal(config.sessionSecretGenerated, true)
  assert.ok(config.sessionSecret.length >= 32)
  assert.notEqual(loadConfig({}).sessionSecret, config.sessionSecret, 'a new secret each start')
  assert.deepEqual(config.rateLimits, defaultRateLimits)
  assert.equal(config.rateLimitWindow, 60)
  assert.equal(config.workers, 4)
  assert.equal(config.maxInFlight, 32)
  assert.match(config.dataDir, /node_modules\/\.cache\//)
})

test('reads every variable; blank ones count as unset', () => {
  const config = loadConfig({
    PORT: '8080',
    HOST: '0.0.0.0',
    DATABASE_URL: 'postgres://app@db:5432/search',
    MEMCACHE_SERVERS: 'a:11211,b:11211',
    REDIS_URL: 'redis://cache:6379',
    GEOCODER_URL: 'http://geocoder:3001',
    TRUST_PROXY: 'true',
    SESSION_SECRET: 's'.repeat(40),
    WORKERS: '0',
    RATE_LIMITS: 'ip=5, global=50',
    RATE_LIMIT_WINDOW: '10',
    RESULT_LIMIT: '3',
    REQUEST_TIMEOUT_MS: '500',
    MAX_IN_FLIGHT: '5',
    DATA_DIR: '/var/lib/search',
    REDIS_PREFIX: 'test:',
  })
  assert.equal(config.port, 8080)
  assert.equal(config.host, '0.0.0.0')
  assert.equal(config.databaseUrl, 'postgres://app@db:5432/search')
  assert.equal(config.memcacheServers, 'a:11211,b:11211')
  assert.equal(config.redisUrl, 'redis://cache:6379')
  assert.equal(config.geocoderUrl, 'http://geocoder:3001')
  assert.equal(config.trustProxy, 1)
  assert.equal(config.sessionSecret, 's'.repeat(40))
  assert.equal(config.sessionSecretGenerated, false)
  assert.equal(config.workers, 0)
  assert.deepEqual(config.rateLimits, { ...defaultRateLimits, ip: 5, global: 50 })
  assert.equal(config.rateLimitWindow, 10)
  assert.equal(config.resultLimit, 3)
  assert.equal(config.requestTimeout, 500)
  assert.equal(config.maxInFlight, 5)
  assert.equal(config.dataDir, '/var/lib/search')
  assert.equal(config.redisPrefix, 'test:')
  const blank = loadConfig({ DATABASE_URL: ' ', PORT: '', TRUST_PROXY: '' })
  assert.equal(blank.databaseUrl, undefined)
  assert.equal(blank.port, 3000)
  assert.equal(blank.trustProxy, 0)
  assert.equal(loadConfig({ TRUST_PROXY: '2' }).trustProxy, 2)
})
