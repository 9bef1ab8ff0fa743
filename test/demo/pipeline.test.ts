import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { criticalPath, type SpanData, type Trace } from 'weft'
import { withVirtualClock } from 'weft/testing'
import { latency, search } from '../../demo/pipeline.ts'

function depth(span: SpanData, byId: Map<string, SpanData>): number {
  let levels = 1
  for (let parent = span.parentId; parent !== undefined; parent = byId.get(parent)?.parentId) levels += 1
  return levels
}

/** The largest number of spans of `kind` open at one instant. */
function peakConcurrency(spans: SpanData[], kind: SpanData['kind']): number {
  const events = spans
    .filter((span) => span.kind === kind)
    .flatMap((span) => [
      { at: span.start, delta: 1 },
      { at: span.end ?? Infinity, delta: -1 },
    ])
    .sort((a, b) => a.at - b.at || a.delta - b.delta)
  let open = 0
  let peak = 0
  for (const event of events) {
    open += event.delta
    peak = Math.max(peak, open)
  }
  return peak
}

describe('the demo pipeline (npm start)', () => {
  test('answers, and its trace has the seed shape: deep, wide, with geocoding on the critical path', async () => {
    await withVirtualClock(async (clock) => {
      let trace: Trace | undefined
      const answer = await clock.run(
        search('203.0.113.7', 'alice', (finished) => {
          trace = finished
        }),
      )
      assert.equal(answer.where.city, 'Lisbon')
      assert.ok(trace !== undefined)
      const spans = trace.toJSON().spans
      const byId = new Map(spans.map((span) => [span.spanId, span]))
      assert.ok(Math.max(...spans.map((span) => depth(span, byId))) >= 5, 'at least 5 layers deep')
      assert.ok(peakConcurrency(spans, 'task') >= 10, 'at least 10 calls in flight at once')
      const path = criticalPath(trace).path.map((span) => span.name)
      assert.deepEqual(path.slice(0, 2), ['search', 'geocode'])
      // The request takes about the critical path, far less than the sum of its calls.
      const sequential = spans.filter((span) => span.kind === 'task').length * latency.memcache
      assert.ok(criticalPath(trace).duration < sequential)
    })
  })
})
