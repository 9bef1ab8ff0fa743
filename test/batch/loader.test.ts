// DataLoader's documented behaviours, as weft's loader keeps them: batching, de-duplication,
// maxBatchSize, per-key errors, prime and clear, custom cache keys, cache hits in lock-step.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { scope } from 'weft'
import { loader } from 'weft/batch'
import { inVirtualTime, rejection } from '../core/support.ts'
import { manual, nextTurn, recording } from './support.ts'

const double = (key: number): number => key * 2

describe('batching', () => {
  test('loads of one turn become one call of the batch function', async () => {
    const { batchFn, keysOf } = recording(double)
    const numbers = loader('numbers', batchFn)
    const values = await scope(() => Promise.all([numbers.load(1), numbers.load(2), numbers.load(3)]))
    assert.deepEqual(values, [2, 4, 6])
    assert.deepEqual(keysOf(), [[1, 2, 3]])
  })

  test('loads issued by independent code paths after awaiting resolved promises still join the batch', async () => {
    const { batchFn, keysOf } = recording(double)
    const numbers = loader('numbers', batchFn)
    await scope(async (s) => {
      const viaTasks = [1, 2].map((key) => s.spawn(`task ${key}`, () => numbers.load(key)))
      const afterAwaits = (async () => {
        await Promise.resolve()
        await null
        return numbers.load(3)
      })()
      assert.deepEqual(await Promise.all([...viaTasks, afterAwaits]), [2, 4, 6])
    })
    assert.deepEqual(keysOf(), [[1, 2, 3]])
  })

  test('loads of later turns make later batches', async () => {
    const { batchFn, keysOf } = recording(double)
    const numbers = loader('numbers', batchFn)
    await scope(async () => {
      const first = await numbers.load(1)
      const second = await numbers.load(first)
      assert.equal(second, 4)
    })
    assert.deepEqual(keysOf(), [[1], [2]])
  })

  test('maxBatchSize splits the keys of a turn into several calls, in order', async () => {
    const { batchFn, keysOf } = recording(double)
    const numbers = loader('numbers', batchFn, { maxBatchSize: 2 })
    const values = await scope(() => numbers.loadMany([1, 2, 3, 4, 5]))
    assert.deepEqual(values, [2, 4, 6, 8, 10])
    assert.deepEqual(keysOf(), [[1, 2], [3, 4], [5]])
  })

  test('maxBatchSize chunks the keys still wanted when the batch is sent', async () => {
    const { batchFn, keysOf } = recording(double)
    const numbers = loader('numbers', batchFn, { maxBatchSize: 2 })
    await scope(async (s) => {
      const left = s.spawn('leaves', () => numbers.load(1))
      const stay = [2, 3].map((key) => s.spawn(`stays ${key}`, () => numbers.load(key)))
      left.cancel('not needed')
      assert.deepEqual(await Promise.all(stay), [4, 6])
    })
    assert.deepEqual(keysOf(), [[2, 3]])
  })

  test('a batch function may return its values synchronously', async () => {
    const numbers = loader('numbers', (keys: readonly number[]) => keys.map(double))
    assert.deepEqual(await scope(() => numbers.loadMany([1, 2])), [2, 4])
  })

  test('a batch function may return any array-like of values (a typed array, an arguments-like object)', async () => {
    const typed = loader('typed', async (keys: readonly number[]) => Float64Array.from(keys, double))
    const like = loader('like', async (keys: readonly number[]) =>
      Object.assign({ length: keys.length }, keys.map(double)),
    )
    assert.deepEqual(await scope(() => Promise.all([typed.load(1), typed.load(2), like.load(3)])), [2, 4, 6])
  })

  test('a batch function may return a Map from key to value, in any order', async () => {
    const names = loader(
      'names',
      async (ids: readonly number[]) => new Map([...ids].reverse().map((id) => [id, `#${id}`])),
    )
    assert.deepEqual(await scope(() => Promise.all([names.load(1), names.load(2)])), ['#1', '#2'])
  })

  test('a loader may load from another inside its batch function, in the same request', async () => {
    const { batchFn: teamBatch, keysOf } = recording((id: string) => `team ${id}`)
    const teams = loader('teams', teamBatch)
    const users = loader('users', (ids: readonly number[]) =>
      Promise.all(ids.map((id) => teams.load(String(id % 2)))),
    )
    const values = await scope(async () => {
      const loaded = await users.loadMany([1, 2, 3])
      return { loaded, cached: await teams.load('1') }
    })
    assert.deepEqual(values, { loaded: ['team 1', 'team 0', 'team 1'], cached: 'team 1' })
    assert.deepEqual(keysOf(), [['1', '0']])
  })

  test(
    'waitMs collects the loads of later turns until the window (on the active clock) ends',
    inVirtualTime(async (clock) => {
      const { batchFn, keysOf } = recording(double)
      const numbers = loader('numbers', batchFn, { waitMs: 10 })
      const values = scope(async (s) => {
        const early = numbers.load(1)
        const later = s.spawn('later', async () => {
          await clock.advance(5)
          return numbers.load(2)
        })
        return Promise.all([early, later])
      })
      await clock.advance(9)
      assert.deepEqual(keysOf(), [])
      await clock.advance(1)
      assert.deepEqual(await values, [2, 4])
      assert.deepEqual(keysOf(), [[1, 2]])
    }),
  )

  test(
    'with waitMs, a batch that reaches maxBatchSize is sent at the end of its turn, without waiting',
    inVirtualTime(async (clock) => {
      const { batchFn, keysOf } = recording(double)
      const numbers = loader('numbers', batchFn, { waitMs: 1000, maxBatchSize: 2 })
      const start = clock.now()
      const values = await clock.run(scope(() => numbers.loadMany([1, 2, 3])))
      assert.deepEqual(values, [2, 4, 6])
      assert.deepEqual(keysOf(), [[1, 2], [3]])
      assert.equal(clock.now(), start)
    }),
  )
})

describe('de-duplication and the request cache', () => {
  test('coalesces identical loads of one turn into one key', async () => {
    const { batchFn, keysOf } = recording(double)
    const numbers = loader('numbers', batchFn)
    const values = await scope(async (s) => {
      const fromTask = s.spawn('task', () => numbers.load(1))
      return Promise.all([numbers.load(1), numbers.load(1), fromTask])
    })
    assert.deepEqual(values, [2, 2, 2])
    assert.deepEqual(keysOf(), [[1]])
  })

  test('caches loaded values for the rest of the request', async () => {
    const { batchFn, keysOf } = recording(double)
    const numbers = loader('numbers', batchFn)
    await scope(async () => {
      assert.equal(await numbers.load(1), 2)
      assert.deepEqual(await numbers.loadMany([1, 2]), [2, 4])
      assert.equal(await numbers.load(2), 4)
    })
    assert.deepEqual(keysOf(), [[1], [2]])
  })

  test('a cache hit resolves together with the batch of its turn, keeping dependent loads in step', async () => {
    const { batchFn, calls } = manual<number, { id: number; friend: number }>()
    const users = loader('users', batchFn)
    const bestFriend = async (id: number) => (await users.load((await users.load(id)).friend)).id
    await scope(async () => {
      users.prime(1, { id: 1, friend: 3 })
      const order: string[] = []
      const friends = Promise.all([bestFriend(1), bestFriend(2)])
      const cached = users.load(1).then(() => order.push('hit'))
      await nextTurn()
      assert.deepEqual(
        calls.map((call) => call.keys),
        [[2]],
      )
      order.push('answered')
      calls[0]?.answer([{ id: 2, friend: 4 }])
      await cached
      assert.deepEqual(order, ['answered', 'hit'])
      await nextTurn()
      // Both second-level loads, the cached user's and the fetched one's, went out in one batch.
      assert.deepEqual(calls[1]?.keys.toSorted(), [3, 4])
      calls[1]?.answer(new Map(calls[1].keys.map((id) => [id, { id, friend: 0 }])))
      assert.deepEqual(await friends, [3, 4])
    })
  })

  test('accepts objects as keys, compared by identity', async () => {
    const { batchFn, keysOf } = recording((key: { id: number }) => key.id)
    const byObject = loader('objects', batchFn)
    const a = { id: 1 }
    const alsoOne = { id: 1 }
    assert.deepEqual(
      await scope(() => Promise.all([byObject.load(a), byObject.load(alsoOne), byObject.load(a)])),
      [1, 1, 1],
    )
    assert.deepEqual(keysOf(), [[a, alsoOne]])
  })

  test('cacheKey maps keys to what the cache and the batch compare', async () => {
    const { batchFn, keysOf } = recording((key: { id: number }) => `#${key.id}`)
    const byId = loader('byId', batchFn, { cacheKey: (key) => key.id })
    const values = await scope(async () => {
      const first = await Promise.all([byId.load({ id: 1 }), byId.load({ id: 1 }), byId.load({ id: 2 })])
      return [...first, await byId.load({ id: 2 })]
    })
    assert.deepEqual(values, ['#1', '#1', '#2', '#2'])
    assert.deepEqual(keysOf(), [[{ id: 1 }, { id: 2 }]])
  })

  test('with cacheKey, a Map result is keyed by cache keys', async () => {
    const byId = loader(
      'byId',
      async (keys: readonly { id: number }[]) => new Map(keys.map((key) => [`user:${key.id}`, key.id * 10])),
      { cacheKey: (key) => `user:${key.id}` },
    )
    assert.deepEqual(await scope(() => byId.loadMany([{ id: 1 }, { id: 2 }])), [10, 20])
  })

  test('a key whose value is undefined is cached like any other, fetched once', async () => {
    const { batchFn, keysOf } = recording((key: number) => (key === 1 ? undefined : key))
    const sparse = loader('sparse', batchFn)
    await scope(async () => {
      assert.equal(await sparse.load(1), undefined)
      assert.deepEqual(await Promise.all([sparse.load(1), sparse.load(2), sparse.load(1)]), [
        undefined,
        2,
        undefined,
      ])
    })
    assert.deepEqual(keysOf(), [[1], [2]])
  })
})

describe('prime and clear', () => {
  test('prime caches a value without a fetch, but never replaces a cached one', async () => {
    const { batchFn, keysOf } = recording(double)
    const numbers = loader('numbers', batchFn)
    await scope(async () => {
      numbers.prime(1, 100)
      assert.equal(await numbers.load(1), 100)
      assert.equal(await numbers.load(2), 4)
      numbers.prime(2, 200).prime(1, 101)
      assert.deepEqual(await numbers.loadMany([1, 2]), [100, 4])
    })
    assert.deepEqual(keysOf(), [[2]])
  })

  test('clear then prime replaces a cached value', async () => {
    const numbers = loader('numbers', recording(double).batchFn)
    await scope(async () => {
      assert.equal(await numbers.load(1), 2)
      numbers.clear(1).prime(1, 42)
      assert.equal(await numbers.load(1), 42)
    })
  })

  test('priming an Error makes loads of that key fail with it', async () => {
    const numbers = loader('numbers', recording(double).batchFn)
    const notFound = new Error('not found')
    await scope(async () => {
      numbers.prime(7, notFound)
      assert.equal(await rejection(numbers.load(7)), notFound)
    })
  })

  test('clear forgets one key and clearAll every key, so they are fetched again', async () => {
    const { batchFn, keysOf } = recording(double)
    const numbers = loader('numbers', batchFn)
    await scope(async () => {
      await numbers.loadMany([1, 2, 3])
      numbers.clear(2)
      await numbers.loadMany([1, 2, 3])
      numbers.clearAll()
      await numbers.loadMany([1, 2])
    })
    assert.deepEqual(keysOf(), [[1, 2, 3], [2], [1, 2]])
  })

  test('clear with cacheKey forgets the key that maps to the same cache key', async () => {
    const { batchFn, keysOf } = recording((key: { id: number }) => key.id)
    const byId = loader('byId', batchFn, { cacheKey: (key) => key.id })
    await scope(async () => {
      await byId.load({ id: 1 })
      byId.clear({ id: 1 })
      await byId.load({ id: 1 })
    })
    assert.deepEqual(keysOf().length, 2)
  })
})

describe('errors', () => {
  test('an Error as a value fails that key alone, and is cached like a value', async () => {
    const missing = new Error('no such number')
    const { batchFn, keysOf } = recording((key: number) => (key === 2 ? missing : double(key)))
    const numbers = loader('numbers', batchFn)
    await scope(async () => {
      const [one, two, three] = await numbers.loadMany([1, 2, 3])
      assert.deepEqual([one, two, three], [2, missing, 6])
      assert.equal(await rejection(numbers.load(2)), missing)
    })
    assert.deepEqual(keysOf(), [[1, 2, 3]])
  })

  test('a cached Error can be cleared, so the key is fetched again', async () => {
    let attempts = 0
    const flaky = loader('flaky', async (keys: readonly number[]) => {
      attempts += 1
      return keys.map((key) => (attempts === 1 ? new Error('try again') : key))
    })
    await scope(async () => {
      await rejection(flaky.load(1))
      flaky.clear(1)
      assert.equal(await flaky.load(1), 1)
    })
  })

  test('a throwing batch function fails the keys of its batch only, and caches none of them', async () => {
    const outage = new Error('backend down')
    let calls = 0
    const numbers = loader(
      'numbers',
      async (keys: readonly number[]) => {
        calls += 1
        if (calls === 1) throw outage
        return keys.map(double)
      },
      { maxBatchSize: 2 },
    )
    await scope(async () => {
      const outcomes = await numbers.loadMany([1, 2, 3])
      assert.deepEqual(outcomes, [outage, outage, 6])
      assert.deepEqual(await numbers.loadMany([1, 2]), [2, 4])
    })
    assert.equal(calls, 3)
  })

  test('a batch function that throws synchronously fails its keys the same way', async () => {
    const numbers = loader('numbers', () => {
      throw new Error('bad query')
    })
    await scope(async () => {
      assert.match(String(await rejection(numbers.load(1))), /bad query/)
    })
  })

  test('every load of a failed key gets the error, cached hits of the same turn still get their values', async () => {
    const { batchFn, calls } = manual<number, number>()
    const numbers = loader('numbers', batchFn)
    await scope(async (s) => {
      numbers.prime(1, 10)
      const hit = numbers.load(1)
      const here = numbers.load(2)
      const elsewhere = s.spawn('same key elsewhere', () => rejection(numbers.load(2)))
      await nextTurn()
      calls[0]?.fail(new Error('timeout'))
      assert.equal(await hit, 10)
      assert.match(String(await rejection(here)), /timeout/)
      assert.match(String(await elsewhere), /timeout/)
    })
  })

  test('a result of the wrong length fails every key of the batch with an error naming the loader', async () => {
    let calls = 0
    const short = loader('short', async (keys: readonly number[]) => {
      calls += 1
      return keys.slice(1)
    })
    await scope(async () => {
      const outcomes = await short.loadMany([1, 2, 3])
      for (const error of outcomes) {
        assert.ok(error instanceof TypeError)
        assert.match(error.message, /loader "short": the batch function returned 2 values for 3 keys/)
      }
      await rejection(short.load(1)) // not cached: fetched again
    })
    assert.equal(calls, 2)
  })

  test('a key missing from a Map result fails that key alone, with an error naming the loader and the key', async () => {
    const partial = loader(
      'partial',
      async (keys: readonly number[]) => new Map(keys.filter((key) => key !== 2).map((key) => [key, key])),
    )
    await scope(async () => {
      const [one, two, three] = await partial.loadMany([1, 2, 3])
      assert.equal(one, 1)
      assert.equal(three, 3)
      assert.ok(two instanceof TypeError)
      assert.match(two.message, /loader "partial": the batch function returned no value for key 2/)
    })
  })

  test('a result that is neither an array nor a Map fails every key of the batch', async () => {
    const odd = loader('odd', async () => 42 as unknown as number[])
    await scope(async () => {
      assert.match(
        String(await rejection(odd.load(1))),
        /loader "odd": the batch function must return an array or a Map of values, got 42/,
      )
    })
  })
})
