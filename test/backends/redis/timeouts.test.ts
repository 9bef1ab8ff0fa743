import assert from 'node:assert/strict'
import { test } from 'node:test'
import { withVirtualClock } from 'weft/testing'
import { TimeoutQueue } from '../../../src/backends/redis/timeouts.ts'

class Item {
  done = false
  expiredAt: number | undefined
  readonly #now: () => number
  constructor(now: () => number) {
    this.#now = now
  }
  expire(): void {
    this.expiredAt = this.#now()
    this.done = true
  }
}

test('items expire in order, each exactly its timeout after it was added, on one timer', async () => {
  await withVirtualClock(async (clock) => {
    const start = clock.now()
    const queue = new TimeoutQueue(100)
    const items = Array.from({ length: 3 }, () => new Item(() => clock.now()))
    queue.add(items[0] as Item)
    await clock.advance(30)
    queue.add(items[1] as Item)
    queue.add(items[2] as Item)
    assert.equal(clock.pendingTimers, 1)
    await clock.advance(70)
    assert.deepEqual(
      items.map((item) => (item.expiredAt === undefined ? undefined : item.expiredAt - start)),
      [100, undefined, undefined],
    )
    await clock.advance(30)
    assert.deepEqual(
      items.map((item) => (item.expiredAt ?? 0) - start),
      [100, 130, 130],
    )
    assert.equal(clock.pendingTimers, 0)
  })
})

test('a settled item never expires, and the timer goes once nothing is left', async () => {
  await withVirtualClock(async (clock) => {
    const queue = new TimeoutQueue(100)
    const [first, second] = [new Item(() => clock.now()), new Item(() => clock.now())]
    queue.add(first)
    await clock.advance(50)
    queue.add(second)
    first.done = true
    queue.settled()
    await clock.advance(60) // past the first's time: the timer moves on to the second's
    assert.equal(first.expiredAt, undefined)
    assert.equal(second.expiredAt, undefined)
    second.done = true
    queue.settled()
    assert.equal(clock.pendingTimers, 0)
  })
})

test('an item settled out of order is skipped when its turn comes', async () => {
  await withVirtualClock(async (clock) => {
    const queue = new TimeoutQueue(10)
    const items = Array.from({ length: 3 }, () => new Item(() => clock.now()))
    for (const item of items) queue.add(item)
    ;(items[1] as Item).done = true
    queue.settled() // the head is still pending: nothing leaves yet
    await clock.advance(10)
    assert.deepEqual(
      items.map((item) => item.expiredAt !== undefined),
      [true, false, true],
    )
    assert.equal(clock.pendingTimers, 0)
  })
})

test('thousands of items in flight cost one timer, and leave none', async () => {
  await withVirtualClock(async (clock) => {
    const queue = new TimeoutQueue(1000)
    const items = Array.from({ length: 5000 }, () => new Item(() => clock.now()))
    for (const item of items) queue.add(item)
    assert.equal(clock.pendingTimers, 1)
    for (const item of items) {
      item.done = true
      queue.settled()
    }
    assert.equal(clock.pendingTimers, 0)
  })
})
