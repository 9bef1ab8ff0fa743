// The shared cache: cache-aside over a store, single-flight per key, negative caching,
// stale-while-revalidate, TTL jitter, and failures of the store that never fail a lookup.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { AbortError, currentScope, scope, sleep, type Trace } from 'weft'
import { type CacheStore, loader, memoryStore, sharedCache } from 'weft/batch'
import { inVirtualTime, rejection } from '../core/support.ts'
import { nextTurn, recording } from './support.ts'

/** A memory store that counts its calls and records the times to live it is given. */
function countingStore(inner: CacheStore = memoryStore()) {
  const counts = { get: 0, set: 0, delete: 0 }
  const ttls: number[] = []
  const store: CacheStore = {
    get: (key) => {
      counts.get += 1
      return inner.get(key)
    },
    set: (key, value, ttlMs) => {
      counts.set += 1
      ttls.push(ttlMs)
      return inner.set(key, value, ttlMs)
    },
    delete: (key) => {
      counts.delete += 1
      return inner.delete(key)
    },
  }
  return { store, counts, ttls }
}

/** A load function that counts its calls and answers `value` after `ms` of virtual time. */
function slowLoad<V>(value: V, ms = 10) {
  const calls = { count: 0, signals: [] as AbortSignal[] }
  const fn = async ({ signal }: { signal: AbortSignal }): Promise<V> => {
    calls.count += 1
    calls.signals.push(signal)
    await sleep(ms, { signal })
    return value
  }
  return { fn, calls }
}

describe('cache-aside', () => {
  test(
    'a miss loads and stores the value; lookups within the time to live find it without loading',
    inVirtualTime(async (clock) => {
      const cache = sharedCache<string>({ ttl: 1000, jitter: 0 })
      const { fn, calls } = slowLoad('Lisbon')
      assert.equal(await clock.run(cache.getOrLoad('city:1', fn)), 'Lisbon')
      await clock.advance(999)
      assert.equal(await cache.getOrLoad('city:1', fn), 'Lisbon')
      assert.equal(calls.count, 1)
      await cache.idle()
    }),
  )

  test(
    'once the time to live has passed, the next lookup loads again',
    inVirtualTime(async (clock) => {
      const cache = sharedCache<number>({ ttl: 1000, jitter: 0 })
      let version = 0
      const load = async () => ++version
      assert.equal(await cache.getOrLoad('k', load), 1)
      await clock.advance(1000)
      assert.equal(await cache.getOrLoad('k', load), 2)
      await cache.idle()
    }),
  )

  test(
    'a per-lookup ttl replaces the cache-wide one',
    inVirtualTime(async (clock) => {
      const { store, ttls } = countingStore()
      const cache = sharedCache<number>({ store, ttl: 1000, jitter: 0 })
      await cache.getOrLoad('short', async () => 1, { ttl: 50 })
      await cache.idle()
      assert.deepEqual(ttls, [50])
      await clock.advance(50)
      assert.equal(await cache.getOrLoad('short', async () => 2), 2)
      await cache.idle()
    }),
  )

  test(
    'a failing load fails every caller waiting for it, and nothing is cached',
    inVirtualTime(async (clock) => {
      const cache = sharedCache<number>({ ttl: 1000 })
      let calls = 0
      const failing = async () => {
        calls += 1
        await sleep(5)
        throw new Error('database down')
      }
      const both = Promise.all([
        rejection(cache.getOrLoad('k', failing)),
        rejection(cache.getOrLoad('k', failing)),
      ])
      const errors = await clock.run(both)
      for (const error of errors) assert.match(String(error), /database down/)
      assert.equal(await cache.getOrLoad('k', async () => 7), 7)
      assert.equal(calls, 1)
      await cache.idle()
    }),
  )

  test(
    'delete removes the entry, and a load under way when it happened does not store its value',
    inVirtualTime(async (clock) => {
      const cache = sharedCache<string>({ ttl: 60_000 })
      await cache.getOrLoad('user:1', async () => 'old name')
      await cache.idle()
      await cache.delete('user:1')
      const { fn: loadOld } = slowLoad('old name, read before the update')
      const inFlight = cache.getOrLoad('user:1', loadOld)
      await cache.delete('user:1') // the update happens while the old value is being read
      assert.equal(await clock.run(inFlight), 'old name, read before the update')
      await clock.run(cache.idle())
      assert.equal(await cache.getOrLoad('user:1', async () => 'new name'), 'new name')
      await cache.idle()
      assert.equal(await cache.getOrLoad('user:1', async () => 'not loaded: stored'), 'new name')
    }),
  )
})

describe('single-flight', () => {
  test(
    'concurrent misses of one key, from many requests, share one load and one write',
    inVirtualTime(async (clock) => {
      const { store, counts } = countingStore()
      const cache = sharedCache<string>({ store, ttl: 1000 })
      const { fn, calls } = slowLoad('value')
      const requests = Array.from({ length: 5 }, (_, i) =>
        scope({ name: `request ${i}` }, () => cache.getOrLoad('k', fn)),
      )
      assert.deepEqual(await clock.run(Promise.all(requests)), Array(5).fill('value'))
      assert.equal(calls.count, 1)
      await clock.run(cache.idle())
      assert.equal(counts.set, 1)
    }),
  )

  test(
    'different keys load separately',
    inVirtualTime(async (clock) => {
      const cache = sharedCache<string>({ ttl: 1000 })
      let calls = 0
      const load = (value: string) => async () => {
        calls += 1
        await sleep(1)
        return value
      }
      const values = await clock.run(
        Promise.all([cache.getOrLoad('a', load('A')), cache.getOrLoad('b', load('B'))]),
      )
      assert.deepEqual(values, ['A', 'B'])
      assert.equal(calls, 2)
      await cache.idle()
    }),
  )

  test(
    'a lookup made while the loaded value is being stored gets it without loading again',
    inVirtualTime(async (clock) => {
      const inner = memoryStore()
      const slowWrites: CacheStore = {
        get: (key) => inner.get(key),
        delete: (key) => inner.delete(key),
        set: async (key, value, ttl) => {
          await sleep(100)
          await inner.set(key, value, ttl)
        },
      }
      const cache = sharedCache<number>({ store: slowWrites, ttl: 1000 })
      let calls = 0
      const load = async () => ++calls
      assert.equal(await cache.getOrLoad('k', load), 1)
      assert.equal(await cache.getOrLoad('k', load), 1) // the write is still under way
      await clock.run(cache.idle())
      assert.equal(calls, 1)
    }),
  )
})

describe('cancellation', () => {
  test(
    'a cancelled caller stops waiting alone; the load goes on for the others, and its signal does not abort',
    inVirtualTime(async (clock) => {
      const cache = sharedCache<string>({ ttl: 1000 })
      const { fn, calls } = slowLoad('value')
      const result = clock.run(
        scope(async (s) => {
          const quitter = s.spawn('quitter', () => cache.getOrLoad('k', fn))
          const patient = s.spawn('patient', () => cache.getOrLoad('k', fn))
          await nextTurn()
          quitter.cancel('in a hurry')
          const error = await rejection(quitter)
          assert.ok(error instanceof AbortError && error.reason === 'in a hurry')
          return patient
        }),
      )
      assert.equal(await result, 'value')
      assert.equal(calls.count, 1)
      assert.equal(calls.signals[0]?.aborted, false)
      await cache.idle()
    }),
  )

  test(
    "when every caller is cancelled the load's signal aborts, and the next lookup loads afresh",
    inVirtualTime(async (clock) => {
      const cache = sharedCache<string>({ ttl: 1000 })
      const { fn, calls } = slowLoad('value')
      await clock.run(
        scope(async (s) => {
          const tasks = [s.spawn(() => cache.getOrLoad('k', fn)), s.spawn(() => cache.getOrLoad('k', fn))]
          await nextTurn()
          for (const task of tasks) task.cancel('nobody needs it')
          assert.equal(calls.signals[0]?.aborted, true)
          assert.equal(calls.signals[0]?.reason, 'nobody needs it')
        }),
      )
      assert.equal(await clock.run(cache.getOrLoad('k', fn)), 'value')
      assert.equal(calls.count, 2)
      await clock.run(cache.idle())
    }),
  )

  test(
    'a lookup by an already cancelled task rejects without loading',
    inVirtualTime(async (clock) => {
      const cache = sharedCache<string>({ ttl: 1000 })
      const { fn, calls } = slowLoad('value')
      await clock.run(
        scope(async (s) => {
          const task = s.spawn(async ({ signal }) => {
            await sleep(1, { signal: new AbortController().signal })
            assert.ok(signal.aborted)
            return rejection(cache.getOrLoad('k', fn))
          })
          task.cancel('gone')
        }),
      )
      assert.equal(calls.count, 0)
    }),
  )

  test('the load runs detached from its callers, in a scope of its own', async () => {
    const cache = sharedCache<string | undefined>({ ttl: 1000 })
    const seen = await scope({ name: 'request' }, () =>
      cache.getOrLoad('k', async () => currentScope()?.name),
    )
    assert.equal(seen, 'cache k')
    await cache.idle()
  })
})

describe('negative caching', () => {
  test(
    'without negativeTtl, a load that found nothing is not remembered',
    inVirtualTime(async () => {
      const cache = sharedCache<string | undefined>({ ttl: 1000 })
      let calls = 0
      const nothing = async () => {
        calls += 1
        return undefined
      }
      assert.equal(await cache.getOrLoad('missing', nothing), undefined)
      await cache.idle()
      assert.equal(await cache.getOrLoad('missing', nothing), undefined)
      assert.equal(calls, 2)
      await cache.idle()
    }),
  )

  test(
    'with negativeTtl, a load that found nothing is remembered for that long',
    inVirtualTime(async (clock) => {
      const cache = sharedCache<string | undefined>({ ttl: 60_000, negativeTtl: 100, jitter: 0 })
      let calls = 0
      const nothing = async () => {
        calls += 1
        return undefined
      }
      assert.equal(await cache.getOrLoad('missing', nothing), undefined)
      await cache.idle()
      await clock.advance(99)
      assert.equal(await cache.getOrLoad('missing', nothing), undefined)
      assert.equal(calls, 1)
      await clock.advance(1)
      assert.equal(await cache.getOrLoad('missing', async () => 'there now'), 'there now')
      await cache.idle()
    }),
  )
})

describe('stale-while-revalidate', () => {
  test(
    'a value past its time is served at once while one refresh runs in the background',
    inVirtualTime(async (clock) => {
      const cache = sharedCache<string>({ ttl: 1000, staleWhileRevalidate: 500, jitter: 0 })
      await cache.getOrLoad('k', async () => 'v1')
      await cache.idle()
      await clock.advance(1200)
      const { fn, calls } = slowLoad('v2', 50)
      const stale = await Promise.all([cache.getOrLoad('k', fn), cache.getOrLoad('k', fn)])
      assert.deepEqual(stale, ['v1', 'v1'])
      assert.equal(await cache.getOrLoad('k', fn), 'v1') // the refresh is still running
      await clock.run(cache.idle())
      assert.equal(calls.count, 1)
      assert.equal(await cache.getOrLoad('k', fn), 'v2')
      await cache.idle()
    }),
  )

  test(
    'past the stale window, a lookup is a miss again',
    inVirtualTime(async (clock) => {
      const cache = sharedCache<string>({ ttl: 1000, staleWhileRevalidate: 500, jitter: 0 })
      await cache.getOrLoad('k', async () => 'v1')
      await cache.idle()
      await clock.advance(1500)
      assert.equal(await cache.getOrLoad('k', async () => 'v2'), 'v2')
      await cache.idle()
    }),
  )

  test(
    'a failed refresh is reported, and the stale value is still served until the window closes',
    inVirtualTime(async (clock) => {
      const reported: unknown[] = []
      const cache = sharedCache<string>({
        ttl: 1000,
        staleWhileRevalidate: 500,
        jitter: 0,
        onError: (error, key) => reported.push([key, String(error)]),
      })
      await cache.getOrLoad('k', async () => 'v1')
      await cache.idle()
      await clock.advance(1100)
      const failing = async (): Promise<string> => {
        throw new Error('backend down')
      }
      assert.equal(await cache.getOrLoad('k', failing), 'v1')
      await cache.idle()
      assert.deepEqual(reported, [['k', 'Error: backend down']])
      assert.equal(await cache.getOrLoad('k', failing), 'v1')
      await cache.idle()
    }),
  )

  test(
    'a refresh is not cancelled with the request that found the value stale',
    inVirtualTime(async (clock) => {
      const cache = sharedCache<string>({ ttl: 1000, staleWhileRevalidate: 500, jitter: 0 })
      await cache.getOrLoad('k', async () => 'v1')
      await cache.idle()
      await clock.advance(1100)
      const { fn, calls } = slowLoad('v2', 50)
      const request = scope({ deadline: 10 }, async () => {
        assert.equal(await cache.getOrLoad('k', fn), 'v1')
        await sleep(1000)
      })
      assert.equal(((await clock.run(rejection(request))) as Error).name, 'DeadlineExceeded')
      await clock.run(cache.idle())
      assert.equal(calls.signals[0]?.aborted, false)
      assert.equal(await cache.getOrLoad('k', fn), 'v2')
      await cache.idle()
    }),
  )
})

describe('expiry', () => {
  test('times to live are shortened at random by up to the jitter, so entries loaded together expire apart', async () => {
    const { store, ttls } = countingStore()
    const cache = sharedCache<number>({ store, ttl: 1000, jitter: 0.2 })
    await Promise.all(Array.from({ length: 50 }, (_, i) => cache.getOrLoad(`k${i}`, async () => i)))
    await cache.idle()
    assert.equal(ttls.length, 50)
    for (const ttl of ttls) assert.ok(ttl > 800 && ttl <= 1000, `ttl ${ttl} out of range`)
    assert.ok(new Set(ttls).size > 40)
  })

  test(
    'with stale-while-revalidate, the store keeps an entry through its stale window',
    inVirtualTime(async () => {
      const { store, ttls } = countingStore()
      const cache = sharedCache<number>({ store, ttl: 1000, staleWhileRevalidate: 300, jitter: 0 })
      await cache.getOrLoad('k', async () => 1)
      await cache.idle()
      assert.deepEqual(ttls, [1300])
    }),
  )
})

describe('store failures never fail a lookup', () => {
  const broken = (what: 'get' | 'set'): CacheStore => {
    const inner = memoryStore()
    return {
      get: (key) => (what === 'get' ? Promise.reject(new Error('store unreachable')) : inner.get(key)),
      set: (key, value, ttl) =>
        what === 'set' ? Promise.reject(new Error('store full')) : inner.set(key, value, ttl),
      delete: (key) => inner.delete(key),
    }
  }

  test('a store that cannot be read is a miss, and the error is reported', async () => {
    const reported: string[] = []
    const cache = sharedCache<number>({
      store: broken('get'),
      ttl: 1000,
      onError: (error) => reported.push(String(error)),
    })
    assert.equal(await cache.getOrLoad('k', async () => 42), 42)
    await cache.idle()
    assert.deepEqual(reported, ['Error: store unreachable'])
  })

  test('a store that cannot be written still answers with the loaded value, and the error is reported', async () => {
    const reported: string[] = []
    const cache = sharedCache<number>({
      store: broken('set'),
      ttl: 1000,
      onError: (error) => reported.push(String(error)),
    })
    assert.equal(await cache.getOrLoad('k', async () => 42), 42)
    await cache.idle()
    assert.deepEqual(reported, ['Error: store full'])
  })

  test('an onError that throws changes nothing', async () => {
    const cache = sharedCache<number>({
      store: broken('get'),
      ttl: 1000,
      onError: () => {
        throw new Error('logger broken')
      },
    })
    assert.equal(await cache.getOrLoad('k', async () => 42), 42)
    await cache.idle()
  })

  test('what another writer left under a key, if not an entry of this cache, is a miss', async () => {
    const store = memoryStore()
    await store.set('k', 'raw string', 1000)
    const cache = sharedCache<number>({ store, ttl: 1000 })
    assert.equal(await cache.getOrLoad('k', async () => 42), 42)
    await cache.idle()
  })
})

test('each lookup of a traced request is a span saying how it was answered, and whether a miss shared a load', async () => {
  const cache = sharedCache<number>({ name: 'ranks', ttl: 1000 })
  let trace: Trace | undefined
  await scope({ name: 'request', trace: (t) => (trace = t) }, async (s) => {
    await Promise.all([
      s.spawn(() => cache.getOrLoad('a', async () => 1)),
      s.spawn(() => cache.getOrLoad('a', async () => 1)),
    ])
    await cache.idle()
    await cache.getOrLoad('a', async () => 1)
  })
  const spans = trace?.spans.filter((span) => span.name === 'ranks.get').map((span) => span.attributes)
  assert.deepEqual(spans, [
    { 'cache.key': 'a', 'cache.outcome': 'miss', 'cache.shared': false },
    { 'cache.key': 'a', 'cache.outcome': 'miss', 'cache.shared': true },
    { 'cache.key': 'a', 'cache.outcome': 'hit' },
  ])
})

test('a shared cache in front of a loader: concurrent misses of a key make one load of it', async () => {
  const { batchFn, keysOf } = recording((id: number) => `user ${id}`)
  const users = loader('users', batchFn)
  const cache = sharedCache<string>({ ttl: 60_000 })
  const cachedUser = (id: number) => cache.getOrLoad(`user:${id}`, () => users.load(id))
  const names = await scope(async (s) => {
    const first = await Promise.all([s.spawn(() => cachedUser(1)), s.spawn(() => cachedUser(1))])
    return [...first, await cachedUser(1)]
  })
  assert.deepEqual(names, ['user 1', 'user 1', 'user 1'])
  assert.deepEqual(keysOf(), [[1]])
  await cache.idle()
})
