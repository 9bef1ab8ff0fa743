import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { AbortError, DeadlineExceeded, retry, scope, sleep } from 'weft'
import { withVirtualClock } from 'weft/testing'

/** A function that fails its first `failures` calls, recording the clock time of every call. */
function flaky(failures: number, now: () => number) {
  const calls: number[] = []
  const fn = async () => {
    calls.push(now())
    if (calls.length <= failures) throw new Error(`failure ${calls.length}`)
    return `success on call ${calls.length}`
  }
  return { fn, calls }
}

describe('retry', () => {
  test('retries until success, waiting the exponential backoff between attempts', async () => {
    await withVirtualClock(async (clock) => {
      const { fn, calls } = flaky(3, () => clock.now())
      const value = await clock.run(
        retry(fn, { attempts: 5, backoff: { initial: 100, factor: 2 }, jitter: 0 }),
      )
      assert.equal(value, 'success on call 4')
      const start = calls[0] as number
      assert.deepEqual(
        calls.map((t) => t - start),
        [0, 100, 300, 700],
      )
    })
  })

  test('`attempts` counts every call, the first included, and the last error is thrown', async () => {
    await withVirtualClock(async (clock) => {
      const { fn, calls } = flaky(10, () => clock.now())
      await assert.rejects(clock.run(retry(fn, { attempts: 3, backoff: 1 })), /failure 3/)
      assert.equal(calls.length, 3)
    })
  })

  test('jitter keeps each delay between (1 - jitter) and 1 times the backoff', async () => {
    await withVirtualClock(async (clock) => {
      const { fn, calls } = flaky(20, () => clock.now())
      await assert.rejects(clock.run(retry(fn, { attempts: 20, backoff: 100, jitter: 0.5 })))
      const gaps = calls.slice(1).map((t, i) => t - (calls[i] as number))
      assert.ok(
        gaps.every((gap) => gap >= 50 && gap <= 100),
        `gaps ${gaps}`,
      )
      assert.ok(new Set(gaps).size > 1, 'delays are randomised')
    })
  })

  test('never starts an attempt after the deadline: gives up with the last error instead', async () => {
    await withVirtualClock(async (clock) => {
      const { fn, calls } = flaky(10, () => clock.now())
      const outcome = clock.run(
        scope({ deadline: 250 }, () => retry(fn, { attempts: 10, backoff: 100, jitter: 0 })),
      )
      await assert.rejects(outcome, /failure 3/)
      const start = calls[0] as number
      assert.deepEqual(
        calls.map((t) => t - start),
        [0, 100, 200],
      )
      assert.equal(clock.pendingTimers, 0)
    })
  })

  test('retryIf decides which errors deserve another attempt; cancellations are not retried', async () => {
    await withVirtualClock(async (clock) => {
      let calls = 0
      const permanent = async () => {
        calls += 1
        throw Object.assign(new Error('not found'), { status: 404 })
      }
      await assert.rejects(
        clock.run(retry(permanent, { retryIf: (error) => (error as { status?: number }).status !== 404 })),
        /not found/,
      )
      assert.equal(calls, 1)

      let attempts = 0
      const outcome = clock.run(
        scope({ deadline: 50 }, () =>
          retry(
            async ({ signal }) => {
              attempts += 1
              await sleep(1000, { signal })
            },
            { attempts: 5 },
          ),
        ),
      )
      await assert.rejects(outcome, DeadlineExceeded)
      assert.equal(attempts, 1)
    })
  })

  test('each attempt is called with { signal, deadline } and cancelled with its scope', async () => {
    const controller = new AbortController()
    let seen: unknown
    const outcome = scope({ signal: controller.signal }, () =>
      retry(async ({ signal, deadline }) => {
        assert.equal(deadline, undefined)
        await sleep(10_000, { signal }).catch((error: unknown) => {
          seen = error
          throw error
        })
      }),
    )
    controller.abort(new Error('shutting down'))
    await assert.rejects(outcome, AbortError)
    assert.ok(seen instanceof AbortError)
  })

  test('bad options are TypeErrors naming the option', () => {
    const fn = async () => 1
    assert.throws(
      () => retry(fn, { attempts: 0 }),
      /retry\(\): options\.attempts must be a whole number of at least 1, got 0/,
    )
    assert.throws(() => retry(fn, { jitter: 2 }), /options\.jitter must be a number from 0 to 1, got 2/)
    assert.throws(
      () => retry(fn, { backoff: -5 }),
      /options\.backoff must be a finite number of milliseconds/,
    )
    assert.throws(() => retry(fn, { backoff: { factor: 0.5 } }), /options\.backoff\.factor/)
    assert.throws(() => retry(fn, { retryIf: true as never }), /options\.retryIf must be a function/)
    assert.throws(() => retry(undefined as never), /retry\(\): fn must be a function, got undefined/)
  })
})
