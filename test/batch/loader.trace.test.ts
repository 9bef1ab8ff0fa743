// Tracing: each batch is a span of its request with its key and load counts, and a request reports the
// loads it asked for against the round trips they took.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Scope, scope, startSpan, type Trace } from 'weft'
import { loader, loaderStats } from 'weft/batch'
import { manual, nextTurn, recording } from './support.ts'

/** Runs `fn` as a traced request and returns the finished trace. */
async function traced(fn: (s: Scope) => Promise<unknown>): Promise<Trace> {
  let finished: Trace | undefined
  await scope({ name: 'request', trace: (trace) => (finished = trace) }, fn)
  return finished ?? assert.fail('the trace did not finish')
}

test("each batch is a span under the request's root, with the keys it fetched and the loads it served", async () => {
  const users = loader('users', recording((id: number) => ({ id })).batchFn)
  const trace = await traced(async (s) => {
    const tasks = [1, 2, 1].map((id) => s.spawn(`user ${id}`, () => users.load(id)))
    await Promise.all(tasks)
    await users.load(2)
  })
  const batches = trace.spans.filter((span) => span.kind === 'batch')
  assert.equal(batches.length, 1)
  const [batch] = batches
  assert.equal(batch?.name, 'users.batch')
  assert.equal(batch?.parent, trace.root)
  assert.equal(batch?.status, 'ok')
  assert.deepEqual(batch?.attributes, { 'batch.keys': 2, 'batch.loads': 3 })
})

test('the spans the batch function starts nest under the batch span', async () => {
  const users = loader('users', async (ids: readonly number[]) => {
    const query = startSpan('postgres.query', 'client')
    await nextTurn()
    query?.finish('ok')
    return ids
  })
  const trace = await traced(async () => users.load(1))
  const query = trace.spans.find((span) => span.name === 'postgres.query')
  assert.equal(query?.parent?.name, 'users.batch')
})

test('a failed batch is an error span, a cancelled one a cancelled span', async () => {
  const failing = loader('failing', async () => {
    throw new Error('backend down')
  })
  const { batchFn } = manual<number, number>()
  const abandoned = loader('abandoned', batchFn)
  const trace = await traced(async (s) => {
    await failing.load(1).catch(() => {})
    const task = s.spawn('gives up', () => abandoned.load(1))
    await nextTurn()
    task.cancel('not needed')
  })
  const status = Object.fromEntries(
    trace.spans.filter((span) => span.kind === 'batch').map((span) => [span.name, span.status]),
  )
  assert.deepEqual(status, { 'failing.batch': 'error', 'abandoned.batch': 'cancelled' })
  assert.match(trace.spans.find((span) => span.name === 'failing.batch')?.error ?? '', /backend down/)
})

test("the request's root span and loaderStats() report loads requested against round trips issued", async () => {
  const users = loader('users', recording((id: number) => id).batchFn)
  const teams = loader('teams', recording((id: string) => id).batchFn)
  let stats: unknown
  const trace = await traced(async (s) => {
    await Promise.all([users.loadMany([1, 2, 2, 3]), s.spawn('team', () => teams.load('a'))])
    await scope({ name: 'nested' }, () => users.loadMany([3, 4]))
    stats = loaderStats()
  })
  assert.deepEqual(stats, { loads: 7, batches: 3, keys: 5 })
  const { attributes } = trace.root ?? assert.fail('no root span')
  assert.deepEqual([attributes['weft.loads'], attributes['weft.batches'], attributes['weft.keys']], [7, 3, 5])
})

test('loaderStats() counts per request, and is all zeros outside any scope', async () => {
  const users = loader('users', recording((id: number) => id).batchFn)
  const [first, second] = await Promise.all([
    scope(async () => {
      await users.loadMany([1, 2])
      return loaderStats()
    }),
    scope(async (s) => {
      await s.spawn('one', () => users.load(1))
      return loaderStats(s)
    }),
  ])
  assert.deepEqual(first, { loads: 2, batches: 1, keys: 2 })
  assert.deepEqual(second, { loads: 1, batches: 1, keys: 1 })
  await users.load(1)
  assert.deepEqual(loaderStats(), { loads: 0, batches: 0, keys: 0 })
})
