import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { backoffDelay } from '../../../src/backends/memcache/backoff.ts'

describe('reconnection backoff', () => {
  const backoff = { min: 100, max: 2000 }

  it('doubles from min up to max', () => {
    const ceilings = [0, 1, 2, 3, 4, 5, 10, 100].map((attempt) => backoffDelay(attempt, backoff, () => 1))
    assert.deepEqual(ceilings, [100, 200, 400, 800, 1600, 2000, 2000, 2000])
  })

  it('jitters each delay down by up to half', () => {
    assert.equal(
      backoffDelay(3, backoff, () => 0),
      400,
    )
    assert.equal(
      backoffDelay(3, backoff, () => 0.5),
      600,
    )
    for (let i = 0; i < 100; i++) {
      const delay = backoffDelay(2, backoff)
      assert.ok(delay >= 200 && delay <= 400, String(delay))
    }
  })
})
