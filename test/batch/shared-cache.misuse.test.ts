// Bad input to the shared cache and the memory store is refused at the call, with a TypeError naming
// the argument, what was expected and what came.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type CacheStore, memoryStore, sharedCache } from 'weft/batch'

test('sharedCache() requires options with a time to live', () => {
  assert.throws(() => sharedCache(undefined as unknown as { ttl: number }), {
    name: 'TypeError',
    message: 'sharedCache(): options must be an object, got undefined',
  })
  assert.throws(() => sharedCache({} as { ttl: number }), {
    name: 'TypeError',
    message: 'sharedCache(): options.ttl must be a finite number of milliseconds, 0 or more, got undefined',
  })
})

test('sharedCache() refuses unknown options, naming the ones it knows', () => {
  assert.throws(() => sharedCache({ ttl: 1, maxAge: 5 } as { ttl: number }), {
    name: 'TypeError',
    message:
      'sharedCache(): unknown option "maxAge" (the options are name, store, ttl, negativeTtl, staleWhileRevalidate, jitter, onError)',
  })
})

test('sharedCache() checks every duration, the jitter, the name and onError', () => {
  for (const option of ['ttl', 'negativeTtl', 'staleWhileRevalidate']) {
    assert.throws(() => sharedCache({ ttl: 1, [option]: -1 }), {
      name: 'TypeError',
      message: `sharedCache(): options.${option} must be a finite number of milliseconds, 0 or more, got -1`,
    })
  }
  for (const jitter of [-0.1, 1.5, Number.NaN, '0.1']) {
    assert.throws(() => sharedCache({ ttl: 1, jitter: jitter as number }), {
      name: 'TypeError',
      message: /^sharedCache\(\): options\.jitter must be a number from 0 to 1, got/,
    })
  }
  assert.throws(() => sharedCache({ ttl: 1, name: 7 as unknown as string }), {
    message: 'sharedCache(): options.name must be a string, got 7',
  })
  assert.throws(() => sharedCache({ ttl: 1, onError: 'log' as unknown as () => void }), {
    message: 'sharedCache(): options.onError must be a function, got "log"',
  })
})

test('sharedCache() requires a store with get, set and delete', () => {
  const incomplete = { get: async () => undefined } as unknown as CacheStore
  assert.throws(() => sharedCache({ ttl: 1, store: incomplete }), {
    name: 'TypeError',
    message:
      'sharedCache(): options.store must be a cache store (get, set, delete), got an object without set, delete',
  })
})

test('getOrLoad() requires a non-empty string key, a function, and valid options', () => {
  const cache = sharedCache({ name: 'cities', ttl: 1 })
  const load = async () => 1
  assert.throws(() => cache.getOrLoad(7 as unknown as string, load), {
    name: 'TypeError',
    message: 'cities.getOrLoad(): key must be a string, got 7',
  })
  assert.throws(() => cache.getOrLoad('', load), {
    message: 'cities.getOrLoad(): key must be a non-empty string, got ""',
  })
  assert.throws(() => cache.getOrLoad('k', undefined as unknown as typeof load), {
    message: 'cities.getOrLoad(): fn must be a function, got undefined',
  })
  assert.throws(() => cache.getOrLoad('k', load, { ttl: -5 }), {
    message: 'cities.getOrLoad(): options.ttl must be a finite number of milliseconds, 0 or more, got -5',
  })
})

test('delete() requires a non-empty string key', () => {
  const cache = sharedCache({ ttl: 1 })
  assert.throws(() => cache.delete(null as unknown as string), {
    message: 'cache.delete(): key must be a string, got null',
  })
})

test('memoryStore() requires maxEntries to be a whole number of at least 1', () => {
  for (const maxEntries of [0, 2.5, '10']) {
    assert.throws(() => memoryStore({ maxEntries: maxEntries as number }), {
      name: 'TypeError',
      message: /^memoryStore\(\): options\.maxEntries must be a whole number of at least 1, got/,
    })
  }
})

test('the memory store checks its keys and times to live', () => {
  const store = memoryStore()
  assert.throws(() => store.get(1 as unknown as string), {
    message: 'MemoryStore.get(): key must be a string, got 1',
  })
  assert.throws(() => store.set('k', 1, -1), {
    message: 'MemoryStore.set(): ttlMs must be a finite number of milliseconds, 0 or more, got -1',
  })
  assert.throws(() => store.delete(undefined as unknown as string), {
    message: 'MemoryStore.delete(): key must be a string, got undefined',
  })
})
