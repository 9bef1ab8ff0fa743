import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigError, loadConfig } from '../../service/config.ts'

for (const [variable, value, expected] of [
  ['PORT', 'http', /^PORT must be a whole number from 0 to 65535, got "http"$/],
  ['PORT', '70000', /^PORT must be a whole number/],
  ['PORT', '-1', /^PORT must be a whole number/],
  [
    'DATABASE_URL',
    'mysql://db/search',
    /^DATABASE_URL must be a URL starting with postgres:\/\/ or postgresql:\/\//,
  ],
  ['DATABASE_URL', 'not a url', /^DATABASE_URL must be a URL/],
  ['REDIS_URL', 'http://cache', /^REDIS_URL must be a URL starting with redis:\/\/ or rediss:\/\//],
  ['GEOCODER_URL', 'geocoder:3001', /^GEOCODER_URL must be a URL starting with http:\/\/ or https:\/\//],
  ['TRUST_PROXY', 'yes', /^TRUST_PROXY must be a whole number from 0 to 16/],
  ['WORKERS', 'many', /^WORKERS must be a whole number/],
  ['RATE_LIMITS', 'ip=0', /^RATE_LIMITS must be entries like ip=<requests>,network=<requests>/],
  ['RATE_LIMITS', 'planet=5', /^RATE_LIMITS must be entries like/],
  ['RATE_LIMITS', 'ip', /^RATE_LIMITS must be entries like/],
  ['RATE_LIMIT_WINDOW', '0', /^RATE_LIMIT_WINDOW must be a whole number from 1/],
  ['REQUEST_TIMEOUT_MS', '1.5', /^REQUEST_TIMEOUT_MS must be a whole number/],
  ['MAX_IN_FLIGHT', '0', /^MAX_IN_FLIGHT must be a whole number from 1 to 100000/],
] as const) {
  test(`${variable}=${JSON.stringify(value)} is refused, naming the variable`, () => {
    assert.throws(
      () => loadConfig({ [variable]: value }),
      (error) => error instanceof ConfigError && error.variable === variable && expected.test(error.message),
    )
  })
}

test('a short SESSION_SECRET is refused without echoing it', () => {
  assert.throws(
    () => loadConfig({ SESSION_SECRET: 'hunter2' }),
    (error) =>
      error instanceof ConfigError &&
      error.variable === 'SESSION_SECRET' &&
      error.code === 'INVALID_CONFIGURATION' &&
      !error.message.includes('hunter2'),
  )
})
