import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { type CriticalPath, criticalPath, type SpanData } from 'weft'
import { span } from './helpers.ts'

/**
 * Random span trees with everything real traces throw at the analysis: children overlapping each other
 * and their parent, zero-length spans, equal timestamps (times are small integers), spans still open,
 * spans whose parent is missing, and a second parentless span. Shuffled, since order must not matter.
 */
const traces = fc
  .array(
    fc.record({
      parent: fc.oneof(
        { weight: 12, arbitrary: fc.nat() },
        { weight: 1, arbitrary: fc.constant('missing' as const) },
        { weight: 1, arbitrary: fc.constant('none' as const) },
      ),
      start: fc.integer({ min: 0, max: 30 }),
      length: fc.integer({ min: 0, max: 30 }),
      open: fc.nat({ max: 14 }).map((n) => n === 0),
      cancelled: fc.nat({ max: 4 }).map((n) => n === 0),
    }),
    { minLength: 1, maxLength: 30 },
  )
  .map((drafts) =>
    drafts.map(({ parent, start, length, open, cancelled }, i): SpanData => {
      const parentId =
        i === 0 || parent === 'none' ? undefined : parent === 'missing' ? `gone${i}` : `s${parent % i}`
      return span(`s${i}`, parentId, start, open ? undefined : start + length, {
        status: cancelled ? 'cancelled' : 'ok',
      })
    }),
  )
  .chain((spans) => fc.shuffledSubarray(spans, { minLength: spans.length, maxLength: spans.length }))

/** The root the analysis must pick: the earliest parentless span (or, without one, earliest orphan). */
function expectedRoot(spans: readonly SpanData[]): SpanData {
  const ids = new Set(spans.map((s) => s.spanId))
  const parentless = spans.filter((s) => s.parentId === undefined)
  const candidates = parentless.length > 0 ? parentless : spans.filter((s) => !ids.has(s.parentId as string))
  return [...candidates].sort((a, b) => a.start - b.start || (a.spanId < b.spanId ? -1 : 1))[0] as SpanData
}

/** The parent a span hangs from in the analysis: its own, or the root when that is missing. */
function parentIn(spans: readonly SpanData[], root: SpanData): (s: SpanData) => string | undefined {
  const ids = new Set(spans.map((s) => s.spanId))
  return (s) =>
    s === root ? undefined : s.parentId !== undefined && ids.has(s.parentId) ? s.parentId : root.spanId
}

function checkInvariants(spans: readonly SpanData[], result: CriticalPath): void {
  const { path, slack, duration, segments } = result
  const root = expectedRoot(spans)
  const parentOf = parentIn(spans, root)
  const onPath = new Set(path.map((s) => s.spanId))

  // Root first; each later span's parent comes before it on the path.
  assert.equal(path[0], root)
  assert.equal(onPath.size, path.length, 'no span twice on the path')
  path.forEach((s, i) => {
    if (i === 0) return
    const parentIndex = path.findIndex((p) => p.spanId === parentOf(s))
    assert.ok(parentIndex >= 0 && parentIndex < i, `${s.spanId}'s parent precedes it on the path`)
  })

  // The segments tile the root's interval exactly, back to back, each owned by a span on the path.
  const rootEnd = Math.max(
    root.start,
    root.end ?? Math.max(...spans.flatMap((s) => [s.start, s.end ?? s.start])),
  )
  assert.equal(duration, rootEnd - root.start)
  if (duration > 0) {
    assert.equal(segments[0]?.start, root.start)
    assert.equal(segments.at(-1)?.end, rootEnd)
  } else assert.equal(segments.length, 0)
  segments.forEach((segment, i) => {
    assert.ok(segment.end > segment.start, 'no empty segment')
    assert.ok(onPath.has(segment.span.spanId), 'segments belong to spans on the path')
    if (i > 0) assert.equal(segment.start, segments[i - 1]?.end, 'segments are contiguous, without overlap')
  })
  assert.equal(
    segments.reduce((sum, s) => sum + (s.end - s.start), 0),
    duration,
    "the path's self times add up to the root's duration",
  )

  // Each span on the path covers one unbroken stretch (its own time and its path children's), and
  // the path lists spans in the order their stretches begin.
  const ancestorsOnPath = (s: SpanData): Set<string> => {
    const seen = new Set<string>()
    for (let id: string | undefined = s.spanId; id !== undefined; ) {
      seen.add(id)
      const current = spans.find((x) => x.spanId === id) as SpanData
      id = parentOf(current)
    }
    return seen
  }
  const owners = segments.map((segment) => ancestorsOnPath(segment.span))
  let previousStart = Number.NEGATIVE_INFINITY
  for (const s of path) {
    const indices = owners.flatMap((owner, i) => (owner.has(s.spanId) ? [i] : []))
    if (indices.length === 0) continue // zero-length: no stretch of its own
    assert.equal(
      (indices.at(-1) as number) - (indices[0] as number) + 1,
      indices.length,
      `${s.spanId}'s stretch is unbroken`,
    )
    const start = (segments[indices[0] as number] as { start: number }).start
    assert.ok(start >= previousStart, 'the path is in time order')
    previousStart = start
  }

  // Slack: one value per span, never negative, zero on the path.
  assert.equal(slack.size, spans.length)
  for (const s of spans) {
    const value = slack.get(s.spanId)
    assert.ok(value !== undefined && value >= 0, `${s.spanId} has a slack of 0 or more`)
    if (onPath.has(s.spanId)) assert.equal(value, 0, `${s.spanId} is on the path: no slack`)
  }
  // An off-path span can never slip past what its parent can absorb.
  for (const s of spans) {
    const parent = spans.find((p) => p.spanId === parentOf(s))
    if (parent === undefined || onPath.has(s.spanId) || s.end === undefined || parent.end === undefined)
      continue
    if (s.end > parent.end || s.start < parent.start) continue // clipped: compared on other times
    assert.ok(
      s.end + (slack.get(s.spanId) as number) <= parent.end + (slack.get(parent.spanId) as number),
      `${s.spanId} may not end later than its parent may`,
    )
  }
}

test('on random span trees, the critical path is a time-ordered chain that tiles the root and slack is sound', () => {
  fc.assert(
    fc.property(traces, (spans) => checkInvariants(spans, criticalPath(spans))),
    { numRuns: 2000 },
  )
})

test('on random span trees, the result does not depend on the order of the spans', () => {
  fc.assert(
    fc.property(
      traces.chain((spans) =>
        fc.tuple(
          fc.constant(spans),
          fc.shuffledSubarray(spans, { minLength: spans.length, maxLength: spans.length }),
        ),
      ),
      ([spans, shuffled]) => {
        const a = criticalPath(spans)
        const b = criticalPath(shuffled)
        assert.deepEqual(a.path, b.path)
        assert.deepEqual(a.segments, b.segments)
        assert.deepEqual(a.slack, b.slack)
      },
    ),
    { numRuns: 500 },
  )
})
