import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { configureTracing, criticalPath, scope, type Trace } from 'weft'

const remote = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' }

describe('scope({ traceParent }): continuing a trace begun in another process', () => {
  test("the request's trace takes the caller's trace id and its root span the caller's span as parent", async () => {
    let trace: Trace | undefined
    await scope({ name: 'server', traceParent: remote, trace: (t) => (trace = t) }, async (s) => {
      await s.spawn('work', async () => 1)
    })
    assert.ok(trace !== undefined)
    const [root, work] = trace.toJSON().spans
    assert.equal(trace.id, remote.traceId)
    assert.equal(root?.traceId, remote.traceId)
    assert.equal(root?.parentId, remote.spanId)
    assert.equal(work?.parentId, root?.spanId)
    assert.deepEqual(
      criticalPath(trace).path.map((span) => span.name),
      ['server', 'work'],
    )
  })

  test('a caller that sampled the request has it traced here even when local sampling would not', async () => {
    const traces: Trace[] = []
    const restore = configureTracing({ enabled: true, sampleRate: 0, onTrace: (t) => traces.push(t) })
    try {
      await scope({ traceParent: remote }, () => {})
      await scope(() => {})
    } finally {
      restore()
    }
    assert.deepEqual(
      traces.map((t) => t.id),
      [remote.traceId],
    )
  })

  test('trace: false still wins, and nested scopes keep their parent trace', async () => {
    await scope({ traceParent: remote, trace: false }, (s) => assert.equal(s.span, undefined))
    await scope({ trace: true }, async (outer) => {
      await scope({ traceParent: remote }, (inner) => assert.equal(inner.span?.trace, outer.span?.trace))
    })
  })

  test('a malformed traceParent is a TypeError naming the field', () => {
    assert.throws(
      () => scope({ traceParent: { traceId: 'xyz', spanId: remote.spanId } }, () => {}),
      /options\.traceParent\.traceId must be 32 lowercase hex digits, not all zero, got "xyz"/,
    )
    assert.throws(
      () => scope({ traceParent: { traceId: remote.traceId, spanId: '0000000000000000' } }, () => {}),
      /options\.traceParent\.spanId/,
    )
  })
})

describe('scope({ kind })', () => {
  test("sets the kind of the scope's span, and refuses an unknown kind", async () => {
    await scope({ trace: true, kind: 'server' }, async (s) => {
      assert.equal(s.span?.kind, 'server')
      await scope({ kind: 'consumer' }, (inner) => assert.equal(inner.span?.kind, 'consumer'))
    })
    assert.throws(
      () => scope({ kind: 'rpc' as never }, () => {}),
      /scope\(\): options\.kind must be one of scope, task, client, batch, server, producer, consumer, internal, got "rpc"/,
    )
  })
})
