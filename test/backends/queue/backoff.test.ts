import assert from 'node:assert/strict'
import { test } from 'node:test'
import { retryDelay } from 'weft/queue'

test('the delay doubles with each failed delivery, from the initial delay', () => {
  const backoff = { initial: 100, max: 60_000 }
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((attempt) => retryDelay(attempt, backoff)),
    [100, 200, 400, 800, 1600],
  )
})

test('the delay never exceeds the maximum, however many attempts failed', () => {
  const backoff = { initial: 1000, max: 300_000 }
  assert.equal(retryDelay(9, backoff), 256_000)
  assert.equal(retryDelay(10, backoff), 300_000)
  assert.equal(retryDelay(5_000, backoff), 300_000)
})

test('an initial delay of 0 retries at once', () => {
  assert.equal(retryDelay(7, { initial: 0, max: 1000 }), 0)
})
