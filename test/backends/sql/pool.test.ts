import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { withVirtualClock } from 'weft/testing'
import { Pool, type Poolable } from '../../../src/backends/sql/pool.ts'

class FakeConnection implements Poolable {
  readonly id: number
  broken = false
  busy = false
  closed = false
  #idle = Promise.withResolvers<void>()

  constructor(id: number) {
    this.id = id
  }

  /** Puts it to work (a statement in flight) until {@link finish}. */
  work(): void {
    this.busy = true
    this.#idle = Promise.withResolvers<void>()
  }

  finish(): void {
    this.busy = false
    this.#idle.resolve()
  }

  idle(): Promise<void> {
    return this.busy ? this.#idle.promise : Promise.resolve()
  }

  async close(): Promise<void> {
    this.closed = true
  }
}

class ClosedError extends Error {}
class CancelledError extends Error {}

/** A pool over fake connections; `opens` resolves or rejects each connection attempt by hand. */
function fakePool(max = 2, idleTimeout = Number.POSITIVE_INFINITY) {
  const opened: FakeConnection[] = []
  const attempts: PromiseWithResolvers<FakeConnection>[] = []
  const pool = new Pool<FakeConnection>({
    create: () => {
      const attempt = Promise.withResolvers<FakeConnection>()
      attempts.push(attempt)
      return attempt.promise
    },
    max,
    idleTimeout,
    closedError: () => new ClosedError('closed'),
    cancelledError: (reason) => new CancelledError(String(reason)),
  })
  const connect = (index: number): FakeConnection => {
    const connection = new FakeConnection(opened.length + 1)
    opened.push(connection)
    attempts[index]?.resolve(connection)
    return connection
  }
  return { pool, attempts, connect }
}

const neverAborted = new AbortController().signal
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('Pool', () => {
  test('hands a released idle connection to the next caller without opening another', async () => {
    const { pool, attempts, connect } = fakePool()
    const first = pool.acquire(neverAborted)
    connect(0)
    const connection = await first
    pool.release(connection)
    assert.equal(await pool.acquire(neverAborted), connection)
    assert.equal(attempts.length, 1)
  })

  test('opens at most max connections; further callers wait and are served in order', async () => {
    const { pool, attempts, connect } = fakePool(2)
    const callers = [1, 2, 3, 4].map(() => pool.acquire(neverAborted))
    assert.equal(attempts.length, 2)
    assert.deepEqual(pool.state, { open: 2, idle: 0, waiting: 4 })
    const a = connect(0)
    const b = connect(1)
    assert.equal(await callers[0], a)
    assert.equal(await callers[1], b)
    pool.release(b)
    pool.release(a)
    assert.equal(await callers[2], b)
    assert.equal(await callers[3], a)
  })

  test('a waiting caller is cancelled by its signal and leaves the queue', async () => {
    const { pool, connect } = fakePool(1)
    const holder = pool.acquire(neverAborted)
    connect(0)
    const held = await holder
    const controller = new AbortController()
    const waiting = pool.acquire(controller.signal)
    controller.abort('gave up')
    await assert.rejects(waiting, (error) => error instanceof CancelledError && error.message === 'gave up')
    assert.equal(pool.state.waiting, 0)
    pool.release(held)
    assert.equal(pool.state.idle, 1)
  })

  test('a connection opened for a caller who gave up serves the next caller', async () => {
    const { pool, attempts, connect } = fakePool(1)
    const controller = new AbortController()
    const gaveUp = pool.acquire(controller.signal)
    controller.abort('gave up')
    await assert.rejects(gaveUp, CancelledError)
    const connection = connect(0)
    await turn()
    assert.deepEqual(pool.state, { open: 1, idle: 1, waiting: 0 })
    assert.equal(await pool.acquire(neverAborted), connection)
    assert.equal(attempts.length, 1)
  })

  test('a failed attempt fails the longest waiter; the others get an attempt of their own', async () => {
    const { pool, attempts, connect } = fakePool(1)
    const first = pool.acquire(neverAborted)
    const second = pool.acquire(neverAborted)
    attempts[0]?.reject(new Error('refused'))
    await assert.rejects(first, /refused/)
    await turn()
    assert.equal(attempts.length, 2)
    const connection = connect(1)
    assert.equal(await second, connection)
  })

  test('a connection given back busy rejoins the pool only once idle', async () => {
    const { pool, connect } = fakePool(1)
    const holder = pool.acquire(neverAborted)
    const connection = connect(0)
    await holder
    connection.work() // a cancelled statement still winding down
    pool.release(connection)
    let served = false
    const next = pool.acquire(neverAborted).then((handed) => {
      served = true
      return handed
    })
    await turn()
    assert.equal(served, false)
    connection.finish()
    assert.equal(await next, connection)
  })

  test('a broken connection is closed, never handed out again, and its slot serves a waiter', async () => {
    const { pool, attempts, connect } = fakePool(1)
    const holder = pool.acquire(neverAborted)
    const broken = connect(0)
    await holder
    const waiting = pool.acquire(neverAborted)
    broken.broken = true
    pool.release(broken)
    assert.equal(broken.closed, true)
    assert.equal(attempts.length, 2)
    const fresh = connect(1)
    assert.equal(await waiting, fresh)
  })

  test('an idle connection that broke meanwhile is skipped and closed', async () => {
    const { pool, attempts, connect } = fakePool(1)
    const holder = pool.acquire(neverAborted)
    const connection = connect(0)
    pool.release(await holder)
    connection.broken = true // the server closed it while it sat idle
    const next = pool.acquire(neverAborted)
    assert.equal(connection.closed, true)
    assert.equal(attempts.length, 2)
    assert.notEqual(await Promise.race([next, turn().then(() => undefined)]), connection)
  })

  test('closes a connection left idle for idleTimeout', async () => {
    await withVirtualClock(async (clock) => {
      const { pool, connect } = fakePool(2, 1_000)
      const holder = pool.acquire(neverAborted)
      const connection = connect(0)
      pool.release(await holder)
      await clock.advance(999)
      assert.equal(connection.closed, false)
      await clock.advance(1)
      assert.equal(connection.closed, true)
      assert.deepEqual(pool.state, { open: 0, idle: 0, waiting: 0 })
    })
  })

  test('taking an idle connection stops its idle timer', async () => {
    await withVirtualClock(async (clock) => {
      const { pool, connect } = fakePool(2, 1_000)
      const holder = pool.acquire(neverAborted)
      const connection = connect(0)
      pool.release(await holder)
      await pool.acquire(neverAborted)
      assert.equal(clock.pendingTimers, 0)
      await clock.advance(5_000)
      assert.equal(connection.closed, false)
    })
  })

  test('close fails the waiters and new callers, and waits for busy connections to be released', async () => {
    const { pool, connect } = fakePool(1)
    const holder = pool.acquire(neverAborted)
    const busy = connect(0)
    await holder
    const waiting = pool.acquire(neverAborted)
    let closed = false
    const closing = pool.close().then(() => {
      closed = true
    })
    await assert.rejects(waiting, ClosedError)
    await assert.rejects(pool.acquire(neverAborted), ClosedError)
    await turn()
    assert.equal(closed, false)
    pool.release(busy)
    await closing
    assert.equal(busy.closed, true)
  })

  test('close closes idle connections at once', async () => {
    const { pool, connect } = fakePool(1)
    const holder = pool.acquire(neverAborted)
    const idle = connect(0)
    pool.release(await holder)
    await pool.close()
    assert.equal(idle.closed, true)
    assert.deepEqual(pool.state, { open: 0, idle: 0, waiting: 0 })
  })
})
