// The trace pages' pieces on traces built by hand: escaping, what each span's details say, the axis,
// and which clients get HTML.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { FastifyRequest } from 'fastify'
import type { SpanData } from 'weft'
import { escapeHtml, pageFrame } from '../../../service/trace-ui/html.ts'
import { wantsHtml } from '../../../service/trace-ui/routes.ts'
import { spanDetails } from '../../../service/trace-ui/span-details.ts'
import { tickStep, waterfallPage } from '../../../service/trace-ui/waterfall-page.ts'
import { span } from '../../trace/helpers.ts'

const hostile = `<img src=x onerror="alert('x')">&`

const spans: SpanData[] = [
  span('request', undefined, 0, 40, { name: `GET /search ${hostile}` }),
  span('cache', 'request', 0, 10, {
    name: 'memcache.getJson',
    kind: 'client',
    attributes: {
      'db.system': 'memcached',
      'server.address': 'embedded:2',
      'memcache.hit': false,
      key: hostile,
    },
  }),
  span('batch', 'cache', 2, 4, {
    name: 'memcache.batch',
    kind: 'batch',
    attributes: { 'memcache.batch.size': 3, 'memcache.hits': 2, 'memcache.misses': 1 },
  }),
  span('db', 'request', 0, 40, {
    name: hostile,
    status: 'error',
    error: `Error: ${hostile}`,
    attributes: { 'db.system': 'postgresql', 'weft.backend': 'pglite', 'batch.keys': 4, 'batch.loads': 6 },
  }),
  span('geo', 'request', 5, 20, { name: 'geocode', status: 'cancelled', error: 'AbortError: limit said no' }),
]

test('every text from the trace is escaped, in elements and attributes alike', () => {
  const html = waterfallPage('trace', spans, pageFrame())
  assert.ok(!html.includes('<img'), 'no markup from a span')
  assert.ok(!/onerror="/.test(html), 'no attribute from a span')
  assert.match(html, /data-span-name="&lt;img src=x onerror=&quot;alert\(&#39;x&#39;\)&quot;&gt;&amp;"/)
  assert.match(html, /title="[^"]*key: &lt;img src=x onerror=&quot;alert\(&#39;x&#39;\)&quot;&gt;&amp;/)
  assert.match(html, /<h1>GET \/search &lt;img/)
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;')
})

test('rows carry what the browser test and the styles key on: name, nesting, lane, the critical path, slack', () => {
  const html = waterfallPage('trace', spans, pageFrame())
  const rows = [
    ...html.matchAll(
      /<tr class="span ([^"]*)"[^>]*data-depth="(\d)"[^>]*data-lane="(\d)" data-critical="(\w+)" data-slack="([\d.]+)"/g,
    ),
  ]
  assert.deepEqual(
    rows.map(([, classes, depth, lane, critical, slack]) => [
      classes?.split(' ')[0],
      depth,
      lane,
      critical,
      slack,
    ]),
    [
      ['critical', '0', '0', 'true', '0'],
      ['other', '1', '0', 'false', '30'],
      ['other', '2', '0', 'false', '36'], // may end as late as its parent may
      ['critical', '1', '1', 'true', '0'],
      ['other', '1', '2', 'false', '20'],
    ],
  )
  assert.match(html, /class="[^"]*outcome-error/)
  assert.match(html, /class="legend"/)
})

test("a span's details: backend, shard, batch, keys, cache, and how it ended", () => {
  const texts = (index: number) =>
    spanDetails(spans[index] as SpanData).map((detail) => `${detail.kind}: ${detail.text}`)
  assert.deepEqual(texts(1), ['backend: memcached', 'shard: embedded:2', 'cache: miss'])
  assert.deepEqual(texts(2), ['batch: batch of 3', 'cache: 2 hits, 1 miss'])
  assert.deepEqual(texts(3), [
    'backend: postgresql (pglite)',
    'keys: 4 keys from 6 loads',
    `error: Error: ${hostile}`,
  ])
  assert.deepEqual(texts(4), ['cancelled: cancelled: AbortError: limit said no'])
  const rpc = span('rpc', undefined, 0, 1, {
    attributes: { 'rpc.service': 'geocoder', 'server.address': 'geocoder', 'cache.outcome': 'stale' },
  })
  assert.deepEqual(
    spanDetails(rpc).map((detail) => detail.text),
    ['rpc geocoder', 'geocoder', 'stale'],
  )
})

test('the axis steps by 1, 2 or 5 times a power of ten, 5 to 10 ticks', () => {
  assert.deepEqual([40, 91.6, 105, 1, 2500, 0].map(tickStep), [5, 20, 20, 0.2, 500, 0])
  for (const duration of [0.3, 7, 13, 99, 101, 777, 12_345]) {
    const ticks = Math.floor(duration / tickStep(duration)) + 1
    assert.ok(ticks >= 5 && ticks <= 10, `${duration} ms: ${ticks} ticks`)
  }
})

test('HTML goes to whoever lists text/html before JSON, or asks with ?format=html', () => {
  const asks = (accept: string | undefined, format?: string) =>
    wantsHtml({
      headers: { accept },
      query: format === undefined ? {} : { format },
    } as unknown as FastifyRequest)
  assert.equal(asks('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'), true)
  assert.equal(asks('application/json, text/html'), false)
  assert.equal(asks('text/html;q=0, application/json'), false)
  assert.equal(asks('*/*'), false)
  assert.equal(asks(undefined), false)
  assert.equal(asks('application/json', 'html'), true)
  assert.equal(asks('text/html', 'json'), false)
  assert.throws(() => asks('text/html', 'pdf'), /format must be one of json, html, got "pdf"/)
})
