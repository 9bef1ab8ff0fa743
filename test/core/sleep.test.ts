import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { describe, test } from 'node:test'
import { AbortError, scope, sleep } from 'weft'
import { ignoring, inVirtualTime, rejection } from './support.ts'

describe('sleep()', () => {
  test(
    'resolves after exactly ms of the active clock, not before',
    inVirtualTime(async (clock) => {
      const start = clock.now()
      let woke = false
      const sleeping = sleep(100).then(() => {
        woke = true
      })
      await clock.advance(99)
      assert.equal(woke, false)
      await clock.advance(1)
      await sleeping
      assert.equal(woke, true)
      assert.equal(clock.now() - start, 100)
    }),
  )

  test(
    'sleep(0) resolves once the clock has moved on',
    inVirtualTime(async (clock) => {
      await clock.run(sleep(0))
    }),
  )

  test(
    "rejects with an AbortError carrying the signal's reason as soon as the signal aborts",
    inVirtualTime(async (clock) => {
      const start = clock.now()
      const controller = new AbortController()
      clock.setTimeout(() => controller.abort('stop'), 10)
      const error = await rejection(clock.run(sleep(60_000, { signal: controller.signal })))
      assert.ok(error instanceof AbortError)
      assert.equal(error.reason, 'stop')
      assert.equal(clock.now() - start, 10)
    }),
  )

  test(
    'rejects at once, setting no timer, when the signal is already aborted',
    inVirtualTime(async (clock) => {
      const sleeping = sleep(1_000, { signal: AbortSignal.abort('already') })
      assert.equal(clock.pendingTimers, 0)
      const error = await rejection(sleeping)
      assert.ok(error instanceof AbortError)
      assert.equal(error.reason, 'already')
    }),
  )

  test(
    "is cancelled by the ambient signal by default: the running task's",
    inVirtualTime(async (clock) => {
      let error: unknown
      await clock.run(
        scope(async (s) => {
          const task = s.spawn('sleeps', async () => {
            error = await rejection(sleep(60_000))
          })
          await sleep(5)
          task.cancel('stop')
        }),
      )
      assert.ok(error instanceof AbortError)
      assert.equal(error.reason, 'stop')
    }),
  )

  test(
    'an explicit signal overrides the ambient one',
    inVirtualTime(async (clock) => {
      let slept = false
      await clock.run(
        scope(async (s) => {
          const task = s.spawn('sleeps on its own signal', async () => {
            await sleep(20, { signal: ignoring() })
            slept = true
          })
          task.cancel('stop')
        }),
      )
      assert.equal(slept, true)
    }),
  )

  test(
    'removes its timer and its abort listener whether it resolves or is cancelled',
    inVirtualTime(async (clock) => {
      const controller = new AbortController()
      const resolved = sleep(10, { signal: controller.signal })
      assert.equal(getEventListeners(controller.signal, 'abort').length, 1)
      await clock.run(resolved)
      assert.equal(getEventListeners(controller.signal, 'abort').length, 0)
      assert.equal(clock.pendingTimers, 0)

      const cancelled = sleep(10, { signal: controller.signal })
      controller.abort()
      await rejection(cancelled)
      assert.equal(getEventListeners(controller.signal, 'abort').length, 0)
      assert.equal(clock.pendingTimers, 0)
    }),
  )
})
