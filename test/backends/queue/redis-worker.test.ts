import assert from 'node:assert/strict'
import { test } from 'node:test'
import { attemptOf } from '../../../src/backends/queue/redis-worker.ts'

test('a job is on the delivery after those that failed and those lost with a crashed worker', () => {
  assert.equal(attemptOf({ attemptsMade: 0, stalledCounter: 0 }), 1)
  assert.equal(attemptOf({ attemptsMade: 2, stalledCounter: 0 }), 3)
  assert.equal(attemptOf({ attemptsMade: 1, stalledCounter: 1 }), 3)
})
