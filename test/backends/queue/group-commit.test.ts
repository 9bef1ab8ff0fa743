import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { AbortError, currentSignal, scope } from 'weft'
import { GroupCommit } from '../../../src/backends/queue/group-commit.ts'

/** A group commit over a write that records its batches and answers when told to. */
function recorded(options: { maxBatch?: number; maxInFlight?: number } = {}) {
  const batches: number[][] = []
  const pending: PromiseWithResolvers<void>[] = []
  const commit = new GroupCommit<number, string>(
    async (items) => {
      batches.push(items)
      const gate = Promise.withResolvers<void>()
      pending.push(gate)
      await gate.promise
      return items.map((item) => `#${item}`)
    },
    { maxBatch: options.maxBatch ?? 100, maxInFlight: options.maxInFlight ?? 1, operation: 'write' },
  )
  /** Answers the oldest write in flight, and lets the next one start. */
  const answer = async (): Promise<void> => {
    pending.shift()?.resolve()
    await new Promise((resolve) => setImmediate(resolve))
  }
  return { commit, batches, answer }
}

/** Lets the end-of-turn flush run. */
const endOfTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('GroupCommit', () => {
  test('items submitted in one turn are written together, each caller getting its own result', async () => {
    const { commit, batches, answer } = recorded()
    const results = [1, 2, 3].map((item) => commit.submit(item))
    await endOfTurn()
    await answer()
    assert.deepEqual(await Promise.all(results), ['#1', '#2', '#3'])
    assert.deepEqual(batches, [[1, 2, 3]])
  })

  test('items submitted while a write is in flight go together in the next one', async () => {
    const { commit, batches, answer } = recorded()
    const first = commit.submit(1)
    await endOfTurn()
    const later = [2, 3, 4].map((item) => commit.submit(item))
    await endOfTurn()
    assert.deepEqual(batches, [[1]], 'the second write waits for the first')
    await answer()
    await answer()
    assert.equal(await first, '#1')
    assert.deepEqual(await Promise.all(later), ['#2', '#3', '#4'])
    assert.deepEqual(batches, [[1], [2, 3, 4]])
  })

  test('a write holds at most maxBatch items', async () => {
    const { commit, batches, answer } = recorded({ maxBatch: 2, maxInFlight: 3 })
    const results = [1, 2, 3, 4, 5].map((item) => commit.submit(item))
    await endOfTurn()
    assert.deepEqual(batches, [[1, 2], [3, 4], [5]])
    await answer()
    await answer()
    await answer()
    assert.deepEqual(await Promise.all(results), ['#1', '#2', '#3', '#4', '#5'])
  })

  test('an item cancelled before its write starts is left out of it', async () => {
    const { commit, batches, answer } = recorded()
    const controller = new AbortController()
    const kept = commit.submit(1)
    const dropped = commit.submit(2, controller.signal)
    controller.abort('changed my mind')
    await assert.rejects(
      dropped,
      (error) => error instanceof AbortError && error.reason === 'changed my mind',
    )
    await endOfTurn()
    await answer()
    assert.equal(await kept, '#1')
    assert.deepEqual(batches, [[1]])
  })

  test('a caller cancelled while its write is in flight is answered at once; the write goes on', async () => {
    const { commit, batches, answer } = recorded()
    const controller = new AbortController()
    const other = commit.submit(1)
    const cancelled = commit.submit(2, controller.signal)
    await endOfTurn()
    controller.abort('gone')
    await assert.rejects(cancelled, AbortError)
    await answer()
    assert.equal(await other, '#1')
    assert.deepEqual(batches, [[1, 2]])
  })

  test('a failed write fails every item in it', async () => {
    const commit = new GroupCommit<number, number>(
      async () => {
        throw new Error('the database is down')
      },
      { maxBatch: 10, maxInFlight: 1, operation: 'write' },
    )
    const results = await Promise.allSettled([commit.submit(1), commit.submit(2)])
    assert.deepEqual(
      results.map((result) => result.status === 'rejected' && (result.reason as Error).message),
      ['the database is down', 'the database is down'],
    )
  })

  test('writes run outside the scope of the caller that triggered them', async () => {
    let ambient: AbortSignal | undefined
    const commit = new GroupCommit<number, number>(
      async (items) => {
        ambient = currentSignal()
        return items
      },
      { maxBatch: 10, maxInFlight: 1, operation: 'write' },
    )
    await scope(() => commit.submit(1))
    assert.equal(ambient?.aborted, false)
    let outer: AbortSignal | undefined
    await scope((s) => {
      outer = s.signal
      return commit.submit(2)
    })
    assert.notEqual(ambient, outer)
  })

  test('settled resolves once nothing waits or is being written', async () => {
    const { commit, answer } = recorded()
    await commit.settled()
    const result = commit.submit(1)
    let settled = false
    const done = commit.settled().then(() => {
      settled = true
    })
    await endOfTurn()
    assert.equal(settled, false)
    await answer()
    await done
    assert.equal(await result, '#1')
  })
})
