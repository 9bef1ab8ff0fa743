// TRACE_RECORD_PER_SECOND: searches over the bound are not traced at all, yet a failed or slow one is
// still kept, as a trace of its request alone. Each test opens the process's only server: tracing is
// process-wide, set by the first server open.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { SpanData } from 'weft'
import { embeddedDatabase } from 'weft/sql'
import { loadConfig } from '../../service/config.ts'
import type { TraceSummary } from '../../service/traces.ts'
import { lisbonVisitor, loadTestData } from './fixtures.ts'
import { startService } from './support.ts'

const db = embeddedDatabase()
before(() => loadTestData(db))
after(() => db.close())

test('TRACE_RECORD_PER_SECOND=0: no search is traced; a failed one is kept as its request alone', async () => {
  // Nothing counts as slow: a first search on a cold service may take half a second.
  const env = { TRACE_RECORD_PER_SECOND: '0', TRACE_SLOW_MS: '600000' }
  await using service = await startService({ db, worker: false, env })
  const ok = await service.search(lisbonVisitor, { q: 'lisb' })
  assert.equal(ok.status, 200)
  assert.equal(ok.headers.get('x-trace-id'), null)
  assert.equal(ok.body.traceId, null)
  const refused = await service.search(lisbonVisitor, { q: 'lisb', limit: '99' })
  assert.equal(refused.status, 400)

  const listed: TraceSummary[] = (await service.get('/_weft/traces')).body.traces
  assert.deepEqual(
    listed.map(({ name, query, status, spans, kept }) => ({ name, query, status, spans, kept })),
    [{ name: 'GET /search', query: 'q=lisb&limit=99', status: 'error', spans: 1, kept: 'error' }],
    'the successful search, not slow, is not kept',
  )
  const spans: SpanData[] = (await service.get(`/_weft/traces/${listed[0]?.traceId}`)).body.spans
  assert.equal(spans.length, 1)
  assert.equal(spans[0]?.kind, 'server')
  assert.equal(spans[0]?.status, 'error')
  assert.match(spans[0]?.error ?? '', /limit/)
  assert.deepEqual(spans[0]?.attributes, { 'url.query': 'q=lisb&limit=99', 'weft.recorded': false })
  assert.ok((spans[0]?.end ?? 0) >= (spans[0]?.start ?? Number.POSITIVE_INFINITY))
})

test('a search not traced that is slow is kept, as its request alone', async () => {
  await using service = await startService({
    db,
    worker: false,
    env: { TRACE_RECORD_PER_SECOND: '0', TRACE_SLOW_MS: '0' },
  })
  const ok = await service.search(lisbonVisitor, { q: 'porto' })
  assert.equal(ok.status, 200)
  const listed: TraceSummary[] = (await service.get('/_weft/traces')).body.traces
  assert.deepEqual(
    listed.map(({ query, status, spans, kept }) => ({ query, status, spans, kept })),
    [{ query: 'q=porto', status: 'ok', spans: 1, kept: 'slow' }],
  )
})

test('TRACE_RECORD_PER_SECOND=1 traces one search, then one a second', async () => {
  await using service = await startService({ db, worker: false, env: { TRACE_RECORD_PER_SECOND: '1' } })
  const started = performance.now()
  const answers = []
  for (let i = 0; i < 6; i++) answers.push(await service.search(lisbonVisitor, { q: 'lisb' }))
  const seconds = (performance.now() - started) / 1000
  const traced = answers.filter((answer) => answer.headers.get('x-trace-id') !== null).length
  assert.ok(answers.every((answer) => answer.status === 200))
  assert.ok(answers[0]?.headers.get('x-trace-id'), 'the first is within the burst')
  // A burst of 1, then 1 a second (test/trace/per-second.test.ts checks exact counts on the virtual clock).
  assert.ok(traced >= 1 && traced <= 1 + Math.floor(seconds), `${traced} of 6 traced in ${seconds} s`)
})

test('TRACE_RECORD_PER_SECOND is a whole number from 0; by default 50 searches are traced a second', () => {
  assert.equal(loadConfig({}).traceRecordPerSecond, 50)
  assert.equal(loadConfig({ TRACE_RECORD_PER_SECOND: '25' }).traceRecordPerSecond, 25)
  for (const text of ['-1', '2.5', 'lots', '1000001']) {
    assert.throws(
      () => loadConfig({ TRACE_RECORD_PER_SECOND: text }),
      /^ConfigError: TRACE_RECORD_PER_SECOND must be a whole number from 0 to 1000000/,
    )
  }
})
