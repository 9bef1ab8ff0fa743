import assert from 'node:assert/strict'
import { AsyncLocalStorage } from 'node:async_hooks'
import { describe, test } from 'node:test'
import { AbortError, map, sleep } from 'weft'
import { withVirtualClock } from 'weft/testing'

describe('map', () => {
  test('results come in input order whatever order the items finish in', async () => {
    await withVirtualClock(async (clock) => {
      const results = await clock.run(
        map([30, 10, 20], async (ms, index, { signal }) => {
          await sleep(ms, { signal })
          return `${index}:${ms}`
        }),
      )
      assert.deepEqual(results, ['0:30', '1:10', '2:20'])
    })
  })

  test('never runs more than `concurrency` items at once, and starts the next as one finishes', async () => {
    await withVirtualClock(async (clock) => {
      let running = 0
      let peak = 0
      const started: number[] = []
      await clock.run(
        map(
          Array.from({ length: 10 }, (_, i) => i),
          async (item, _index, { signal }) => {
            started.push(clock.now())
            peak = Math.max(peak, ++running)
            await sleep(10, { signal })
            running -= 1
            return item
          },
          { concurrency: 3 },
        ),
      )
      assert.equal(peak, 3)
      const start = started[0] as number
      assert.deepEqual(
        started.map((t) => t - start),
        [0, 0, 0, 10, 10, 10, 20, 20, 20, 30],
      )
    })
  })

  test('the first failure cancels the running items, starts no more, and map rejects with it', async () => {
    await withVirtualClock(async (clock) => {
      const calls: number[] = []
      const cancelled: number[] = []
      const outcome = clock.run(
        map(
          [0, 1, 2, 3, 4, 5],
          async (item, _index, { signal }) => {
            calls.push(item)
            if (item === 1) {
              await sleep(5, { signal })
              throw new Error(`item ${item} failed`)
            }
            try {
              await sleep(100, { signal })
            } catch (error) {
              if (error instanceof AbortError) cancelled.push(item)
              throw error
            }
          },
          { concurrency: 3 },
        ),
      )
      await assert.rejects(outcome, /item 1 failed/)
      assert.deepEqual(calls, [0, 1, 2])
      assert.deepEqual(cancelled.sort(), [0, 2])
      assert.equal(clock.pendingTimers, 0)
    })
  })

  test('an item started as another finishes does not see what that item put in an AsyncLocalStorage', async () => {
    const store = new AsyncLocalStorage<string>()
    const seen = await store.run('caller', () =>
      map(
        [0, 1, 2],
        async (item) => {
          const value = store.getStore()
          await Promise.resolve()
          store.enterWith(`set by item ${item}`)
          return value
        },
        { concurrency: 1 },
      ),
    )
    assert.deepEqual(seen, ['caller', 'caller', 'caller'])
  })

  test('a long run of items that answer at once, one at a time, starts each from a fresh stack', async () => {
    const count = 50_000
    const doubled = await map(
      Array.from({ length: count }, (_, i) => i),
      (i) => i * 2,
      { concurrency: 1 },
    )
    assert.equal(doubled.length, count)
    assert.equal(doubled[count - 1], 2 * (count - 1))
  })

  test('an empty input resolves to an empty array without calling fn', async () => {
    assert.deepEqual(await map([], () => assert.fail('not called')), [])
  })

  test('bad input is a TypeError naming the argument', () => {
    assert.throws(
      () => map([1], async () => 1, { concurrency: 0 }),
      /options\.concurrency must be a whole number of at least 1/,
    )
    assert.throws(() => map([1], async () => 1, { concurrency: 1.5 }), /got 1\.5/)
    assert.throws(() => map([1], null as never), /map\(\): fn must be a function, got null/)
  })
})
