// The OTLP export keeps weft's ids, so that the parts of one trace recorded by different processes
// join up in the collector; and it is on only when an endpoint is configured.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { scope, type Trace } from 'weft'
import { otlpExport, otlpFromEnv } from '../../../service/observability/otlp.ts'

test('exported spans keep weft trace and span ids, and a continued trace hangs from its remote caller', async () => {
  const exporter = new InMemorySpanExporter()
  const otlp = otlpExport({
    serviceName: 'weft-test',
    processor: new SimpleSpanProcessor(exporter),
    env: {},
  })
  const caller = { traceId: 'a1'.repeat(16), spanId: 'b2'.repeat(8), sampled: true }
  let recorded: Trace | undefined
  await scope(
    {
      name: 'GET /geocode',
      kind: 'server',
      traceParent: caller,
      trace: (trace) => {
        recorded = trace
        otlp.onTrace(trace)
      },
    },
    async (s) => {
      await s.spawn('lookup', async () => 'Lisbon')
    },
  )
  const spans = exporter.getFinishedSpans() // before shutdown, which empties the exporter
  await otlp.shutdown()
  assert.deepEqual(
    spans.map((span) => [span.name, span.spanContext().traceId, span.spanContext().spanId]),
    recorded?.spans.map((span) => [span.name, caller.traceId, span.spanId]),
  )
  const [root, lookup] = spans
  assert.equal(root?.parentSpanContext?.spanId, caller.spanId, "the root's parent is the caller's span")
  assert.equal(root?.parentSpanContext?.isRemote, true)
  assert.equal(lookup?.parentSpanContext?.spanId, root?.spanContext().spanId)
  assert.equal(root?.resource.attributes['service.name'], 'weft-test')
})

test('a trace begun here keeps its weft trace id; OTEL_SERVICE_NAME names the service', async () => {
  const exporter = new InMemorySpanExporter()
  const otlp = otlpExport({
    serviceName: 'weft-test',
    processor: new SimpleSpanProcessor(exporter),
    env: { OTEL_SERVICE_NAME: 'search-eu-1' },
  })
  let recorded: Trace | undefined
  const listener = (trace: Trace): void => {
    recorded = trace
    otlp.onTrace(trace)
  }
  await scope({ name: 'request', trace: listener }, async () => {})
  const [root] = exporter.getFinishedSpans()
  await otlp.shutdown()
  assert.equal(root?.spanContext().traceId, recorded?.id)
  assert.equal(root?.parentSpanContext, undefined)
  assert.equal(otlp.serviceName, 'search-eu-1')
  assert.equal(root?.resource.attributes['service.name'], 'search-eu-1')
})

test('no OTLP endpoint in the environment, no export', () => {
  assert.equal(otlpFromEnv('weft-search', {}), undefined)
  assert.equal(otlpFromEnv('weft-search', { OTEL_EXPORTER_OTLP_ENDPOINT: ' ' }), undefined)
  const on = otlpFromEnv('weft-search', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })
  assert.equal(on?.serviceName, 'weft-search')
  return on?.shutdown()
})
