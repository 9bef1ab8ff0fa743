import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { currentScope, DeadlineExceeded, sleep } from 'weft'
import { withVirtualClock } from 'weft/testing'
import {
  type Delivery,
  type DeliverySettings,
  deliver,
  describeFailure,
} from '../../../src/backends/queue/delivery.ts'
import type { TaskContext } from '../../../src/backends/queue/task-queue.ts'

const delivery: Delivery = {
  id: 'task-1',
  name: 'send-email',
  payload: { to: 'ada@example.com' },
  attempt: 2,
  maxAttempts: 5,
  dedupeKey: undefined,
  traceparent: undefined,
}
const settings: DeliverySettings = { timeout: undefined, trace: undefined, backend: 'test', address: 'here' }
const running = (): AbortSignal => new AbortController().signal

describe('deliver', () => {
  test('a handler that returns makes the delivery done; it gets the payload and the delivery context', async () => {
    let seen: [unknown, TaskContext] | undefined
    let scopeName: string | undefined
    const outcome = await deliver(
      delivery,
      (payload, task) => {
        seen = [payload, task]
        scopeName = currentScope()?.name
      },
      settings,
      running(),
    )
    assert.deepEqual(outcome, { status: 'done' })
    assert.deepEqual(seen?.[0], { to: 'ada@example.com' })
    assert.equal(seen?.[1].id, 'task-1')
    assert.equal(seen?.[1].attempt, 2)
    assert.equal(seen?.[1].maxAttempts, 5)
    assert.equal(seen?.[1].dedupeKey, 'task-1')
    assert.equal(scopeName, 'queue.process send-email')
  })

  test('a handler that throws fails the delivery with its error', async () => {
    const error = new Error('smtp refused')
    assert.deepEqual(
      await deliver(
        delivery,
        () => {
          throw error
        },
        settings,
        running(),
      ),
      { status: 'failed', error },
    )
  })

  test('a delivery stopped by its worker before the handler finished goes back', async () => {
    const controller = new AbortController()
    const outcome = deliver(delivery, () => sleep(60_000), settings, controller.signal)
    controller.abort(new DOMException('closing', 'AbortError'))
    assert.deepEqual(await outcome, { status: 'returned' })
  })

  test('a handler that finishes its work despite the stop is done', async () => {
    const controller = new AbortController()
    const outcome = deliver(
      delivery,
      async () => {
        await new Promise((resolve) => setImmediate(resolve))
      },
      settings,
      controller.signal,
    )
    controller.abort(new DOMException('closing', 'AbortError'))
    assert.deepEqual(await outcome, { status: 'done' })
  })

  test('a delivery stopped before it starts goes back, its handler never called', async () => {
    const controller = new AbortController()
    controller.abort(new DOMException('closing', 'AbortError'))
    let called = false
    const outcome = await deliver(
      delivery,
      () => {
        called = true
      },
      settings,
      controller.signal,
    )
    assert.deepEqual(outcome, { status: 'returned' })
    assert.equal(called, false)
  })

  test('once stopped, a delivery goes back whatever its handler then throws', async () => {
    const controller = new AbortController()
    const failing = deliver(
      delivery,
      async (_payload, task) => {
        await new Promise((resolve) => task.signal.addEventListener('abort', resolve))
        throw new Error('interrupted mid-write')
      },
      settings,
      controller.signal,
    )
    controller.abort(new DOMException('closing', 'AbortError'))
    assert.deepEqual(await failing, { status: 'returned' })
  })

  test('a delivery overrunning its timeout fails with DeadlineExceeded at the deadline', async () => {
    await withVirtualClock(async (clock) => {
      const start = clock.now()
      let deadline: number | undefined
      const outcome = await clock.run(
        deliver(
          delivery,
          async (_payload, task) => {
            deadline = task.deadline
            await sleep(60_000)
          },
          { ...settings, timeout: 5_000 },
          running(),
        ),
      )
      assert.equal(outcome.status, 'failed')
      assert.ok(outcome.status === 'failed' && outcome.error instanceof DeadlineExceeded)
      assert.equal(deadline, start + 5_000)
      assert.equal(clock.now(), start + 5_000)
    })
  })
})

describe('describeFailure', () => {
  test('names the error and keeps its message, cut at 2000 characters', () => {
    assert.equal(describeFailure(new TypeError('bad')), 'TypeError: bad')
    assert.equal(describeFailure('a string'), 'a string')
    const long = describeFailure(new Error('x'.repeat(5000)))
    assert.equal(long.length, 2000)
    assert.ok(long.endsWith('…'))
  })
})
