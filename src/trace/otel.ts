/**
 * OpenTelemetry export: weft records its spans itself (cheaply, and only for traced requests) and
 * replays each finished trace through `@opentelemetry/api`, so whatever tracer provider the
 * application registered (and its exporters: OTLP, Jaeger, Zipkin, console) receives them.
 */
import {
  type Attributes,
  type Context,
  context,
  diag,
  type HrTime,
  type Span as OtelSpan,
  SpanKind as OtelSpanKind,
  trace as otelTrace,
  type SpanContext,
  SpanStatusCode,
  type Tracer,
} from '@opentelemetry/api'
import { describe } from '../core/validate.ts'
import type { SpanKind, TraceListener } from './span.ts'
import { type SpanNode, spansOf, spanTree, type TraceInput } from './trace-data.ts'

/** OpenTelemetry knows only the kinds that face another process; weft's own kinds are internal work. */
const otelKinds: Record<SpanKind, OtelSpanKind> = {
  client: OtelSpanKind.CLIENT,
  server: OtelSpanKind.SERVER,
  producer: OtelSpanKind.PRODUCER,
  consumer: OtelSpanKind.CONSUMER,
  scope: OtelSpanKind.INTERNAL,
  task: OtelSpanKind.INTERNAL,
  batch: OtelSpanKind.INTERNAL,
  internal: OtelSpanKind.INTERNAL,
}

/**
 * Replays a finished weft trace as OpenTelemetry spans through `tracer` (by default the global
 * provider's tracer named `weft`, a no-op until the application registers a provider), and returns
 * the span context of the exported root (invalid under a no-op tracer).
 *
 * Each span keeps its start and end times, its parent (the root's parent is `parent`, by default
 * the context active at the call: the request's server span when the application traces HTTP), its
 * attributes, and its kind (`client`, `server`, `producer`, `consumer` map to their OpenTelemetry
 * kinds, weft's `scope`, `task`, `batch` to INTERNAL, named in the attribute `weft.kind`). A failed
 * span gets status ERROR with the error's message. OpenTelemetry has no status for cancelled work,
 * and a cancellation is not an error of the span cancelled, so a cancelled span keeps status UNSET
 * and carries `weft.cancelled: true` (and `weft.cancel_reason`). A span that succeeded keeps status
 * UNSET too, as the OpenTelemetry specification asks of instrumentation libraries.
 *
 * OpenTelemetry's API cannot take a trace id from its caller: the exported spans get the
 * provider's own ids, and every span carries weft's ids as `weft.trace_id` and `weft.span_id`, so
 * the trace a `/_weft/traces/:id` page or a log line names can be found in the tracing backend.
 *
 * A span still open (the trace was exported early, or a backend adapter never finished its span)
 * ends at the end of the trace with `weft.open: true`. A span whose parent is missing hangs from
 * the root with `weft.missing_parent_id`. When the tracer does not record the root (no provider, or
 * the sampler dropped it), nothing more is done: samplers decide per trace.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { SpanStatusCode } from '@opentelemetry/api'
 * import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
 * import { exportToOpenTelemetry, scope, type Trace } from 'weft'
 * const exporter = new InMemorySpanExporter()
 * const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
 * const traces: Trace[] = []
 * await scope({ name: 'request', trace: (trace) => traces.push(trace) }, async (s) => {
 *   await s.spawn('geocode', async () => 'Lisbon')
 * })
 * exportToOpenTelemetry(traces[0]!, provider.getTracer('weft'))
 * const [request, geocode] = exporter.getFinishedSpans()
 * assert.equal(geocode?.name, 'geocode')
 * assert.equal(geocode?.parentSpanContext?.spanId, request?.spanContext().spanId)
 * assert.equal(geocode?.attributes['weft.trace_id'], traces[0]!.id)
 * assert.equal(geocode?.status.code, SpanStatusCode.UNSET)
 * ```
 */
export function exportToOpenTelemetry(
  trace: TraceInput,
  tracer: Tracer = otelTrace.getTracer('weft'),
  parent: Context = context.active(),
): SpanContext | undefined {
  checkTracer('exportToOpenTelemetry()', tracer)
  const tree = spanTree(spansOf(trace, 'exportToOpenTelemetry()'), 'exportToOpenTelemetry()')
  if (tree === undefined) return undefined
  const root = replay(tracer, tree.root, parent)
  // Checked before the span ends: an ended span no longer says whether it was recorded.
  const recorded = root.isRecording()
  endAsRecorded(root, tree.root)
  if (!recorded) return root.spanContext()
  // Parents come before their children in `nodes`: each child finds its parent's context ready.
  const contexts = new Map<SpanNode, Context>([[tree.root, otelTrace.setSpan(parent, root)]])
  for (const node of tree.nodes) {
    if (node === tree.root) continue
    const parentContext = contexts.get(node.parent as SpanNode) as Context
    const span = replay(tracer, node, parentContext)
    endAsRecorded(span, node)
    if (node.children.length > 0) contexts.set(node, otelTrace.setSpan(parentContext, span))
  }
  return root.spanContext()
}

/**
 * A {@link TraceListener} that exports every finished trace to OpenTelemetry (see
 * {@link exportToOpenTelemetry}): pass it to `configureTracing` as `onTrace`. An export that throws
 * is reported through OpenTelemetry's diagnostic logger and never reaches the request.
 *
 * The root's OpenTelemetry parent is the context active when the request's outermost scope ends,
 * which descends from the context that opened it (the HTTP server span, when the application
 * traces HTTP) unless the request's own code switched OpenTelemetry contexts.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
 * import { configureTracing, openTelemetryListener, scope, sleep } from 'weft'
 * const exporter = new InMemorySpanExporter()
 * const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
 * const restore = configureTracing({ enabled: true, onTrace: openTelemetryListener(provider.getTracer('weft')) })
 * try {
 *   await scope({ name: 'search' }, async (s) => {
 *     s.spawn('query', () => sleep(1))
 *   })
 * } finally {
 *   restore()
 * }
 * assert.deepEqual(exporter.getFinishedSpans().map((span) => span.name), ['search', 'query'])
 * ```
 */
export function openTelemetryListener(tracer: Tracer = otelTrace.getTracer('weft')): TraceListener {
  checkTracer('openTelemetryListener()', tracer)
  return (trace) => {
    try {
      exportToOpenTelemetry(trace, tracer)
    } catch (error) {
      diag.error('weft: exporting a trace to OpenTelemetry failed', error)
    }
  }
}

function checkTracer(where: string, tracer: unknown): void {
  if (typeof (tracer as Tracer | null)?.startSpan !== 'function') {
    throw new TypeError(`${where}: tracer must be an OpenTelemetry Tracer, got ${describe(tracer)}`)
  }
}

/** Starts the OpenTelemetry copy of a weft span, with its attributes and status. */
function replay(tracer: Tracer, node: SpanNode, parent: Context): OtelSpan {
  const { span } = node
  const attributes: Attributes = {}
  for (const [key, value] of Object.entries(span.attributes)) {
    attributes[key] = Array.isArray(value) ? [...value] : (value as string | number | boolean)
  }
  attributes['weft.trace_id'] = span.traceId
  attributes['weft.span_id'] = span.spanId
  attributes['weft.kind'] = span.kind
  if (node.orphan && span.parentId !== undefined) attributes['weft.missing_parent_id'] = span.parentId
  if (span.status === 'cancelled') {
    attributes['weft.cancelled'] = true
    if (span.error !== undefined) attributes['weft.cancel_reason'] = span.error
  }
  if (span.end === undefined) attributes['weft.open'] = true
  const exported = tracer.startSpan(
    span.name,
    { kind: otelKinds[span.kind] ?? OtelSpanKind.INTERNAL, startTime: hrTime(span.start), attributes },
    parent,
  )
  if (span.status === 'error') {
    exported.setStatus(
      span.error === undefined
        ? { code: SpanStatusCode.ERROR }
        : { code: SpanStatusCode.ERROR, message: span.error },
    )
  }
  return exported
}

/** Ends an exported span at its weft end, or, while still open, at the end of the trace. */
function endAsRecorded(exported: OtelSpan, node: SpanNode): void {
  exported.end(hrTime(node.span.end ?? Math.max(node.span.start, node.end)))
}

/**
 * Epoch milliseconds as OpenTelemetry's [seconds, nanoseconds]. Passing a plain number would leave
 * the SDK to guess whether it is epoch or `performance.now()` time, and a virtual clock's early
 * epochs would be guessed wrong.
 */
function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000)
  const nanoseconds = Math.round((ms - seconds * 1000) * 1e6)
  return nanoseconds >= 1e9 ? [seconds + 1, nanoseconds - 1e9] : [seconds, nanoseconds]
}
