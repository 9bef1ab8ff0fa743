import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { criticalPath, scope, sleep, type Trace } from 'weft'
import { names, record, span, t0 } from './helpers.ts'

function slackByName(trace: Trace): Record<string, number | undefined> {
  const { slack } = criticalPath(trace)
  return Object.fromEntries(trace.spans.map((s) => [s.name, slack.get(s.spanId)]))
}

function segmentsOf(input: Parameters<typeof criticalPath>[0]): [string, number, number][] {
  return criticalPath(input).segments.map((s) => [s.span.name, s.start - t0, s.end - t0])
}

describe('criticalPath on traces recorded through scopes and tasks', () => {
  test('of parallel tasks, the one that finished last sets the latency; the others have slack', async () => {
    const trace = await record(async (s) => {
      s.spawn('cache', () => sleep(5))
      s.spawn('database', () => sleep(30))
      s.spawn('geocode', () => sleep(12))
    })
    const result = criticalPath(trace)
    assert.deepEqual(names(result.path), ['request', 'database'])
    assert.equal(result.duration, 30)
    assert.deepEqual(slackByName(trace), { request: 0, database: 0, cache: 25, geocode: 18 })
  })

  test('sequential tasks are all on the path, in the order they ran', async () => {
    const trace = await record(async (s) => {
      await s.spawn('session', () => sleep(10))
      await s.spawn('query', () => sleep(20))
      await s.spawn('render', () => sleep(5))
    })
    assert.deepEqual(names(criticalPath(trace).path), ['request', 'session', 'query', 'render'])
    assert.deepEqual(segmentsOf(trace), [
      ['session', 0, 10],
      ['query', 10, 30],
      ['render', 30, 35],
    ])
  })

  test('the path goes down into nested scopes and tasks, each span before the spans under it', async () => {
    const trace = await record(async (s) => {
      s.spawn('rate-limits', () => sleep(8))
      await s.spawn('session', () =>
        scope({ name: 'load-session' }, async (inner) => {
          await inner.spawn('memcache', () => sleep(3))
          await inner.spawn('database', () => sleep(10))
        }),
      )
      await s.spawn('search', () => sleep(7))
    })
    const result = criticalPath(trace)
    assert.deepEqual(names(result.path), [
      'request',
      'session',
      'load-session',
      'memcache',
      'database',
      'search',
    ])
    assert.deepEqual(segmentsOf(trace), [
      ['memcache', 0, 3],
      ['database', 3, 13],
      ['search', 13, 20],
    ])
    // rate-limits ends at 8 and could run on until search starts at 13.
    assert.equal(slackByName(trace)['rate-limits'], 5)
  })

  test("time no child covers is the span's own", async () => {
    const trace = await record(async (s) => {
      await sleep(4) // the request's own work, untraced
      await s.spawn('fetch', () => sleep(10))
      await sleep(6)
    })
    assert.deepEqual(segmentsOf(trace), [
      ['request', 0, 4],
      ['fetch', 4, 14],
      ['request', 14, 20],
    ])
  })

  test('a failed request still has a critical path, through the failure', async () => {
    const trace = await record(async (s) => {
      s.spawn('slow', () => sleep(100))
      s.spawn('fails', async () => {
        await sleep(7)
        throw new Error('boom')
      })
    })
    const result = criticalPath(trace)
    assert.equal(result.duration, 7)
    // `slow` is cancelled by the failure and ends at the same instant: the failure is what set the end.
    assert.deepEqual(names(result.path), ['request', 'fails'])
    assert.equal(slackByName(trace).slow, 0)
  })
})

describe('criticalPath on hand-built traces', () => {
  test('a child still running when the walk reaches its end is beside the path, not on it', () => {
    const spans = [span('p', undefined, 0, 20), span('a', 'p', 0, 10), span('b', 'p', 5, 20)]
    assert.deepEqual(names(criticalPath(spans).path), ['p', 'b'])
    assert.deepEqual(segmentsOf(spans), [
      ['p', 0, 5],
      ['b', 5, 20],
    ])
    assert.equal(criticalPath(spans).slack.get('a'), 10)
  })

  test("an off-path span's slack stops at the start of a later sibling on the path", () => {
    const spans = [
      span('p', undefined, 0, 30),
      span('x', 'p', 0, 5),
      span('c', 'p', 0, 10),
      span('d', 'p', 10, 30),
    ]
    const { path, slack } = criticalPath(spans)
    assert.deepEqual(names(path), ['p', 'c', 'd'])
    assert.equal(slack.get('x'), 5)
  })

  test("an off-path span's slack is bounded by a later off-path sibling's own slack", () => {
    const spans = [
      span('p', undefined, 0, 40),
      span('main', 'p', 0, 40),
      span('x', 'p', 0, 5),
      span('y', 'p', 10, 20), // may end at 40: latest start 30
    ]
    const { slack } = criticalPath(spans)
    assert.equal(slack.get('y'), 20)
    assert.equal(slack.get('x'), 25)
  })

  test('spans under an off-path span share its slack, plus their own', () => {
    const spans = [
      span('p', undefined, 0, 50),
      span('long', 'p', 0, 50),
      span('short', 'p', 0, 20),
      span('inner', 'short', 2, 15),
    ]
    const { slack } = criticalPath(spans)
    assert.equal(slack.get('short'), 30)
    assert.equal(slack.get('inner'), 35)
  })

  test('a trace of only a root is its own critical path', () => {
    const result = criticalPath([span('root', undefined, 0, 12)])
    assert.deepEqual(names(result.path), ['root'])
    assert.equal(result.duration, 12)
    assert.deepEqual(segmentsOf([span('root', undefined, 0, 12)]), [['root', 0, 12]])
    assert.deepEqual([...result.slack], [['root', 0]])
  })

  test('an empty trace has an empty path and a duration of 0', () => {
    assert.deepEqual(criticalPath([]), { path: [], slack: new Map(), duration: 0, segments: [] })
    assert.deepEqual(criticalPath({ traceId: 'x', spans: [] }).path, [])
  })

  test('a span still open runs until the end of the trace', () => {
    const spans = [
      span('root', undefined, 0, 30),
      span('leaked', 'root', 10, undefined),
      span('done', 'root', 0, 10),
    ]
    const result = criticalPath(spans)
    assert.deepEqual(names(result.path), ['root', 'done', 'leaked'])
    assert.deepEqual(segmentsOf(spans), [
      ['done', 0, 10],
      ['leaked', 10, 30],
    ])
  })

  test('while the root is open too, the trace ends at the latest time recorded', () => {
    const spans = [span('root', undefined, 0, undefined), span('a', 'root', 0, 25), span('b', 'root', 5, 10)]
    const result = criticalPath(spans)
    assert.equal(result.duration, 25)
    assert.deepEqual(names(result.path), ['root', 'a'])
  })

  test('a child reaching outside its parent is clipped to it', () => {
    const spans = [
      span('root', undefined, 10, 40),
      span('early', 'root', 0, 20), // started before its parent (clock skew)
      span('late', 'root', 30, 90), // outlived its parent
    ]
    const result = criticalPath(spans)
    assert.equal(result.duration, 30)
    assert.deepEqual(segmentsOf(spans), [
      ['early', 10, 20],
      ['root', 20, 30],
      ['late', 30, 40],
    ])
  })

  test('zero-length spans that end where the path arrives are on it', () => {
    const spans = [span('root', undefined, 0, 10), span('check', 'root', 5, 5), span('fetch', 'root', 5, 10)]
    const result = criticalPath(spans)
    assert.deepEqual(names(result.path), ['root', 'check', 'fetch'])
    assert.deepEqual(segmentsOf(spans), [
      ['root', 0, 5],
      ['fetch', 5, 10],
    ])
  })

  test('ties go to the span not cancelled, then the longer, then the one created first, whatever the input order', () => {
    const spans = [
      span('root', undefined, 0, 10),
      span('s2', 'root', 0, 10),
      span('s1', 'root', 0, 10),
      span('short', 'root', 4, 10),
      span('cancelled', 'root', 0, 10, { status: 'cancelled' }),
    ]
    for (const order of [spans, [...spans].reverse(), [spans[2], spans[4], spans[0], spans[3], spans[1]]]) {
      const result = criticalPath(order as typeof spans)
      assert.deepEqual(names(result.path), ['root', 's1'])
      assert.deepEqual(Object.fromEntries(result.slack), { root: 0, s1: 0, s2: 0, short: 0, cancelled: 0 })
    }
  })

  test('spans whose parent is missing hang from the root', () => {
    const spans = [span('root', undefined, 0, 10), span('lost', 'gone', 2, 30), span('a', 'root', 0, 4)]
    const result = criticalPath(spans)
    assert.deepEqual(names(result.path), ['root', 'lost'])
    assert.deepEqual(segmentsOf(spans), [
      ['root', 0, 2],
      ['lost', 2, 10],
    ])
  })

  test('a partial trace without its root is rooted at its earliest span', () => {
    const spans = [span('b', 'gone', 5, 20), span('a', 'gone', 0, 10)]
    const result = criticalPath(spans)
    assert.equal(result.path[0]?.name, 'a')
    assert.equal(result.duration, 10)
  })

  test('a Trace, its JSON form and its spans give the same result', async () => {
    const trace = await record(async (s) => {
      s.spawn('a', () => sleep(3))
      await s.spawn('b', () => sleep(5))
    })
    const fromTrace = criticalPath(trace)
    assert.deepEqual(criticalPath(trace.toJSON()), fromTrace)
    assert.deepEqual(criticalPath(trace.toJSON().spans), fromTrace)
    // JSON drops the root's undefined parentId; everything else survives the round trip.
    const fromJson = criticalPath(JSON.parse(JSON.stringify(trace)))
    assert.deepEqual(names(fromJson.path), names(fromTrace.path))
    assert.deepEqual(fromJson.slack, fromTrace.slack)
    assert.deepEqual(segmentsOf(JSON.parse(JSON.stringify(trace))), segmentsOf(trace))
  })

  test('traces nested deeper than the call stack are walked without overflowing it', () => {
    const depth = 50_000
    const spans = [span('s0', undefined, 0, depth * 2)]
    for (let i = 1; i < depth; i++) spans.push(span(`s${i}`, `s${i - 1}`, i, depth * 2 - i))
    const result = criticalPath(spans)
    assert.equal(result.path.length, depth)
    assert.equal(result.segments.length, 2 * depth - 1)
  })
})
