import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { withVirtualClock } from 'weft/testing'
import { Cancellation } from '../../../src/backends/rpc/cancellation.ts'

describe('Cancellation', () => {
  test("aborts with its parent, with the parent's reason", async () => {
    await withVirtualClock((clock) => {
      const parent = new AbortController()
      const cancellation = new Cancellation(parent.signal, clock.now() + 100, () => 'timed out')
      parent.abort('caller left')
      assert.deepEqual([cancellation.signal.reason, cancellation.expired], ['caller left', false])
      assert.equal(clock.pendingTimers, 0, 'its timer is cleared at once')
    })
  })

  test('aborts by itself when its time comes, with its own reason, and says so', async () => {
    await withVirtualClock(async (clock) => {
      const parent = new AbortController()
      const cancellation = new Cancellation(parent.signal, clock.now() + 100, () => 'timed out')
      await clock.advance(99)
      assert.equal(cancellation.signal.aborted, false)
      await clock.advance(1)
      assert.deepEqual([cancellation.signal.reason, cancellation.expired], ['timed out', true])
      parent.abort('later')
      assert.equal(cancellation.signal.reason, 'timed out', 'the first reason stays')
      cancellation.dispose()
    })
  })

  test('is born aborted under an aborted parent, or when its time has already come', async () => {
    await withVirtualClock((clock) => {
      const parent = new AbortController()
      parent.abort('gone')
      assert.equal(new Cancellation(parent.signal, undefined, () => 'x').signal.reason, 'gone')
      const late = new Cancellation(new AbortController().signal, clock.now(), () => 'no time left')
      assert.deepEqual([late.signal.reason, late.expired], ['no time left', true])
      late.dispose()
      assert.equal(clock.pendingTimers, 0)
    })
  })

  test('dispose() leaves no timer and no listener on the parent', async () => {
    await withVirtualClock(async (clock) => {
      const parent = new AbortController()
      const cancellation = new Cancellation(parent.signal, clock.now() + 100, () => 'timed out')
      cancellation.dispose()
      assert.equal(clock.pendingTimers, 0)
      parent.abort('after dispose')
      assert.equal(cancellation.signal.aborted, false)
    })
  })
})
