// A loader defined once works through an instance per request, found from the ambient scope: values
// never leak between requests, nested scopes share their request's cache, and outside any scope loads
// still batch but nothing stays cached.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { currentScope, currentSignal, scope, sleep } from 'weft'
import { loader } from 'weft/batch'
import { collectGarbage, inVirtualTime } from '../core/support.ts'
import { nextTurn, recording } from './support.ts'

test('each request has its own cache and its own batches, so values never leak between requests', async () => {
  const { batchFn, calls } = recording((id: number) => ({ id }))
  const profiles = loader('profiles', async (ids: readonly number[], context) => {
    const viewer = currentScope()?.name
    const values = await batchFn(ids, context)
    return values.map((value) => ({ ...value, seenBy: viewer }))
  })
  const request = (viewer: string) =>
    scope({ name: viewer }, async (s) => {
      const mine = await Promise.all([profiles.load(1), s.spawn('again', () => profiles.load(1))])
      return mine.map((profile) => profile.seenBy)
    })
  const [alice, bob] = await Promise.all([request('alice'), request('bob')])
  assert.deepEqual(alice, ['alice', 'alice'])
  assert.deepEqual(bob, ['bob', 'bob'])
  assert.equal(calls.length, 2)
})

test('a request does not see what an earlier request cached', async () => {
  const { batchFn, keysOf } = recording((id: number) => id)
  const numbers = loader('numbers', batchFn)
  await scope(() => numbers.load(1))
  await scope(() => numbers.load(1))
  assert.deepEqual(keysOf(), [[1], [1]])
})

test('scopes nested in a request share its cache', async () => {
  const { batchFn, keysOf } = recording((id: number) => id)
  const numbers = loader('numbers', batchFn)
  await scope({ name: 'request' }, async (s) => {
    await numbers.load(1)
    await scope({ name: 'nested' }, (nested) => nested.spawn('deeper', () => numbers.loadMany([1, 2])))
    await s.spawn('sibling', () => scope(() => numbers.load(2)))
  })
  assert.deepEqual(keysOf(), [[1], [2]])
})

test('the batch function runs in its request context, not in that of the load that came first', async () => {
  const seen: { scope: string | undefined; aborted: boolean }[] = []
  const numbers = loader('numbers', async (keys: readonly number[]) => {
    await sleep(1)
    seen.push({ scope: currentScope()?.name, aborted: currentSignal().aborted })
    return keys
  })
  await scope({ name: 'request' }, async (s) => {
    const first = s.spawn('first', () => numbers.load(1))
    const second = s.spawn('second', () => numbers.load(2))
    await nextTurn()
    first.cancel('no longer needed')
    assert.equal(await second, 2)
  })
  assert.deepEqual(seen, [{ scope: 'request', aborted: false }])
})

test('so it does whichever way the first load of its turn came: from the request, with a signal, or a window', async () => {
  const seen: (string | undefined)[] = []
  const batchFn = async (keys: readonly number[]) => {
    seen.push(currentScope()?.name)
    return keys
  }
  const numbers = loader('numbers', batchFn)
  const windowed = loader('windowed', batchFn, { waitMs: 1 })
  await scope({ name: 'request' }, async (s) => {
    assert.equal(await numbers.load(1), 1)
    const signal = new AbortController().signal
    assert.equal(await s.spawn('task', () => numbers.load(2, { signal })), 2)
    assert.equal(await s.spawn('task', () => windowed.load(3)), 3)
    assert.equal(await windowed.load(4), 4)
  })
  assert.deepEqual(seen, ['request', 'request', 'request', 'request'])
})

test(
  "the batch function's context carries the request's deadline",
  inVirtualTime(async (clock) => {
    const { batchFn, calls } = recording((id: number) => id)
    const numbers = loader('numbers', batchFn)
    const start = clock.now()
    await scope({ deadline: 500 }, (s) =>
      s.spawn('nested', () => scope({ deadline: 100 }, () => numbers.load(1))),
    )
    assert.equal(calls[0]?.context.deadline, start + 500)
  }),
)

test('outside any scope, loads of one turn still form one batch', async () => {
  const { batchFn, keysOf } = recording((id: number) => id * 10)
  const numbers = loader('numbers', batchFn)
  assert.deepEqual(await Promise.all([numbers.load(1), numbers.load(2), numbers.load(1)]), [10, 20, 10])
  assert.deepEqual(keysOf(), [[1, 2]])
})

test('outside any scope, nothing is cached once the batch has answered, and prime does nothing', async () => {
  const { batchFn, keysOf } = recording((id: number) => id * 10)
  const numbers = loader('numbers', batchFn)
  numbers.prime(1, 99)
  assert.equal(await numbers.load(1), 10)
  assert.equal(await numbers.load(1), 10)
  assert.deepEqual(keysOf(), [[1], [1]])
})

test(
  'outside any scope, a load of a key already in flight waits for that fetch',
  inVirtualTime(async (clock) => {
    const { batchFn, keysOf } = recording((id: number) => id)
    const slow = loader('slow', async (keys: readonly number[], context) => {
      await sleep(10)
      return batchFn(keys, context)
    })
    const first = slow.load(1)
    await clock.advance(5)
    const second = slow.load(1)
    await clock.advance(5)
    assert.deepEqual(await Promise.all([first, second]), [1, 1])
    assert.deepEqual(keysOf(), [[1]])
  }),
)

test('once its request has ended, what a request cached can be garbage collected', async () => {
  const values = loader('values', async (keys: readonly number[]) =>
    keys.map((key) => ({ key, payload: new Array(1000) })),
  )
  const refs: WeakRef<object>[] = []
  for (let i = 0; i < 10; i++) {
    await scope(async () => {
      refs.push(new WeakRef(await values.load(i)))
    })
  }
  await nextTurn()
  collectGarbage()
  assert.equal(refs.filter((ref) => ref.deref() !== undefined).length, 0)
})
