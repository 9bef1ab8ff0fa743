import assert from 'node:assert/strict'
import { test } from 'node:test'
import { withVirtualClock } from 'weft/testing'
import type { QueueSettings } from '../../../src/backends/queue/checks.ts'
import { settlementOf } from '../../../src/backends/queue/postgres-worker.ts'

const queue: QueueSettings = {
  attempts: 3,
  backoff: { initial: 1000, max: 60_000 },
  lease: 30_000,
  keepDone: 0,
}
const task = (attempt: number) => ({
  id: 'task-1',
  token: 'lease-1',
  payload: {},
  attempt,
  maxAttempts: 3,
  dedupeKey: undefined,
  traceparent: undefined,
})

test('a done delivery is recorded done', () => {
  assert.deepEqual(settlementOf(task(1), { status: 'done' }, queue), {
    id: 'task-1',
    token: 'lease-1',
    state: 'done',
  })
})

test('a failed delivery with attempts left is retried after its backoff, on the clock', async () => {
  await withVirtualClock((clock) => {
    const settlement = settlementOf(task(2), { status: 'failed', error: new Error('smtp down') }, queue)
    assert.deepEqual(settlement, {
      id: 'task-1',
      token: 'lease-1',
      state: 'queued',
      runAt: clock.now() + 2000,
      error: 'Error: smtp down',
    })
  })
})

test('a failed last attempt makes the task dead', () => {
  const settlement = settlementOf(task(3), { status: 'failed', error: new Error('smtp down') }, queue)
  assert.deepEqual(settlement, { id: 'task-1', token: 'lease-1', state: 'dead', error: 'Error: smtp down' })
})

test('a delivery handed back is queued at once, its attempt refunded', async () => {
  await withVirtualClock((clock) => {
    assert.deepEqual(settlementOf(task(2), { status: 'returned' }, queue), {
      id: 'task-1',
      token: 'lease-1',
      state: 'queued',
      runAt: clock.now(),
      refund: true,
    })
  })
})
