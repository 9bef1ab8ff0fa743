// Cancellation: a cancelled load rejects at once and alone; a key nobody waits for leaves its batch; a
// batch nobody waits for is aborted; and a cancelled load never poisons the cache for anyone else.
import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { describe, test } from 'node:test'
import { AbortError, scope, sleep } from 'weft'
import { loader } from 'weft/batch'
import { inVirtualTime, rejection } from '../core/support.ts'
import { manual, nextTurn, recording } from './support.ts'

describe('a cancelled load', () => {
  test(
    'rejects at once with an AbortError giving the reason, while the other loads of its key get the value',
    inVirtualTime(async () => {
      const { batchFn, calls } = manual<number, string>()
      const names = loader('names', batchFn)
      await scope(async (s) => {
        const cancelled = s.spawn('cancelled', () => names.load(1))
        const kept = s.spawn('kept', () => names.load(1))
        await nextTurn()
        cancelled.cancel('user left')
        const error = await rejection(cancelled)
        assert.ok(error instanceof AbortError && error.reason === 'user left')
        calls[0]?.answer(['one'])
        assert.equal(await kept, 'one')
        assert.equal(calls[0]?.context.signal.aborted, false)
      })
    }),
  )

  test(
    'made in an already cancelled task rejects without a fetch',
    inVirtualTime(async (clock) => {
      const { batchFn, calls } = recording((key: number) => key)
      const numbers = loader('numbers', batchFn)
      let error: unknown
      await clock.run(
        scope(async (s) => {
          const task = s.spawn('late', async ({ signal }) => {
            await sleep(5, { signal: new AbortController().signal })
            assert.ok(signal.aborted)
            error = await rejection(numbers.load(1))
          })
          task.cancel('gone')
          await assert.rejects(task, AbortError)
        }),
      )
      assert.ok(error instanceof AbortError && error.reason === 'gone')
      assert.equal(calls.length, 0)
    }),
  )

  test('with an explicit signal rejects when that signal aborts, inside or outside any scope', async () => {
    const { batchFn, calls } = manual<number, number>()
    const numbers = loader('numbers', batchFn)
    const controller = new AbortController()
    const outside = numbers.load(1, { signal: controller.signal })
    const other = numbers.load(2)
    await nextTurn()
    controller.abort('stop')
    const error = await rejection(outside)
    assert.ok(error instanceof AbortError && error.reason === 'stop')
    calls[0]?.answer([1, 2])
    assert.equal(await other, 2)
  })

  test('with an explicit signal listens to it only until it settles or is cancelled', async () => {
    const { batchFn, calls } = manual<number, number>()
    const numbers = loader('numbers', batchFn)
    const signal = new AbortController().signal
    const cancelling = new AbortController()
    const loads = [
      numbers.load(1, { signal }),
      numbers.load(2, { signal }),
      numbers.load(3, { signal: cancelling.signal }),
    ]
    assert.equal(getEventListeners(signal, 'abort').length, 2)
    cancelling.abort('stop')
    assert.equal(getEventListeners(cancelling.signal, 'abort').length, 0)
    await nextTurn()
    calls[0]?.answer([10, 20])
    assert.deepEqual(await Promise.all(loads.slice(0, 2)), [10, 20])
    assert.equal(getEventListeners(signal, 'abort').length, 0)
    assert.ok((await rejection(loads[2] as Promise<number>)) instanceof AbortError)
  })

  test(
    'with an explicit signal is not cancelled with its task: the signal overrides the ambient one',
    inVirtualTime(async () => {
      const { batchFn, calls } = manual<number, number>()
      const numbers = loader('numbers', batchFn)
      const own = new AbortController()
      await scope(async (s) => {
        let load: Promise<number> | undefined
        const task = s.spawn('starts a load', async () => {
          load = numbers.load(1, { signal: own.signal })
          await sleep(1000)
        })
        await nextTurn()
        task.cancel('task no longer needed')
        calls[0]?.answer([10])
        assert.equal(await load, 10)
      })
    }),
  )

  test(
    'of a task that returned without awaiting it still settles, and is cancelled with the scope',
    inVirtualTime(async (clock) => {
      const { batchFn, calls } = manual<number, number>()
      const numbers = loader('numbers', batchFn)
      const loads: Promise<number>[] = []
      const request = rejection(
        scope({ deadline: 100 }, async (s) => {
          await s.spawn('fires and forgets', () => {
            loads.push(numbers.load(1), numbers.load(2))
          })
          await nextTurn()
          calls[0]?.answer(new Map([[1, 10]]).set(2, 20))
          assert.deepEqual(await Promise.all(loads), [10, 20])
          s.spawn('another', () => {
            loads.push(numbers.load(3))
          })
          await sleep(1000)
        }),
      )
      await clock.advance(100)
      assert.equal(((await request) as Error).name, 'DeadlineExceeded')
      assert.ok((await rejection(loads[2] ?? Promise.resolve())) instanceof AbortError)
    }),
  )

  test(
    'that nobody awaits leaves no unhandled rejection',
    inVirtualTime(async () => {
      const { batchFn } = manual<number, number>()
      const numbers = loader('numbers', batchFn)
      await scope(async (s) => {
        const task = s.spawn('fire and forget', async () => {
          void numbers.load(1)
          void numbers.load(2)
          await sleep(1000)
        })
        await nextTurn()
        task.cancel('done')
      })
    }),
  )
})

describe('a key whose every load was cancelled', () => {
  test(
    'leaves the batch before it is sent, and is fetched afresh by a later load',
    inVirtualTime(async () => {
      const { batchFn, keysOf } = recording((key: number) => key * 10)
      const numbers = loader('numbers', batchFn)
      await scope(async (s) => {
        const dropped = s.spawn('dropped', () => numbers.load(1))
        const kept = s.spawn('kept', () => numbers.load(2))
        dropped.cancel('not needed')
        assert.equal(await kept, 20)
        assert.equal(await numbers.load(1), 10)
      })
      assert.deepEqual(keysOf(), [[2], [1]])
    }),
  )

  test(
    'stays in a batch already sent, and a later load of it gets the value without a new fetch',
    inVirtualTime(async () => {
      const { batchFn, calls } = manual<number, number>()
      const numbers = loader('numbers', batchFn)
      await scope(async (s) => {
        const left = s.spawn('left', () => numbers.load(1))
        const other = s.spawn('other', () => numbers.load(2))
        await nextTurn()
        left.cancel('not needed')
        const later = numbers.load(1)
        calls[0]?.answer([10, 20])
        assert.deepEqual(await Promise.all([later, other]), [10, 20])
        assert.equal(calls[0]?.context.signal.aborted, false)
      })
      assert.equal(calls.length, 1)
    }),
  )
})

describe('a batch whose every load was cancelled', () => {
  test(
    "aborts its signal with the last load's reason, and its keys are fetched afresh by later loads",
    inVirtualTime(async () => {
      const { batchFn, calls } = manual<number, number>()
      const numbers = loader('numbers', batchFn)
      await scope(async (s) => {
        const a = s.spawn('a', () => numbers.load(1))
        const b = s.spawn('b', () => numbers.loadMany([1, 2]))
        await nextTurn()
        const { signal } = calls[0]?.context ?? assert.fail('no batch sent')
        a.cancel('first')
        assert.equal(signal.aborted, false)
        b.cancel('second')
        assert.equal(signal.aborted, true)
        assert.equal(signal.reason, 'second')
        const again = numbers.loadMany([1, 2])
        await nextTurn()
        calls[0]?.answer([-1, -2]) // a late answer of the aborted batch is ignored
        calls[1]?.answer([10, 20])
        assert.deepEqual(await again, [10, 20])
      })
      assert.deepEqual(
        calls.map((call) => call.keys),
        [
          [1, 2],
          [1, 2],
        ],
      )
    }),
  )

  test(
    'is aborted when its request is cancelled, even for loads made in the request scope itself',
    inVirtualTime(async (clock) => {
      const { batchFn, calls } = manual<number, number>()
      const numbers = loader('numbers', batchFn)
      const request = rejection(
        scope({ deadline: 50 }, async (s) => {
          s.spawn('in a task', () => numbers.load(1))
          return numbers.load(2)
        }),
      )
      await clock.advance(50)
      assert.equal(calls[0]?.context.signal.aborted, true)
      assert.equal(((await request) as Error).name, 'DeadlineExceeded')
    }),
  )

  test(
    'is aborted when a nested scope whose tasks made all its loads misses its deadline, and the request goes on',
    inVirtualTime(async (clock) => {
      const { batchFn, calls } = manual<number, number>()
      const numbers = loader('numbers', batchFn)
      const result = clock.run(
        scope(async () => {
          const nested = scope({ deadline: 10 }, (s) => s.spawn('load', () => numbers.load(1)))
          await assert.rejects(nested, { name: 'DeadlineExceeded' })
          assert.equal(calls[0]?.context.signal.aborted, true)
          const again = numbers.load(1)
          await nextTurn()
          calls[1]?.answer([100])
          return again
        }),
      )
      assert.equal(await result, 100)
    }),
  )
})

describe('a cancelled cache hit', () => {
  test(
    'rejects alone, while the batch it waited for goes on',
    inVirtualTime(async () => {
      const { batchFn, calls } = manual<number, number>()
      const numbers = loader('numbers', batchFn)
      await scope(async (s) => {
        numbers.prime(1, 10)
        const hit = s.spawn('hit', () => numbers.load(1))
        const miss = s.spawn('miss', () => numbers.load(2))
        await nextTurn()
        hit.cancel('bored')
        await assert.rejects(hit, AbortError)
        calls[0]?.answer([20])
        assert.equal(await miss, 20)
        assert.equal(await numbers.load(1), 10)
      })
    }),
  )
})

test(
  'a request cancelled while batches are in flight cancels every one of its tasks',
  inVirtualTime(async (clock) => {
    const { batchFn } = manual<number, number>()
    const numbers = loader('numbers', batchFn)
    const exits: string[] = []
    const request = rejection(
      scope({ deadline: 100 }, async (s) => {
        const first = s.spawn('first', () => numbers.load(1))
        await nextTurn()
        s.spawn('late joiner', () => numbers.load(1).finally(() => exits.push('late joiner')))
        s.spawn('unrelated', ({ signal }) => sleep(10_000, { signal }).finally(() => exits.push('unrelated')))
        first.cancel('first gave up')
        await sleep(1000)
      }),
    )
    await clock.advance(100)
    assert.equal(((await request) as Error).name, 'DeadlineExceeded')
    assert.deepEqual(exits.toSorted(), ['late joiner', 'unrelated'])
  }),
)
