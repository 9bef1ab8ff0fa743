import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { sleep } from 'weft'
import { withVirtualClock } from 'weft/testing'
import { InFlight } from '../../../src/backends/queue/in-flight.ts'

/** A delivery that runs until its stop signal aborts, then ends (as a handler honouring its signal does). */
function untilStopped(stop: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => stop.addEventListener('abort', () => resolve(stop.reason), { once: true }))
}

describe('InFlight', () => {
  test('counts a delivery until its promise settles', async () => {
    const inFlight = new InFlight<string>()
    const gate = Promise.withResolvers<void>()
    const running = inFlight.run('a', 'lease a', () => gate.promise)
    assert.equal(inFlight.size, 1)
    assert.deepEqual([...inFlight.entries()], [['a', 'lease a']])
    gate.resolve()
    await running
    assert.equal(inFlight.size, 0, 'no longer counted by the time its caller resumes')
  })

  test('stop aborts the signal of one delivery', async () => {
    const inFlight = new InFlight<undefined>()
    const a = inFlight.run('a', undefined, untilStopped)
    const b = inFlight.run('b', undefined, (stop) => Promise.resolve(stop.aborted))
    inFlight.stop('a', 'lease lost')
    assert.equal(await a, 'lease lost')
    assert.equal(await b, false)
  })

  test('drain waits for deliveries finishing within the grace period, and stops none of them', async () => {
    await withVirtualClock(async (clock) => {
      const inFlight = new InFlight<undefined>()
      let stopped = false
      inFlight.run('a', undefined, async (stop) => {
        await sleep(4_000)
        stopped = stop.aborted
      })
      await clock.run(inFlight.drain(5_000))
      assert.equal(stopped, false)
      assert.equal(clock.pendingTimers, 0, 'the grace timer is cleared')
    })
  })

  test('past the grace period, drain stops what still runs and waits for it to end', async () => {
    await withVirtualClock(async (clock) => {
      const inFlight = new InFlight<undefined>()
      const start = clock.now()
      const reasons: unknown[] = []
      inFlight.run('a', undefined, async (stop) => {
        reasons.push(await untilStopped(stop))
        await sleep(100) // cleanup after the stop: drain waits for it
      })
      let finishedWithin = 0
      inFlight.run('b', undefined, async () => {
        await sleep(1_000)
        finishedWithin = clock.now() - start
      })
      await clock.run(inFlight.drain(5_000))
      assert.equal(finishedWithin, 1_000)
      assert.equal(reasons.length, 1)
      assert.match(String((reasons[0] as Error).message), /grace period of 5000 ms is over/)
      assert.equal((reasons[0] as Error).name, 'AbortError')
      assert.equal(clock.now() - start, 5_100)
      assert.equal(inFlight.size, 0)
    })
  })

  test('drain with nothing in flight resolves at once', async () => {
    await withVirtualClock(async (clock) => {
      await new InFlight<undefined>().drain(5_000)
      assert.equal(clock.pendingTimers, 0)
    })
  })
})
