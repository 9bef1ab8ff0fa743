import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import { context, DiagLogLevel, diag, SpanKind, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api'
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import {
  configureTracing,
  exportToOpenTelemetry,
  openTelemetryListener,
  type SpanData,
  scope,
  sleep,
  startSpan,
} from 'weft'
import { record, span, t0 } from './helpers.ts'

let exporter: InMemorySpanExporter
let provider: BasicTracerProvider
let tracer: Tracer

beforeEach(() => {
  exporter = new InMemorySpanExporter()
  provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  tracer = provider.getTracer('weft-test')
})

afterEach(() => provider.shutdown())

/** The exported spans by weft span name. */
function exportedByName(): Map<string, ReadableSpan> {
  return new Map(exporter.getFinishedSpans().map((s) => [s.name, s]))
}

/** OpenTelemetry's [seconds, nanoseconds] for a time `ms` after the virtual clock's start. */
function at(ms: number): [number, number] {
  const nanoseconds = (t0 % 1000) * 1e6 + ms * 1e6
  return [Math.floor(t0 / 1000) + Math.floor(nanoseconds / 1e9), nanoseconds % 1e9]
}

describe('exportToOpenTelemetry', () => {
  test('every span arrives once, in one OpenTelemetry trace, under its own parent', async () => {
    const weft = await record(async (s) => {
      s.spawn('geocode', () => sleep(3))
      await s.spawn('session', () =>
        scope({ name: 'load-session' }, async (inner) => {
          await inner.spawn('memcache', () => sleep(2))
        }),
      )
    })
    exportToOpenTelemetry(weft, tracer)
    const spans = exporter.getFinishedSpans()
    assert.equal(spans.length, weft.spans.length)
    assert.equal(new Set(spans.map((s) => s.spanContext().traceId)).size, 1)
    const otelIdOf = new Map(spans.map((s) => [s.attributes['weft.span_id'], s.spanContext().spanId]))
    for (const s of weft.spans) {
      const exported = spans.find((e) => e.attributes['weft.span_id'] === s.spanId) as ReadableSpan
      assert.equal(exported.name, s.name)
      assert.equal(exported.parentSpanContext?.spanId, s.parent && otelIdOf.get(s.parent.spanId))
    }
  })

  test('start and end times arrive exactly, fractions of a millisecond included', async () => {
    const weft = await record(async (s) => {
      await sleep(4)
      await s.spawn('query', () => sleep(10))
    })
    exportToOpenTelemetry(weft, tracer)
    const { request, query } = Object.fromEntries(exportedByName())
    assert.deepEqual([request?.startTime, request?.endTime], [at(0), at(14)])
    assert.deepEqual([query?.startTime, query?.endTime], [at(4), at(14)])
    exporter.reset()
    exportToOpenTelemetry([span('root', undefined, 0.25, 1.125)], tracer)
    assert.deepEqual(exporter.getFinishedSpans()[0]?.startTime, at(0.25))
    assert.deepEqual(exporter.getFinishedSpans()[0]?.endTime, at(1.125))
  })

  test('a failed span is ERROR with its message; a cancelled one is UNSET and says it was cancelled', async () => {
    const weft = await record(async (s) => {
      s.spawn('slow', () => sleep(100))
      s.spawn('fails', async () => {
        await sleep(1)
        throw new TypeError('bad row')
      })
    })
    exportToOpenTelemetry(weft, tracer)
    const { request, slow, fails } = Object.fromEntries(exportedByName())
    assert.deepEqual(fails?.status, { code: SpanStatusCode.ERROR, message: 'TypeError: bad row' })
    assert.deepEqual(request?.status, { code: SpanStatusCode.ERROR, message: 'TypeError: bad row' })
    assert.deepEqual(slow?.status, { code: SpanStatusCode.UNSET })
    assert.equal(slow?.attributes['weft.cancelled'], true)
    assert.match(String(slow?.attributes['weft.cancel_reason']), /^AbortError: task "slow" was cancelled/)
    assert.equal(fails?.attributes['weft.cancelled'], undefined)
  })

  test('a span that succeeded keeps status UNSET, as instrumentation libraries should', async () => {
    exportToOpenTelemetry(await record(async () => {}), tracer)
    assert.deepEqual(exporter.getFinishedSpans()[0]?.status, { code: SpanStatusCode.UNSET })
  })

  test("kinds map to OpenTelemetry's; weft's own kinds are INTERNAL and named in weft.kind", async () => {
    const weft = await record(async (s) => {
      await s.spawn('work', () => {
        for (const kind of ['client', 'server', 'producer', 'consumer', 'batch', 'internal'] as const) {
          startSpan(kind, kind)?.finish('ok')
        }
      })
    })
    exportToOpenTelemetry(weft, tracer)
    const kinds = Object.fromEntries(
      [...exportedByName()].map(([name, s]) => [name, [SpanKind[s.kind], s.attributes['weft.kind']]]),
    )
    assert.deepEqual(kinds, {
      request: ['INTERNAL', 'scope'],
      work: ['INTERNAL', 'task'],
      client: ['CLIENT', 'client'],
      server: ['SERVER', 'server'],
      producer: ['PRODUCER', 'producer'],
      consumer: ['CONSUMER', 'consumer'],
      batch: ['INTERNAL', 'batch'],
      internal: ['INTERNAL', 'internal'],
    })
  })

  test("attributes arrive, with weft's trace and span ids", async () => {
    const weft = await record(async () => {
      startSpan('memcache.get', 'client', {
        shard: '127.0.0.1:11211',
        keys: ['a', 'b'],
        hit: true,
        n: 2,
      })?.finish('ok')
    })
    exportToOpenTelemetry(weft, tracer)
    const get = exportedByName().get('memcache.get')
    assert.deepEqual(get?.attributes, {
      shard: '127.0.0.1:11211',
      keys: ['a', 'b'],
      hit: true,
      n: 2,
      'weft.trace_id': weft.id,
      'weft.span_id': weft.spans[1]?.spanId,
      'weft.kind': 'client',
    })
  })

  test("the root hangs from the given parent context, in the parent's OpenTelemetry trace", () => {
    const server = tracer.startSpan('GET /search', { kind: SpanKind.SERVER })
    const root = exportToOpenTelemetry(
      [span('request', undefined, 0, 5)],
      tracer,
      trace.setSpan(context.active(), server),
    )
    server.end()
    const exported = exportedByName().get('request')
    assert.equal(exported?.parentSpanContext?.spanId, server.spanContext().spanId)
    assert.equal(root?.traceId, server.spanContext().traceId)
    assert.equal(root?.spanId, exported?.spanContext().spanId)
  })

  test('a span still open ends with the trace and says so; a span without its parent hangs from the root', () => {
    const spans: SpanData[] = [
      span('root', undefined, 0, 20),
      span('leaked', 'root', 5, undefined),
      span('stray', 'gone', 2, 4),
    ]
    exportToOpenTelemetry(spans, tracer)
    const { root, leaked, stray } = Object.fromEntries(exportedByName())
    assert.deepEqual(leaked?.endTime, at(20))
    assert.equal(leaked?.attributes['weft.open'], true)
    assert.equal(stray?.parentSpanContext?.spanId, root?.spanContext().spanId)
    assert.equal(stray?.attributes['weft.missing_parent_id'], 'gone')
    assert.equal(root?.attributes['weft.open'], undefined)
  })

  test('a root the tracer does not record ends the export: the sampler decided for the whole trace', async () => {
    const sampled = new BasicTracerProvider({
      sampler: new AlwaysOffSampler(),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    })
    let started = 0
    const base = sampled.getTracer('weft')
    const counting = {
      startSpan: (...args: Parameters<Tracer['startSpan']>) => {
        started += 1
        return base.startSpan(...args)
      },
    } as Tracer
    const root = exportToOpenTelemetry(await record(async (s) => s.spawn('a', () => sleep(1))), counting)
    assert.equal(started, 1)
    assert.equal(exporter.getFinishedSpans().length, 0)
    assert.equal(root?.traceFlags, 0)
  })

  test("without a registered provider the default tracer is OpenTelemetry's no-op", async () => {
    const root = exportToOpenTelemetry(await record(async () => {}))
    assert.equal(root?.spanId, '0000000000000000')
  })

  test('an empty trace exports nothing', () => {
    assert.equal(exportToOpenTelemetry([], tracer), undefined)
    assert.equal(exporter.getFinishedSpans().length, 0)
  })
})

describe('openTelemetryListener', () => {
  test('exports every trace configureTracing hands it', async () => {
    const restore = configureTracing({ enabled: true, onTrace: openTelemetryListener(tracer) })
    try {
      await scope({ name: 'first' }, async (s) => s.spawn('a', async () => {}))
      await scope({ name: 'second' }, async () => {})
    } finally {
      restore()
    }
    assert.deepEqual(
      exporter.getFinishedSpans().map((s) => s.name),
      ['first', 'a', 'second'],
    )
  })

  test('an export that throws is reported through diag and does not reach the request', async () => {
    const errors: unknown[][] = []
    diag.setLogger(
      { error: (...args) => errors.push(args), warn() {}, info() {}, debug() {}, verbose() {} },
      DiagLogLevel.ERROR,
    )
    const broken = {
      startSpan() {
        throw new Error('exporter down')
      },
    } as unknown as Tracer
    try {
      const result = await scope({ trace: openTelemetryListener(broken) }, async () => 'served')
      assert.equal(result, 'served')
    } finally {
      diag.disable()
    }
    assert.equal(errors.length, 1)
    assert.equal(errors[0]?.[0], 'weft: exporting a trace to OpenTelemetry failed')
    assert.match(String(errors[0]?.[1]), /exporter down/)
  })
})
