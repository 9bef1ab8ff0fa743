import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DeadlineExceeded, hedge, scope, sleep } from 'weft'
import { withVirtualClock } from 'weft/testing'

/** A replica whose n-th call answers after `delays[n]` ms (or fails when the delay is an Error). */
function replica(delays: (number | Error)[], now: () => number) {
  const started: number[] = []
  const cancelled: number[] = []
  const fn = async ({ signal }: { signal: AbortSignal }) => {
    const call = started.push(now())
    const plan = delays[call - 1] ?? 0
    if (plan instanceof Error) throw plan
    try {
      await sleep(plan, { signal })
    } catch (error) {
      cancelled.push(call)
      throw error
    }
    return `call ${call}`
  }
  return { fn, started, cancelled }
}

describe('hedge', () => {
  test('a fast first attempt wins alone: no hedge is sent', async () => {
    await withVirtualClock(async (clock) => {
      const { fn, started } = replica([5], () => clock.now())
      assert.equal(await clock.run(hedge(fn, { after: 10 })), 'call 1')
      assert.equal(started.length, 1)
      assert.equal(clock.pendingTimers, 0)
    })
  })

  test('a slow first attempt gets a hedge after `after` ms; the first success wins, the other is cancelled', async () => {
    await withVirtualClock(async (clock) => {
      const { fn, started, cancelled } = replica([1000, 5], () => clock.now())
      assert.equal(await clock.run(hedge(fn, { after: 10 })), 'call 2')
      assert.deepEqual(
        started.map((t) => t - (started[0] as number)),
        [0, 10],
      )
      assert.deepEqual(cancelled, [1])
      assert.equal(clock.now() - (started[0] as number), 15)
    })
  })

  test('sends at most `max` attempts in all', async () => {
    await withVirtualClock(async (clock) => {
      const { fn, started } = replica([100, 100, 100, 100], () => clock.now())
      assert.equal(await clock.run(hedge(fn, { after: 10, max: 3 })), 'call 1')
      assert.deepEqual(
        started.map((t) => t - (started[0] as number)),
        [0, 10, 20],
      )
    })
  })

  test('a failure with nothing else in flight starts the next attempt at once', async () => {
    await withVirtualClock(async (clock) => {
      const { fn, started } = replica([new Error('reset'), 5], () => clock.now())
      assert.equal(await clock.run(hedge(fn, { after: 50 })), 'call 2')
      assert.deepEqual(
        started.map((t) => t - (started[0] as number)),
        [0, 0],
      )
    })
  })

  test('when every attempt fails, rejects with the last error', async () => {
    await withVirtualClock(async (clock) => {
      const { fn } = replica([new Error('first'), new Error('second')], () => clock.now())
      await assert.rejects(clock.run(hedge(fn, { after: 50 })), /second/)
      assert.equal(clock.pendingTimers, 0)
    })
  })

  test('the enclosing deadline cancels every attempt', async () => {
    await withVirtualClock(async (clock) => {
      const { fn, cancelled } = replica([1000, 1000], () => clock.now())
      await assert.rejects(
        clock.run(scope({ deadline: 30 }, () => hedge(fn, { after: 10 }))),
        DeadlineExceeded,
      )
      assert.deepEqual(cancelled.sort(), [1, 2])
      assert.equal(clock.pendingTimers, 0)
    })
  })

  test('bad options are TypeErrors naming the option', () => {
    const fn = async () => 1
    assert.throws(
      () => hedge(fn, {} as never),
      /hedge\(\): options\.after must be a finite number of milliseconds, 0 or more, got undefined/,
    )
    assert.throws(
      () => hedge(fn, { after: 5, max: 0 }),
      /options\.max must be a whole number of at least 1, got 0/,
    )
    assert.throws(() => hedge(42 as never, { after: 1 }), /hedge\(\): fn must be a function, got 42/)
    assert.throws(() => hedge(fn, undefined as never), /options\.after/)
  })
})
