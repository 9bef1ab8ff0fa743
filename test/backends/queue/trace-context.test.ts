import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Span, scope } from 'weft'
import {
  deliveryTracing,
  formatTraceparent,
  markConsumer,
  parseTraceparent,
} from '../../../src/backends/queue/trace-context.ts'

test('a traceparent names the span and its trace, sampled, and reads back', async () => {
  let span: Span | undefined
  await scope({ trace: true }, (s) => {
    span = s.span
  })
  const value = formatTraceparent(span as Span)
  assert.match(value, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
  assert.deepEqual(parseTraceparent(value), { traceId: span?.trace.id, spanId: span?.spanId, sampled: true })
})

test('a missing or malformed traceparent reads as none', () => {
  for (const value of [
    undefined,
    null,
    42,
    '',
    'garbage',
    `00-${'0'.repeat(32)}-${'1'.repeat(16)}-01`,
    `01-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
  ]) {
    assert.equal(parseTraceparent(value), undefined, String(value))
  }
  assert.equal(parseTraceparent(`00-${'a'.repeat(32)}-${'b'.repeat(16)}-00`)?.sampled, false)
})

test('a delivery is traced as the worker says, else when the enqueuing request was', () => {
  const sampled = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), sampled: true }
  const listener = (): void => {}
  assert.deepEqual(deliveryTracing(sampled, undefined), { trace: true })
  assert.deepEqual(deliveryTracing({ ...sampled, sampled: false }, undefined), {})
  assert.deepEqual(deliveryTracing(undefined, undefined), {})
  assert.deepEqual(deliveryTracing(sampled, false), { trace: false })
  assert.deepEqual(deliveryTracing(undefined, listener), { trace: listener })
})

test('the consumer span records the enqueuing trace and span', async () => {
  let span: Span | undefined
  await scope({ trace: true }, (s) => {
    markConsumer(
      s.span,
      { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), sampled: true },
      { 'queue.name': 'mail' },
    )
    span = s.span
  })
  assert.equal(span?.kind, 'consumer')
  assert.deepEqual(span?.attributes, {
    'queue.name': 'mail',
    'weft.parent_trace_id': 'a'.repeat(32),
    'weft.parent_span_id': 'b'.repeat(16),
  })
})
