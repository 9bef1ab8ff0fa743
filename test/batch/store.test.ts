// The in-memory store: least recently used eviction, and times to live on the active clock.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { memoryStore } from 'weft/batch'
import { inVirtualTime } from '../core/support.ts'

test(
  'keeps what was set until its time to live has passed, on the active clock',
  inVirtualTime(async (clock) => {
    const store = memoryStore()
    await store.set('k', { value: 1 }, 100)
    await clock.advance(99)
    assert.deepEqual(await store.get('k'), { value: 1 })
    await clock.advance(1)
    assert.equal(await store.get('k'), undefined)
    assert.equal(store.size, 0)
  }),
)

test('past maxEntries, evicts the least recently used entry (reads count as use)', async () => {
  const store = memoryStore({ maxEntries: 3 })
  for (const key of ['a', 'b', 'c']) await store.set(key, key, 60_000)
  await store.get('a')
  await store.set('b', 'b again', 60_000)
  await store.set('d', 'd', 60_000)
  assert.deepEqual(await Promise.all(['a', 'b', 'c', 'd'].map((key) => store.get(key))), [
    'a',
    'b again',
    undefined,
    'd',
  ])
  assert.equal(store.size, 3)
})

test('delete removes an entry; a time to live of 0 stores nothing', async () => {
  const store = memoryStore()
  await store.set('k', 1, 1000)
  await store.delete('k')
  assert.equal(await store.get('k'), undefined)
  await store.set('k', 1, 1000)
  await store.set('k', 2, 0)
  assert.equal(await store.get('k'), undefined)
  await store.delete('never set')
})

test('keeps values as they are, without copying them', async () => {
  const store = memoryStore()
  const value = { list: [1, 2] }
  await store.set('k', value, 1000)
  assert.equal(await store.get('k'), value)
})
