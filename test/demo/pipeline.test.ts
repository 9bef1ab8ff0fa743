import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { criticalPath, type Trace } from 'weft'
import { withVirtualClock } from 'weft/testing'
import { latency, search } from '../../demo/pipeline.ts'
import { depth, peakConcurrency } from '../service/trace-shape.ts'

describe('the demo pipeline (npm run demo)', () => {
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
      assert.ok(depth(spans) >= 5, 'at least 5 layers deep')
      assert.ok(peakConcurrency(spans, 'task') >= 10, 'at least 10 calls in flight at once')
      const path = criticalPath(trace).path.map((span) => span.name)
      assert.deepEqual(path.slice(0, 2), ['search', 'geocode'])
      // The request takes about the critical path, far less than the sum of its calls.
      const sequential = spans.filter((span) => span.kind === 'task').length * latency.memcache
      assert.ok(criticalPath(trace).duration < sequential)
    })
  })
})
