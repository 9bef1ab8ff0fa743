// W3C trace context: the caller's span travels as the parent of the server's work.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { formatTraceparent, parseTraceparent, type Span, scope } from 'weft'

describe('traceparent', () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
  const spanId = '00f067aa0ba902b7'

  test('names the span as parent in its trace, sampled', async () => {
    await scope({ trace: true }, (s) => {
      const span = s.span as Span
      assert.equal(formatTraceparent(span), `00-${span.trace.id}-${span.spanId}-01`)
      assert.deepEqual(parseTraceparent(formatTraceparent(span)), {
        traceId: span.trace.id,
        spanId: span.spanId,
        sampled: true,
      })
    })
  })

  test('reads version 00 and the sampled flag', () => {
    assert.deepEqual(parseTraceparent(`00-${traceId}-${spanId}-01`), { traceId, spanId, sampled: true })
    assert.deepEqual(parseTraceparent(`00-${traceId}-${spanId}-00`), { traceId, spanId, sampled: false })
    assert.deepEqual(parseTraceparent(`00-${traceId}-${spanId}-03`), { traceId, spanId, sampled: true })
  })

  test('reads the known fields of a later version, which may append more', () => {
    assert.deepEqual(parseTraceparent(`01-${traceId}-${spanId}-01-future`), {
      traceId,
      spanId,
      sampled: true,
    })
  })

  test('ignores what the specification says to ignore: the request then starts a trace of its own', () => {
    const invalid = [
      undefined,
      [`00-${traceId}-${spanId}-01`, `00-${traceId}-${spanId}-01`], // repeated header
      `00-${traceId}-${spanId}-01-extra`, // version 00 has exactly four fields
      `ff-${traceId}-${spanId}-01`, // forbidden version
      `00-${traceId.toUpperCase()}-${spanId}-01`,
      `00-${'0'.repeat(32)}-${spanId}-01`, // all-zero trace id
      `00-${traceId}-${'0'.repeat(16)}-01`, // all-zero parent id
      `00-${traceId.slice(1)}-${spanId}-01`,
      'garbage',
    ]
    for (const value of invalid) assert.equal(parseTraceparent(value), undefined, JSON.stringify(value))
  })
})
