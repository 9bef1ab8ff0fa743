import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { AbortError, asCompleted, scope, sleep } from 'weft'
import { withVirtualClock } from 'weft/testing'

const after =
  <T>(ms: number, value: T) =>
  async ({ signal }: { signal: AbortSignal }) => {
    await sleep(ms, { signal })
    return value
  }

describe('asCompleted', () => {
  test('yields values in the order the tasks complete, not the order given', async () => {
    await withVirtualClock(async (clock) => {
      const seen = await clock.run(
        scope(async (s) => {
          const tasks = [s.spawn(after(30, 'c')), s.spawn(after(10, 'a')), s.spawn(after(20, 'b'))]
          const order: string[] = []
          for await (const value of asCompleted(tasks)) order.push(value)
          return order
        }),
      )
      assert.deepEqual(seen, ['a', 'b', 'c'])
    })
  })

  test('leaving the loop early cancels the tasks still running, and the scope then settles', async () => {
    await withVirtualClock(async (clock) => {
      const tasks: { state: string }[] = []
      const first = await clock.run(
        scope(async (s) => {
          const spawned = [
            s.spawn(after(10, 'fast')),
            s.spawn(after(1000, 'slow')),
            s.spawn(after(2000, 'slower')),
          ]
          tasks.push(...spawned)
          for await (const value of asCompleted(spawned)) return value
          return 'none'
        }),
      )
      assert.equal(first, 'fast')
      assert.deepEqual(
        tasks.map((task) => task.state),
        ['fulfilled', 'cancelled', 'cancelled'],
      )
      assert.ok(clock.now() < Date.UTC(2026, 0, 1) + 1000, 'did not wait for the cancelled tasks to time out')
      assert.equal(clock.pendingTimers, 0)
    })
  })

  test('a task that fails makes the loop throw its error and cancels the rest', async () => {
    await withVirtualClock(async (clock) => {
      let slowOutcome: unknown
      const outcome = clock.run(
        scope(async (s) => {
          const slow = s.spawn('slow', async ({ signal }) => {
            try {
              await sleep(1000, { signal })
            } catch (error) {
              slowOutcome = error
              throw error
            }
          })
          const broken = s.spawn('broken', async () => {
            await sleep(5)
            throw new Error('query failed')
          })
          for await (const _ of asCompleted([slow, broken])) assert.fail('nothing completes successfully')
        }),
      )
      await assert.rejects(outcome, /query failed/)
      assert.ok(slowOutcome instanceof AbortError)
    })
  })

  test('accepts plain promises too, and ends at once on an empty list', async () => {
    const values: number[] = []
    for await (const value of asCompleted([
      Promise.resolve(2),
      new Promise<number>((r) => setImmediate(r, 3)),
    ])) {
      values.push(value)
    }
    assert.deepEqual(values, [2, 3])
    for await (const _ of asCompleted([])) assert.fail('an empty list yields nothing')
  })

  test('rejects what is not an iterable of tasks or promises with a TypeError', () => {
    assert.throws(() => asCompleted(42 as never), /asCompleted\(\): items must be an iterable/)
    assert.throws(() => asCompleted([1] as never), /every item must be a task or a promise, got 1/)
  })
})
