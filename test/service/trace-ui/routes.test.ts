// The trace routes of the search service on its embedded defaults, over real HTTP: the JSON API, the
// pages a browser gets, the list's filters, sampling from the environment, and escaping.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { embeddedDatabase } from 'weft/sql'
import type { TraceSummary } from '../../../service/traces.ts'
import { lisbonVisitor, loadTestData, serpaVisitor } from '../fixtures.ts'
import { startService, type TestService } from '../support.ts'

const browser = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' }
const hostile = `<script>alert("x")</script>'&`

const db = embeddedDatabase()
let service: TestService
before(async () => {
  await loadTestData(db)
  service = await startService({ db, worker: false })
})
after(async () => {
  await service.close()
  await db.close()
})

describe('GET /_weft/traces/:id', () => {
  test('answers JSON to API clients as before, and the waterfall page to a browser', async () => {
    const search = await service.search(lisbonVisitor, { q: 'lisb' })
    const id = search.body.traceId
    for (const headers of [{}, { accept: 'application/json' }, { accept: '*/*' }]) {
      const json = await service.get(`/_weft/traces/${id}`, headers)
      assert.equal(json.status, 200)
      assert.equal(json.body.traceId, id)
      assert.ok(json.body.spans.some((span: { name: string }) => span.name === 'geocode'))
    }
    assert.equal((await service.get(`/_weft/traces/${id}?format=json`, browser)).body.traceId, id)

    const page = await service.get(`/_weft/traces/${id}`, browser)
    assert.equal(page.status, 200)
    assert.match(page.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/)
    assert.equal(page.headers.get('vary'), 'Accept', 'caches keep the two answers apart')
    const nonce = /script-src 'nonce-([^']+)'/.exec(page.headers.get('content-security-policy') ?? '')?.[1]
    assert.ok(nonce !== undefined, "a policy allowing only the page's own script")
    assert.deepEqual(
      [...page.body.matchAll(/<(script|style)\b[^>]*>/g)].map((tag) => tag[0].includes(`nonce="${nonce}"`)),
      [true, true],
    )
    for (const step of ['GET /search', 'geocode', 'rate limits', 'session', 'query text', 'finish']) {
      assert.match(page.body, new RegExp(`data-span-name="${step}"`), `the waterfall shows "${step}"`)
    }
    assert.ok((page.body.match(/data-critical="true"/g) ?? []).length >= 3, 'the critical path is marked')
    assert.match(page.body, /class="tick"/)
    assert.equal(
      (await service.get(`/_weft/traces/${id}?format=html`)).headers.get('content-type')?.split(';')[0],
      'text/html',
    )
  })

  test('a malformed id is a 400 and an unknown one a 404: JSON for API clients, a page for a browser', async () => {
    const bad = await service.get('/_weft/traces/XYZ')
    assert.equal(bad.status, 400)
    assert.equal(bad.body.code, 'INVALID_TRACE_ID')
    const badPage = await service.get('/_weft/traces/XYZ', browser)
    assert.equal(badPage.status, 400)
    assert.match(badPage.body, /data-code="INVALID_TRACE_ID"/)
    const unknown = await service.get(`/_weft/traces/${'ab'.repeat(16)}`)
    assert.equal(unknown.status, 404)
    assert.equal(unknown.body.code, 'NOT_FOUND')
    const unknownPage = await service.get(`/_weft/traces/${'ab'.repeat(16)}`, browser)
    assert.equal(unknownPage.status, 404)
    assert.match(unknownPage.body, /no trace abab/)
    const format = await service.get(`/_weft/traces/${'ab'.repeat(16)}?format=xml`, browser)
    assert.equal(format.status, 400)
    assert.equal(format.body.code, 'INVALID_FORMAT')
    assert.match(format.body.message, /format must be one of json, html, got "xml"/)
  })
})

describe('GET /_weft/traces', () => {
  test('lists the requests kept, slowest first, with their outcome, and filters by it', async () => {
    const ok = await service.search(serpaVisitor, { q: 'serpa' })
    const failed = await service.search(serpaVisitor, { q: 'serpa', limit: '0' })
    assert.equal(failed.status, 400)
    const failedId = failed.headers.get('x-trace-id')
    const all: TraceSummary[] = (await service.get('/_weft/traces')).body.traces
    assert.ok(all.length >= 2)
    const durations = all.map((trace) => trace.duration)
    assert.deepEqual(
      durations,
      [...durations].sort((a, b) => b - a),
      'slowest first',
    )
    const mine = all.find((trace) => trace.traceId === ok.body.traceId)
    assert.equal(mine?.name, 'GET /search')
    assert.equal(mine?.query, 'q=serpa')
    assert.equal(mine?.status, 'ok')
    assert.ok((mine?.spans ?? 0) > 20)
    assert.ok(
      all.every((trace) => !trace.name.includes('/_weft/')),
      "the trace pages' own requests are not listed",
    )

    const errors: TraceSummary[] = (await service.get('/_weft/traces?status=error')).body.traces
    assert.ok(errors.some((trace) => trace.traceId === failedId && trace.kept === 'error'))
    assert.ok(errors.every((trace) => trace.status === 'error'))
    const oks: TraceSummary[] = (await service.get('/_weft/traces?status=ok&limit=1')).body.traces
    assert.equal(oks.length, 1)
    assert.equal(oks[0]?.status, 'ok')

    const page = await service.get('/_weft/traces', browser)
    assert.equal(page.status, 200)
    assert.match(page.body, new RegExp(`<a href="/_weft/traces/${ok.body.traceId}">GET /search</a>`))
    const errorPage = await service.get('/_weft/traces?status=error', browser)
    assert.ok(!errorPage.body.includes(ok.body.traceId), 'the filter applies to the page too')
    assert.ok(errorPage.body.includes(failedId as string))
  })

  test('a bad filter is a 400 naming it', async () => {
    for (const [query, code, message] of [
      ['status=failed', 'INVALID_TRACE_STATUS', /status must be one of ok, error, cancelled, got "failed"/],
      ['status=ok&status=error', 'INVALID_TRACE_STATUS', /status must be one of .* got it more than once/],
      ['limit=0', 'INVALID_LIMIT', /limit must be a whole number from 1 to 1000/],
      ['limit=ten', 'INVALID_LIMIT', /limit must be/],
      ['format=yaml', 'INVALID_FORMAT', /format must be one of json, html/],
    ] as const) {
      const response = await service.get(`/_weft/traces?${query}`)
      assert.equal(response.status, 400, query)
      assert.equal(response.body.code, code, query)
      assert.match(response.body.message, message, query)
    }
  })
})

test('what a visitor typed is escaped on both pages', async () => {
  const search = await service.search(lisbonVisitor, { q: hostile })
  assert.equal(search.status, 200)
  const id = search.body.traceId
  const list = (await service.get('/_weft/traces', browser)).body as string
  const page = (await service.get(`/_weft/traces/${id}`, browser)).body as string
  for (const html of [list, page]) {
    assert.ok(!html.includes('<script>alert'), 'no markup from the query')
    assert.ok(html.includes('q=&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&amp;'))
  }
})

test('TRACE_SAMPLE_RATE=0 keeps only the failed and the slow; TRACE_SLOW_MS=0 makes every request slow', async () => {
  await using sampled = await startService({ db, worker: false, env: { TRACE_SAMPLE_RATE: '0' } })
  const ok = await sampled.search(lisbonVisitor, { q: 'lisb' })
  const failed = await sampled.search(lisbonVisitor, { q: 'lisb', limit: '99' })
  assert.equal((await sampled.get(`/_weft/traces/${ok.body.traceId}`)).status, 404)
  assert.equal((await sampled.get(`/_weft/traces/${failed.headers.get('x-trace-id')}`)).status, 200)
  await sampled.close()

  await using slow = await startService({
    db,
    worker: false,
    env: { TRACE_SAMPLE_RATE: '0', TRACE_SLOW_MS: '0' },
  })
  const kept = await slow.search(lisbonVisitor, { q: 'lisb' })
  const listed: TraceSummary[] = (await slow.get('/_weft/traces')).body.traces
  assert.deepEqual(
    listed.map((trace) => [trace.traceId, trace.kept]),
    [[kept.body.traceId, 'slow']],
  )
})

test('TRACE_KEEP_PER_SECOND bounds the ordinary requests kept, and the list page says what is kept', async () => {
  await using bounded = await startService({ db, worker: false, env: { TRACE_KEEP_PER_SECOND: '2' } })
  const started = performance.now()
  const answers = await Promise.all(
    Array.from({ length: 8 }, () => bounded.search(lisbonVisitor, { q: 'lisb' })),
  )
  const found = await Promise.all(answers.map((a) => bounded.get(`/_weft/traces/${a.body.traceId}`)))
  const seconds = (performance.now() - started) / 1000 // by then, every trace was kept or dropped
  const kept = found.filter((response) => response.status === 200).length
  // A burst of 2, then 2 a second (traces.test.ts checks the exact count on the virtual clock).
  assert.ok(kept >= 2 && kept <= 2 + Math.floor(seconds * 2), `${kept} of 8 kept in ${seconds} s`)
  assert.ok(found.every((response) => response.status === 200 || response.status === 404))
  const page = await bounded.get('/_weft/traces', browser)
  assert.match(
    page.body,
    /Keeps the last 200 traces: every request, at most 2 a second, and always the failed, the cancelled and those of 500 ms or more\./,
  )
})
