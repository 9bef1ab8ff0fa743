import assert from 'node:assert/strict'
import { test } from 'node:test'
import { scope, type Trace } from 'weft'
import { TraceStore } from '../../service/traces.ts'

async function traced(name: string, parent?: { traceId: string; spanId: string }): Promise<Trace> {
  let trace: Trace | undefined
  await scope({ name, trace: (t) => (trace = t), ...(parent && { traceParent: parent }) }, async (s) => {
    await s.spawn('work', async () => {})
  })
  return trace as Trace
}

test('keeps the parts of a trace together, the request and what continued it', async () => {
  const store = new TraceStore()
  const request = await traced('request')
  const continued = await traced('delivery', { traceId: request.id, spanId: request.root?.spanId as string })
  store.add(request)
  store.add(continued)
  const spans = await store.get(request.id)
  assert.deepEqual(
    spans?.map((span) => span.name),
    ['request', 'work', 'delivery', 'work'],
  )
  assert.equal(await store.get('f'.repeat(32)), undefined)
})

test('waits for a request announced as under way, and forgets the oldest past its capacity', async () => {
  const store = new TraceStore(2)
  const request = await traced('request')
  store.begin(request.id)
  const waiting = store.get(request.id, 5000)
  store.add(request)
  assert.equal((await waiting)?.length, 2)
  store.begin('a'.repeat(32))
  store.begin('b'.repeat(32))
  assert.equal(await store.get(request.id), undefined)
})
