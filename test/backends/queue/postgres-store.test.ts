// The PostgreSQL queue's statements at chosen instants: every statement that depends on time takes
// `now`, so delays, leases, backoff and retention are checked at their exact boundaries, in no time.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { type Database, embeddedDatabase } from 'weft/sql'
import { type NewTask, TaskStore } from '../../../src/backends/queue/postgres-store.ts'

const T0 = Date.UTC(2026, 0, 1)
const LEASE = 30_000

let db: Database
before(() => {
  db = embeddedDatabase()
})
after(() => db.close())

let tables = 0
/** A store on a table of its own: sweeps and purges span every task name, so tests must not share one. */
async function open(): Promise<TaskStore> {
  const store = new TaskStore(db, `tasks_${++tables}`)
  await store.ready()
  return store
}

const name = 'send-email'

function task(name: string, fields: Partial<NewTask> = {}): NewTask {
  return {
    id: randomUUID(),
    name,
    payload: '{"n":1}',
    maxAttempts: 3,
    runAt: T0,
    dedupeKey: undefined,
    traceparent: undefined,
    ...fields,
  }
}

describe('claims', () => {
  test('a task is claimed only once it is due', async () => {
    const store = await open()
    await store.insert([task(name, { runAt: T0 + 5000 })], T0)
    assert.deepEqual(await store.claim(name, 10, T0 + 4999, T0 + 4999 + LEASE), [])
    const [claimed] = await store.claim(name, 10, T0 + 5000, T0 + 5000 + LEASE)
    assert.deepEqual(claimed?.payload, { n: 1 })
    assert.equal(claimed?.attempt, 1)
  })

  test('tasks are claimed oldest due first, in the order they were enqueued', async () => {
    const store = await open()
    const later = task(name, { runAt: T0 + 10 })
    const first = task(name)
    const second = task(name)
    await store.insert([later, first, second], T0)
    const claimed = await store.claim(name, 10, T0 + 10, T0 + LEASE)
    assert.deepEqual(
      claimed.map((c) => c.id),
      [first.id, second.id, later.id],
    )
  })

  test('a claim takes at most `limit` tasks, and never one another claim holds', async () => {
    const store = await open()
    await store.insert([task(name), task(name), task(name)], T0)
    const [a, b] = await Promise.all([
      store.claim(name, 2, T0, T0 + LEASE),
      store.claim(name, 2, T0, T0 + LEASE),
    ])
    const ids = [...(a ?? []), ...(b ?? [])].map((c) => c.id)
    assert.equal(ids.length, 3)
    assert.equal(new Set(ids).size, 3)
    assert.deepEqual(await store.claim(name, 2, T0, T0 + LEASE), [])
  })
})

describe('leases', () => {
  test('a task whose lease ran out goes back to the queue, and its next delivery is attempt 2', async () => {
    const store = await open()
    await store.insert([task(name)], T0)
    await store.claim(name, 1, T0, T0 + LEASE)
    assert.equal((await store.sweep(T0 + LEASE - 1, 0)).requeued, 0)
    assert.equal((await store.sweep(T0 + LEASE, 0)).requeued, 1)
    const [again] = await store.claim(name, 1, T0 + LEASE, T0 + 2 * LEASE)
    assert.equal(again?.attempt, 2)
  })

  test('a task whose lease ran out on its last attempt is dead, saying its delivery was lost', async () => {
    const store = await open()
    await store.insert([task(name, { maxAttempts: 1 })], T0)
    await store.claim(name, 1, T0, T0 + LEASE)
    assert.deepEqual(await store.sweep(T0 + LEASE, 0), { requeued: 0, dead: 1, purged: 0 })
    const [dead] = await store.deadLetters(name, 10)
    assert.match(dead?.error ?? '', /delivery 1 was lost/)
    assert.equal(dead?.failedAt, T0 + LEASE)
  })

  test('renewing a lease moves its expiry', async () => {
    const store = await open()
    await store.insert([task(name)], T0)
    const [claimed] = await store.claim(name, 1, T0, T0 + LEASE)
    const held = await store.renew([{ id: claimed?.id ?? '', token: claimed?.token ?? '' }], T0 + 2 * LEASE)
    assert.deepEqual([...held], [claimed?.id])
    assert.equal((await store.sweep(T0 + LEASE, 0)).requeued, 0)
    assert.equal((await store.sweep(T0 + 2 * LEASE, 0)).requeued, 1)
  })

  test('a delivery that lost its lease can neither renew it nor record an outcome', async () => {
    const store = await open()
    await store.insert([task(name)], T0)
    const [lost] = await store.claim(name, 1, T0, T0 + LEASE)
    await store.sweep(T0 + LEASE, 0)
    const [current] = await store.claim(name, 1, T0 + LEASE, T0 + 2 * LEASE)
    const stale = { id: lost?.id ?? '', token: lost?.token ?? '' }
    assert.equal((await store.renew([stale], T0 + 3 * LEASE)).size, 0)
    assert.deepEqual(await store.settle([{ ...stale, state: 'done' }], T0 + LEASE), [])
    assert.deepEqual(
      await store.settle([{ id: current?.id ?? '', token: current?.token ?? '', state: 'done' }], T0),
      [current?.id],
    )
  })
})

describe('outcomes', () => {
  test('a retry is not claimed before its time', async () => {
    const store = await open()
    await store.insert([task(name)], T0)
    const [claimed] = await store.claim(name, 1, T0, T0 + LEASE)
    const lease = { id: claimed?.id ?? '', token: claimed?.token ?? '' }
    await store.settle([{ ...lease, state: 'queued', runAt: T0 + 1000, error: 'Error: boom' }], T0)
    assert.deepEqual(await store.claim(name, 1, T0 + 999, T0 + LEASE), [])
    assert.equal((await store.claim(name, 1, T0 + 1000, T0 + LEASE))[0]?.attempt, 2)
  })

  test('a task handed back keeps its attempt number', async () => {
    const store = await open()
    await store.insert([task(name)], T0)
    const [claimed] = await store.claim(name, 1, T0, T0 + LEASE)
    await store.settle(
      [{ id: claimed?.id ?? '', token: claimed?.token ?? '', state: 'queued', runAt: T0, refund: true }],
      T0,
    )
    assert.equal((await store.claim(name, 1, T0, T0 + LEASE))[0]?.attempt, 1)
  })

  test('finished tasks are kept for stats until their retention passes, then purged', async () => {
    const store = await open()
    await store.insert([task(name)], T0)
    const [claimed] = await store.claim(name, 1, T0, T0 + LEASE)
    await store.settle([{ id: claimed?.id ?? '', token: claimed?.token ?? '', state: 'done' }], T0 + 10)
    assert.deepEqual((await store.counts())[name], { queued: 0, active: 0, done: 1, dead: 0 })
    assert.equal((await store.sweep(T0 + 20, T0 + 10)).purged, 0, 'finished exactly at the cutoff: kept')
    assert.equal((await store.sweep(T0 + 20, T0 + 11)).purged, 1)
    assert.equal((await store.counts())[name], undefined)
  })

  test('dead letters are listed most recent first, with their error and attempts', async () => {
    const store = await open()
    const first = task(name, { maxAttempts: 1 })
    const second = task(name, { maxAttempts: 1, dedupeKey: 'k' })
    await store.insert([first, second], T0)
    const claimed = await store.claim(name, 2, T0, T0 + LEASE)
    await store.settle(
      claimed.map((c, i) => ({ id: c.id, token: c.token, state: 'dead' as const, error: `Error: ${i}` })),
      T0,
    )
    const dead = await store.deadLetters(name, 10)
    assert.deepEqual(
      dead.map((d) => [d.id, d.attempts, d.dedupeKey]),
      [
        [second.id, 1, 'k'],
        [first.id, 1, undefined],
      ],
    )
    assert.equal((await store.deadLetters(name, 1)).length, 1)
  })
})

describe('deduplication', () => {
  test('a key is held while its task is queued or running, and freed when it is done or dead', async () => {
    const store = await open()
    const [first] = await store.insert([task(name, { dedupeKey: 'order-7' })], T0)
    assert.deepEqual(await store.insert([task(name, { dedupeKey: 'order-7' })], T0), [
      { id: first?.id, deduplicated: true },
    ])
    const [claimed] = await store.claim(name, 1, T0, T0 + LEASE)
    assert.equal((await store.insert([task(name, { dedupeKey: 'order-7' })], T0))[0]?.deduplicated, true)
    await store.settle([{ id: claimed?.id ?? '', token: claimed?.token ?? '', state: 'done' }], T0)
    assert.equal((await store.insert([task(name, { dedupeKey: 'order-7' })], T0))[0]?.deduplicated, false)
  })

  test('in one batch, a key is taken by its first task and the others get that task', async () => {
    const store = await open()
    const tasks = [task(name, { dedupeKey: 'a' }), task(name), task(name, { dedupeKey: 'a' })]
    const results = await store.insert(tasks, T0)
    assert.deepEqual(results, [
      { id: tasks[0]?.id, deduplicated: false },
      { id: tasks[1]?.id, deduplicated: false },
      { id: tasks[0]?.id, deduplicated: true },
    ])
  })

  test('keys are per task name', async () => {
    const store = await open()
    const [a] = await store.insert([task('send-email', { dedupeKey: 'shared' })], T0)
    const [b] = await store.insert([task('send-sms', { dedupeKey: 'shared' })], T0)
    assert.equal(a?.deduplicated, false)
    assert.equal(b?.deduplicated, false)
  })
})
