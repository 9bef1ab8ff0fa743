import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Span, scope } from 'weft'
import { deliveryTracing, describeDelivery } from '../../../src/backends/queue/trace-context.ts'

test('a delivery continues the trace of an enqueuing request that was recorded; the worker decides whether to record', () => {
  const sampled = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), sampled: true }
  const listener = (): void => {}
  assert.deepEqual(deliveryTracing(sampled, undefined), { traceParent: sampled })
  assert.deepEqual(deliveryTracing({ ...sampled, sampled: false }, undefined), {})
  assert.deepEqual(deliveryTracing(undefined, undefined), {})
  assert.deepEqual(deliveryTracing(sampled, false), { trace: false, traceParent: sampled })
  assert.deepEqual(deliveryTracing(undefined, listener), { trace: listener })
})

test('the consumer span records what the delivery is', async () => {
  let span: Span | undefined
  await scope({ trace: true, kind: 'consumer' }, (s) => {
    describeDelivery(s.span, { 'queue.name': 'mail' })
    span = s.span
  })
  assert.equal(span?.kind, 'consumer')
  assert.deepEqual(span?.attributes, { 'queue.name': 'mail' })
})
