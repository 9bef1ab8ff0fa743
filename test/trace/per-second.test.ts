// configureTracing's perSecond: how many new requests are traced a second, whatever the load.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Allowance, configureTracing, scope, type Trace } from 'weft'
import { withVirtualClock } from 'weft/testing'

/** Runs `requests` empty requests (outermost scopes) now; how many were traced. */
async function tracedOf(requests: number, traces: Trace[]): Promise<number> {
  const before = traces.length
  for (let i = 0; i < requests; i++) await scope({ name: 'request' }, () => {})
  return traces.length - before
}

test('perSecond traces a burst of that many requests, then that many a second', () =>
  withVirtualClock(async (time) => {
    const traces: Trace[] = []
    const restore = configureTracing({ enabled: true, perSecond: 4, onTrace: (t) => traces.push(t) })
    try {
      assert.equal(await tracedOf(10, traces), 4, 'the burst')
      await time.advance(250)
      assert.equal(await tracedOf(10, traces), 1, 'a quarter of a second: one more')
      await time.advance(10_000)
      assert.equal(await tracedOf(10, traces), 4, 'a long pause refills the burst, no more')
    } finally {
      restore()
    }
  }))

test('requests over the bound cost no trace, but continuing a remote trace or asking for one still traces', () =>
  withVirtualClock(async () => {
    const traces: Trace[] = []
    const restore = configureTracing({ enabled: true, perSecond: 0, onTrace: (t) => traces.push(t) })
    try {
      await scope({ name: 'request' }, (s) => assert.equal(s.span, undefined))
      const remote = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) }
      await scope({ name: 'continued', traceParent: remote }, () => {})
      await scope({ name: 'asked', trace: true }, () => {})
      assert.deepEqual(
        traces.map((t) => t.root?.name),
        ['continued', 'asked'],
      )
    } finally {
      restore()
    }
  }))

test('by default nothing bounds tracing, and restoring puts the previous bound back', () =>
  withVirtualClock(async () => {
    const traces: Trace[] = []
    const restoreUnbounded = configureTracing({ enabled: true, onTrace: (t) => traces.push(t) })
    try {
      assert.equal(await tracedOf(50, traces), 50)
      const restoreBounded = configureTracing({ enabled: true, perSecond: 1, onTrace: (t) => traces.push(t) })
      assert.equal(await tracedOf(5, traces), 1)
      restoreBounded()
      assert.equal(await tracedOf(5, traces), 5)
    } finally {
      restoreUnbounded()
    }
  }))

test('a perSecond that is not a number of 0 or more is a TypeError naming the option', () => {
  for (const perSecond of [-1, Number.NaN, '5', null]) {
    assert.throws(
      () => configureTracing({ enabled: true, perSecond: perSecond as number }),
      (error: unknown) =>
        error instanceof TypeError &&
        /^configureTracing\(\): options\.perSecond must be a number/.test(error.message),
    )
    assert.throws(
      () => new Allowance(perSecond as number),
      /^TypeError: Allowance: perSecond must be a number/,
    )
  }
})

test('an Allowance of a fraction a second lets one through, then one each 1/perSecond seconds', () =>
  withVirtualClock(async (time) => {
    const allowance = new Allowance(0.5)
    assert.deepEqual([allowance.take(), allowance.take()], [true, false])
    await time.advance(1_999)
    assert.equal(allowance.take(), false)
    await time.advance(1)
    assert.equal(allowance.take(), true)
  }))
