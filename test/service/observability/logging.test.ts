// The service's log, captured from its pino destination: one line per request at info, with the trace
// id the response names; the pipeline's warnings carry the request's trace id; backend calls log nothing
// above debug.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BackendUnavailable } from 'weft'
import { embeddedDatabase } from 'weft/sql'
import { serviceLogger } from '../../../service/observability/index.ts'
import { lisbonVisitor, loadTestData, serpaVisitor } from '../fixtures.ts'
import { eventually, startService } from '../support.ts'

interface Line {
  level: number
  msg: string
  [field: string]: unknown
}

/** A logger writing parsed lines into an array. */
function capture(level: string): { lines: Line[]; logger: ReturnType<typeof serviceLogger> } {
  const lines: Line[] = []
  const logger = serviceLogger({
    level,
    destination: { write: (text: string) => lines.push(JSON.parse(text)) },
  })
  return { lines, logger }
}

test('one info line per request, with method, route, status, duration and the trace id the response names', async () => {
  await using db = embeddedDatabase()
  await loadTestData(db)
  const { lines, logger } = capture('info')
  await using service = await startService({ db, worker: false, server: () => ({ logger }) })
  lines.splice(0) // fastify's line on listening
  const found = await service.search(lisbonVisitor, { q: 'lisb' })
  const refused = await service.search(serpaVisitor, { q: '' })
  assert.equal(found.status, 200)
  assert.equal(refused.status, 400)
  await service.get('/healthz')

  assert.deepEqual(
    lines.map((line) => [line.level, line.msg, line.route, line.status]),
    [
      [30, 'request', '/search', 200],
      [30, 'request', '/search', 400],
      [30, 'request', '/healthz', 200],
    ],
    'nothing else at info: no arrival line, no line per backend call',
  )
  const [first, second] = lines as [Line, Line]
  assert.equal(first.method, 'GET')
  assert.match(String(first.url), /^\/search\?q=lisb/)
  assert.ok(typeof first.ms === 'number' && first.ms > 0)
  assert.equal(first.traceId, found.headers.get('x-trace-id'))
  assert.match(String(first.spanId), /^[0-9a-f]{16}$/)
  assert.equal(second.traceId, refused.headers.get('x-trace-id'))
})

test("the pipeline's warnings carry the request's trace id; backend calls log nothing even at debug", async () => {
  await using db = embeddedDatabase()
  await loadTestData(db)
  const { lines, logger } = capture('debug')
  await using service = await startService({
    db,
    worker: false,
    server: () => ({ logger }),
    // The queue is down: saving the session fails after the answer, a side effect the pipeline warns of.
    wrap: (backends) => ({
      ...backends,
      queue: {
        enqueue: async () => {
          throw new BackendUnavailable('queue down', { backend: 'queue', address: 'nowhere' })
        },
      },
    }),
  })
  lines.splice(0) // fastify's line on listening
  const found = await service.search(lisbonVisitor, { q: 'lisb' })
  assert.equal(found.status, 200)
  const traceId = found.headers.get('x-trace-id')
  // The enqueues of the last step may fail after the response.
  const warnings = await eventually(async () => {
    const seen = lines.filter((line) => line.level === 40)
    assert.ok(seen.length >= 1, JSON.stringify(lines))
    return seen
  })
  for (const warning of warnings) {
    assert.match(warning.msg, /^side effect ".*" failed$/)
    assert.equal(warning.traceId, traceId)
    assert.match(String(warning.spanId), /^[0-9a-f]{16}$/)
  }
  const others = lines.filter((line) => line.level !== 40 && line.msg !== 'request')
  assert.deepEqual(others, [], 'no other line, at any level')
})
