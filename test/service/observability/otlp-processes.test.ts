// End to end, as deployed: the service, the geocoder and the worker as three processes exporting over
// OTLP/HTTP to a receiver of the test's own; one search; the receiver gets spans of the three services
// in the request's one trace, each process's part hanging from the span of its caller.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer, type IncomingMessage } from 'node:http'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, test } from 'node:test'
import { createTestDatabase } from 'weft/testing'
import { lisbonVisitor } from '../fixtures.ts'

const root = join(import.meta.dirname, '..', '..', '..')

/** A span as the OTLP/HTTP JSON encoding carries it, with its process's service name. */
interface ReceivedSpan {
  service: string
  traceId: string
  spanId: string
  parentSpanId: string | undefined
  name: string
  kind: number
}

interface OtlpJson {
  resourceSpans: {
    resource: { attributes: { key: string; value: { stringValue?: string } }[] }
    scopeSpans: {
      spans: { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number }[]
    }[]
  }[]
}

/** A minimal OTLP/HTTP receiver: POST /v1/traces, JSON (what @opentelemetry/exporter-trace-otlp-http sends). */
async function startReceiver() {
  const spans: ReceivedSpan[] = []
  const read = async (request: IncomingMessage) => {
    const chunks: Buffer[] = []
    for await (const chunk of request) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  }
  const server = createServer((request, response) => {
    read(request).then((body) => {
      if (request.method !== 'POST' || request.url !== '/v1/traces') {
        response.writeHead(404).end()
        return
      }
      assert.match(request.headers['content-type'] ?? '', /^application\/json/)
      for (const { resource, scopeSpans } of (JSON.parse(body) as OtlpJson).resourceSpans) {
        const service = resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '?'
        for (const { spans: batch } of scopeSpans) {
          for (const span of batch) {
            spans.push({
              service,
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId || undefined,
              name: span.name,
              kind: span.kind,
            })
          }
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}`, spans, close: () => server.close() }
}

const children = new Set<ChildProcess>()
after(() => {
  for (const child of children) child.kill('SIGKILL')
})

/** Starts a script of the service with `env`; resolves with its first stdout line. */
async function start(
  script: string,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, ['--conditions=source', script], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: '', MEMCACHE_SERVERS: '', REDIS_URL: '', GEOCODER_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  let stderr = ''
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk)
  })
  const exited = once(child, 'exit').then(([code]) => assert.fail(`${script} exited with ${code}: ${stderr}`))
  const [line] = (await Promise.race([once(createInterface({ input: child.stdout! }), 'line'), exited])) as [
    string,
  ]
  return { child, line }
}

/** SIGTERM: each process flushes its spans on the way out. */
async function stop(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const [code] = await exited
  children.delete(child)
  assert.equal(code, 0)
}

test('one search: the spans of the service, the geocoder and the worker arrive over OTLP in one trace, linked to their callers', {
  timeout: 120_000,
}, async () => {
  const receiver = await startReceiver()
  after(() => receiver.close())
  await using database = await createTestDatabase()
  // Batches leave every 100 ms rather than every 5 s: the test waits for them, then stops the processes.
  const otlp = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' }

  const geocoder = await start('service/geocoder/main.ts', { ...otlp, GEOCODER_PORT: '0' })
  const geocoderUrl = /^geocoder listening on (http:\S+)$/.exec(geocoder.line)?.[1]
  assert.ok(geocoderUrl, geocoder.line)
  const service = await start('service/main.ts', {
    ...otlp,
    DATABASE_URL: database.url,
    GEOCODER_URL: geocoderUrl,
    WORKERS: '0',
    PORT: '0',
    TRUST_PROXY: '1',
  })
  const serviceUrl = /^weft search listening on (http:\S+)$/.exec(service.line)?.[1]
  assert.ok(serviceUrl, service.line)
  const worker = await start('service/worker-main.ts', { ...otlp, DATABASE_URL: database.url })

  const response = await fetch(`${serviceUrl}/search?q=lisb&limit=3`, {
    headers: { 'x-forwarded-for': lisbonVisitor },
  })
  assert.equal(response.status, 200)
  const traceId = response.headers.get('x-trace-id') as string
  assert.match(traceId, /^[0-9a-f]{32}$/)

  // The request's own part is exported once its scope ends (after the response: its last enqueues), the
  // worker's once it ran the tasks: wait for both, then stop the three processes (each flushes, exit 0).
  const deadline = Date.now() + 20_000
  const arrived = (service: string, kind: number) =>
    receiver.spans.some((span) => span.traceId === traceId && span.service === service && span.kind === kind)
  while (!(arrived('weft-search', 2 /* SERVER */) && arrived('weft-worker', 5 /* CONSUMER */))) {
    if (Date.now() > deadline) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await Promise.all([stop(service.child), stop(geocoder.child), stop(worker.child)])

  const spans = receiver.spans.filter((span) => span.traceId === traceId)
  const services = new Set(spans.map((span) => span.service))
  assert.deepEqual([...services].sort(), ['weft-geocoder', 'weft-search', 'weft-worker'])
  const byId = new Map(spans.map((span) => [span.spanId, span]))
  // Every span but the request's root hangs from a span of the same trace, whatever process sent it.
  const roots = spans.filter((span) => span.parentSpanId === undefined)
  assert.deepEqual(
    roots.map((span) => [span.service, span.name]),
    [['weft-search', 'GET /search']],
  )
  for (const span of spans) {
    if (span.parentSpanId !== undefined)
      assert.ok(byId.has(span.parentSpanId), `${span.name}: parent missing`)
  }
  // The geocoder's server span hangs from the service's RPC client span; each delivery from its enqueue.
  const geocoderRoot = spans.find((span) => span.service === 'weft-geocoder' && span.kind === 2 /* SERVER */)
  const caller = byId.get(geocoderRoot?.parentSpanId as string)
  assert.equal(caller?.service, 'weft-search')
  assert.equal(caller?.kind, 3 /* CLIENT */)
  const deliveries = spans.filter((span) => span.service === 'weft-worker' && span.kind === 5)
  assert.ok(deliveries.length >= 1)
  for (const delivery of deliveries) {
    const producer = byId.get(delivery.parentSpanId as string)
    assert.equal(producer?.service, 'weft-search')
    assert.equal(producer?.kind, 4 /* PRODUCER */)
  }
})
