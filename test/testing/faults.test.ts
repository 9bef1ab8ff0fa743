import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { AbortError, DeadlineExceeded, scope } from 'weft'
import { seededRandom, withFaults, withVirtualClock } from 'weft/testing'

const echo = async (value: string) => value

describe('withFaults', () => {
  test('adds the planned latency on the active clock before calling through', async () => {
    await withVirtualClock(async (clock) => {
      const slow = withFaults(echo, { latency: 250 })
      const start = clock.now()
      assert.equal(await clock.run(slow('x')), 'x')
      assert.equal(clock.now() - start, 250)
    })
  })

  test('draws latencies within the range, the same ones for the same seed', async () => {
    await withVirtualClock(async (clock) => {
      const delays = async (seed: number) => {
        const call = withFaults(echo, { latency: { min: 5, max: 15 }, seed })
        const seen: number[] = []
        for (let i = 0; i < 20; i++) {
          const start = clock.now()
          await clock.run(call('x'))
          seen.push(clock.now() - start)
        }
        return seen
      }
      const first = await delays(7)
      assert.ok(first.every((delay) => delay >= 5 && delay <= 15))
      assert.deepEqual(await delays(7), first)
      assert.notDeepEqual(await delays(8), first)
    })
  })

  test('fails about the planned fraction of calls, with the planned error', async () => {
    const flaky = withFaults(echo, { failureRate: 0.3, error: (call) => new Error(`down #${call}`) })
    const outcomes = await Promise.allSettled(Array.from({ length: 1000 }, () => flaky('x')))
    const failures = outcomes.filter((outcome) => outcome.status === 'rejected')
    assert.ok(failures.length > 230 && failures.length < 370, `${failures.length} failures of 1000`)
    assert.match(String((failures[0] as PromiseRejectedResult).reason), /down #\d+/)
    assert.equal(flaky.calls, 1000)
  })

  test('a stalled call waits until its scope is cancelled, then rejects with an AbortError', async () => {
    await withVirtualClock(async (clock) => {
      const stalled = withFaults(echo, { stallRate: 1 })
      let seen: unknown
      const request = scope({ deadline: 100 }, async (s) => {
        await s.spawn('call', () =>
          stalled('x').catch((error: unknown) => {
            seen = error
            throw error
          }),
        )
      })
      await assert.rejects(clock.run(request), DeadlineExceeded)
      assert.ok(seen instanceof AbortError)
      assert.ok(seen.reason instanceof DeadlineExceeded)
      assert.equal(clock.pendingTimers, 0)
    })
  })

  test('rejects bad plans with a TypeError naming the field', () => {
    assert.throws(
      () => withFaults(echo, { failureRate: 2 }),
      /plan\.failureRate must be a number from 0 to 1, got 2/,
    )
    assert.throws(() => withFaults(echo, { latency: -1 }), /plan\.latency/)
    assert.throws(() => withFaults(echo, { latency: { min: 10, max: 5 } }), /max must be at least/)
    assert.throws(() => withFaults('nope' as never), /withFaults\(\): fn must be a function, got "nope"/)
  })
})

describe('seededRandom', () => {
  test('is deterministic per seed and stays within [0, 1)', () => {
    const a = seededRandom(42)
    const b = seededRandom(42)
    const values = Array.from({ length: 100 }, () => a())
    assert.deepEqual(
      values,
      Array.from({ length: 100 }, () => b()),
    )
    assert.ok(values.every((value) => value >= 0 && value < 1))
  })
})
