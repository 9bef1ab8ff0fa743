import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseTrace, sleep } from 'weft'
import { record, span } from './helpers.ts'

test('a trace survives JSON and parseTrace unchanged', async () => {
  const trace = await record(async (s) => {
    s.spawn('fails', async () => {
      await sleep(2)
      throw new Error('boom')
    })
    s.spawn('cancelled', () => sleep(10))
    const attributed = s.spawn('attributed', async () => 1)
    await attributed
  })
  trace.spans[0]?.setAttribute('http.route', '/search').setAttribute('shards', [1, 2])
  const parsed = parseTrace(JSON.parse(JSON.stringify(trace)))
  assert.deepEqual(parsed, trace.toJSON())
  assert.deepEqual(
    parsed.spans.map((s) => s.status),
    ['error', 'error', 'cancelled', 'ok'],
  )
})

test('parseTrace() reads JSON text as well as parsed values', async () => {
  const trace = await record(async (s) => {
    await s.spawn('a', () => sleep(1))
  })
  assert.deepEqual(parseTrace(JSON.stringify(trace)), trace.toJSON())
})

test('an open span (no end) and a root (no parent) read back as undefined, from absent or null', () => {
  const open = { ...span('a', 'root', 1, undefined), end: null }
  const root = { ...span('root', undefined, 0, 5), parentId: null }
  const parsed = parseTrace({ traceId: 'trace', spans: [root, open] })
  assert.equal(parsed.spans[0]?.parentId, undefined)
  assert.equal(parsed.spans[1]?.end, undefined)
  assert.ok('end' in (parsed.spans[1] as object), 'the field is there, undefined, as in Span.toJSON()')
})

test('a partial trace, whose spans name parents it lacks, is accepted', () => {
  const parsed = parseTrace({ traceId: 'trace', spans: [span('a', 'gone', 0, 4), span('b', 'a', 1, 2)] })
  assert.equal(parsed.spans.length, 2)
})

test('an empty trace is accepted', () => {
  assert.deepEqual(parseTrace({ traceId: 'trace', spans: [] }), { traceId: 'trace', spans: [] })
})

test('parseTrace() keeps no reference to its input', () => {
  const ids = ['a']
  const parsed = parseTrace({
    traceId: 'trace',
    spans: [span('root', undefined, 0, 5, { attributes: { ids } })],
  })
  ids.push('b')
  assert.deepEqual(parsed.spans[0]?.attributes, { ids: ['a'] })
})

test('fields parseTrace() does not know are dropped, not refused', () => {
  const parsed = parseTrace({
    traceId: 'trace',
    version: 2,
    spans: [{ ...span('root', undefined, 0, 5), links: [] }],
  })
  assert.equal('links' in (parsed.spans[0] as object), false)
})
