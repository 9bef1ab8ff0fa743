// Bad input is refused at the call, with a TypeError naming the argument, what was expected and what came.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loader } from 'weft/batch'

const identity = async (keys: readonly number[]) => keys

test('loader() requires a non-empty name', () => {
  assert.throws(() => loader(undefined as unknown as string, identity), {
    name: 'TypeError',
    message: 'loader(): name must be a string, got undefined',
  })
  assert.throws(() => loader('', identity), { name: 'TypeError', message: /name must be a non-empty string/ })
})

test('loader() requires a batch function', () => {
  assert.throws(() => loader('users', null as unknown as typeof identity), {
    name: 'TypeError',
    message: 'loader(): batchFn must be a function, got null',
  })
})

test('loader() refuses options that are not an object', () => {
  assert.throws(() => loader('users', identity, 5 as unknown as object), {
    name: 'TypeError',
    message: 'loader(): options must be an object, got 5',
  })
})

test('loader() refuses unknown options, naming the ones it knows (DataLoader names included)', () => {
  for (const option of ['cacheKeyFn', 'batchScheduleFn', 'cache', 'maxbatchsize']) {
    assert.throws(() => loader('users', identity, { [option]: 1 } as object), {
      name: 'TypeError',
      message: `loader(): unknown option "${option}" (the options are maxBatchSize, waitMs, cacheKey)`,
    })
  }
})

test('loader() requires maxBatchSize to be a whole number of at least 1, or Infinity', () => {
  for (const maxBatchSize of [0, -1, 1.5, Number.NaN, '10']) {
    assert.throws(() => loader('users', identity, { maxBatchSize: maxBatchSize as number }), {
      name: 'TypeError',
      message: /^loader\(\): options\.maxBatchSize must be a whole number of at least 1 \(or Infinity\), got/,
    })
  }
  assert.doesNotThrow(() => loader('users', identity, { maxBatchSize: Number.POSITIVE_INFINITY }))
})

test('loader() requires waitMs to be a finite number of milliseconds, 0 or more', () => {
  for (const waitMs of [-1, Number.POSITIVE_INFINITY, '5']) {
    assert.throws(() => loader('users', identity, { waitMs: waitMs as number }), {
      name: 'TypeError',
      message: /^loader\(\): options\.waitMs must be a finite number of milliseconds, 0 or more, got/,
    })
  }
})

test('loader() requires cacheKey to be a function', () => {
  assert.throws(() => loader('users', identity, { cacheKey: 'id' as unknown as (key: number) => unknown }), {
    name: 'TypeError',
    message: 'loader(): options.cacheKey must be a function, got "id"',
  })
})

test('load() refuses null and undefined keys, naming the loader', () => {
  const users = loader('users', identity)
  assert.throws(() => users.load(undefined as unknown as number), {
    name: 'TypeError',
    message: 'users.load(): key must be a value other than null or undefined, got undefined',
  })
  assert.throws(() => users.load(null as unknown as number), { message: /got null$/ })
})

test('load() refuses options that are not an object, and a signal that is not an AbortSignal', () => {
  const users = loader('users', identity)
  assert.throws(() => users.load(1, 'fast' as unknown as object), {
    name: 'TypeError',
    message: 'users.load(): options must be an object, got "fast"',
  })
  assert.throws(() => users.load(1, { signal: {} as AbortSignal }), {
    name: 'TypeError',
    message: 'users.load(): options.signal must be an AbortSignal, got an object',
  })
})

test('loadMany() requires an array or an iterable of keys, none of them null or undefined', () => {
  const users = loader('users', identity)
  assert.throws(() => users.loadMany(7 as unknown as number[]), {
    name: 'TypeError',
    message: 'users.loadMany(): keys must be an array (or any iterable) of keys, got 7',
  })
  assert.throws(() => users.loadMany([1, undefined as unknown as number]), {
    name: 'TypeError',
    message: 'users.loadMany(): keys[1] must be a value other than null or undefined, got undefined',
  })
})

test('prime() and clear() refuse null and undefined keys', () => {
  const users = loader('users', identity)
  assert.throws(() => users.prime(null as unknown as number, 1), {
    message: /^users\.prime\(\): key must be/,
  })
  assert.throws(() => users.clear(undefined as unknown as number), {
    message: /^users\.clear\(\): key must be/,
  })
})

test('a throwing cacheKey function throws at the load', () => {
  const users = loader('users', identity, {
    cacheKey: () => {
      throw new Error('unhashable')
    },
  })
  assert.throws(() => users.load(1), /unhashable/)
})
