import assert from 'node:assert/strict'
import { test } from 'node:test'
import { renderWaterfall, type SpanData, sleep, waterfallLayout } from 'weft'
import { record, span } from './helpers.ts'

const search: SpanData[] = [
  span('request', undefined, 0, 40),
  span('session', 'request', 0, 10),
  span('memcache', 'session', 0, 2),
  span('database', 'session', 2, 10),
  span('geocode', 'request', 0, 30, { status: 'error', error: 'Error: timeout' }),
  span('retry', 'geocode', 20, undefined),
  span('search', 'request', 10, 40),
  span('query-1', 'search', 10, 25, { status: 'cancelled' }),
  span('query-2', 'search', 10, 40),
]

test('draws one line per span on a shared time axis, marking the critical path, outcomes and slack', () => {
  assert.equal(
    renderWaterfall(search, { width: 72 }),
    [
      'request · 40.0 ms · 9 spans · trace trace',
      'critical path: request > session > memcache > database > search >',
      '               query-2',
      '                                  0                             40.0 ms',
      '* request      40.0 ms           │█████████████████████████████████████│',
      '    geocode    30.0 ms error     │████████████████████████████·········│',
      '      retry    10.0 ms open      │                   █████████·········│',
      '*   session    10.0 ms           │█████████                            │',
      '*     memcache 2.00 ms           │██                                   │',
      '*     database 8.00 ms           │  ███████                            │',
      '*   search     30.0 ms           │         ████████████████████████████│',
      '      query-1  15.0 ms cancelled │         ██████████████··············│',
      '*     query-2  30.0 ms           │         ████████████████████████████│',
    ].join('\n'),
  )
})

test('every line fits the width asked for', () => {
  for (const width of [40, 72, 100, 160]) {
    for (const line of renderWaterfall(search, { width }).split('\n').slice(1)) {
      assert.ok(line.length <= width, `${JSON.stringify(line)} fits in ${width}`)
    }
  }
})

test('names too long for a third of the width are cut with an ellipsis', () => {
  const spans = [span('request', undefined, 0, 10), span('a-very-long-task-name-indeed', 'request', 0, 5)]
  assert.deepEqual(renderWaterfall(spans, { width: 40 }).split('\n').slice(1), [
    'critical path: request >',
    '               a-very-long-task-name-indeed',
    '                         0      10.0 ms',
    '* request       10.0 ms │██████████████│',
    '*   a-very-lon… 5.00 ms │███████       │',
  ])
})

test('with colour, the critical path is bold red, other bars cyan, slack dim, outcomes coloured', () => {
  const spans = [
    span('request', undefined, 0, 10),
    span('slow', 'request', 0, 10),
    span('failed', 'request', 0, 5, { status: 'error' }),
  ]
  assert.deepEqual(renderWaterfall(spans, { width: 48, color: true }).split('\n').slice(3), [
    '* \x1b[1mrequest \x1b[0m 10.0 ms       │\x1b[1;31m█████████████████████\x1b[0m│',
    '    failed 5.00 ms \x1b[31merror\x1b[0m │\x1b[36m███████████\x1b[0m\x1b[2m··········\x1b[0m│',
    '* \x1b[1m  slow  \x1b[0m 10.0 ms       │\x1b[1;31m█████████████████████\x1b[0m│',
  ])
})

test('a zero-length span is a thin mark where it happened', () => {
  const spans = [
    span('request', undefined, 0, 10),
    span('check', 'request', 5, 5),
    span('fetch', 'request', 5, 10),
  ]
  assert.equal(
    renderWaterfall(spans, { width: 40 }).split('\n')[4],
    '*   check 0.00 ms │          ▏         │',
  )
})

test('a trace of a root alone, and a root that took no time, still draw', () => {
  assert.deepEqual(renderWaterfall([span('request', undefined, 0, 0)], { width: 40 }).split('\n'), [
    'request · 0.00 ms · 1 span · trace trace',
    'critical path: request',
    '                   0            0.00 ms',
    '* request 0.00 ms │▏                   │',
  ])
})

test('an empty trace says so', () => {
  assert.equal(renderWaterfall([]), 'no spans')
})

test('durations read in ms below a second and in seconds above', async () => {
  const trace = await record(async (s) => {
    s.spawn('quick', () => sleep(0.25))
    s.spawn('slow', () => sleep(1500))
  })
  const text = renderWaterfall(trace)
  assert.match(text, /^request · 1\.50 s · 3 spans/)
  assert.match(text, /quick +0\.25 ms/)
  assert.match(text, /slow +1\.50 s/)
})

test('the same trace always draws the same, live or from JSON', async () => {
  const trace = await record(async (s) => {
    s.spawn('a', () => sleep(3))
    await s.spawn('b', () => sleep(5))
  })
  assert.equal(renderWaterfall(JSON.parse(JSON.stringify(trace))), renderWaterfall(trace))
})

test('the layout puts siblings running at once in different lanes, and reuses a lane once it is free', () => {
  const layout = waterfallLayout(search)
  assert.ok(layout !== undefined)
  assert.deepEqual(
    layout.rows.map(({ span, start, end, critical, slack, lane, lanes }) => [
      span.name,
      start,
      end,
      critical,
      slack,
      lane,
      lanes,
    ]),
    [
      ['request', 0, 40, true, 0, 0, 1],
      ['geocode', 0, 30, false, 10, 0, 2],
      ['retry', 20, 30, false, 10, 0, 1],
      ['session', 0, 10, true, 0, 1, 2],
      ['memcache', 0, 2, true, 0, 0, 1],
      ['database', 2, 10, true, 0, 0, 1],
      ['search', 10, 40, true, 0, 1, 2], // in the lane the session left
      ['query-1', 10, 25, false, 15, 0, 2],
      ['query-2', 10, 40, true, 0, 1, 2],
    ],
  )
  assert.equal(layout.rows.find((row) => row.span.name === 'retry')?.duration, 10, 'open: until the end')
  assert.equal(waterfallLayout([]), undefined)
  assert.throws(() => waterfallLayout({} as never), /waterfallLayout\(\): trace must be/)
})
