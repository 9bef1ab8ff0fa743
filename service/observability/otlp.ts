/**
 * Export of weft's traces over OTLP/HTTP through the OpenTelemetry SDK, when
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set: a tracer provider
 * with a batch span processor and the OTLP exporter (which reads its own standard variables: headers,
 * timeout, compression), fed each finished weft trace by {@link openTelemetryListener}'s replay.
 *
 * The exported spans keep weft's own trace and span ids. One request's trace is recorded in parts,
 * one per process (the service, the geocoder it calls, the worker that runs its tasks), each part
 * linked to its caller by the W3C `traceparent` weft sent; a collector can only join the parts if the
 * ids it receives are the ids the `traceparent`s named. The SDK draws ids from its `IdGenerator`
 * when a span starts, with no way to pass them in, so the tracer handed to the replay tells the
 * generator each span's weft ids (the replay puts them in the span's attributes) just before
 * starting it; and a part continuing a remote trace is replayed under the remote caller's span.
 */
import {
  type Context,
  context,
  diag,
  trace as otelTrace,
  ROOT_CONTEXT,
  type SpanOptions,
  TraceFlags,
  type Tracer,
} from '@opentelemetry/api'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources'
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type IdGenerator,
  RandomIdGenerator,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { exportToOpenTelemetry, type Trace, type TraceListener } from 'weft'

/** A running export: the listener to give weft's tracing, and how to flush and stop it. */
export interface OtlpExport {
  /** Receives each finished weft trace (`configureTracing({ onTrace })`, or the server's `onTrace`). */
  readonly onTrace: TraceListener
  /** The OpenTelemetry `service.name` of this process's spans. */
  readonly serviceName: string
  /** Sends the spans still buffered, then stops. */
  shutdown(): Promise<void>
}

/** Options of {@link otlpExport}. */
export interface OtlpExportOptions {
  /** `service.name` when `OTEL_SERVICE_NAME` is unset. */
  serviceName: string
  /** Where spans go. Default: OTLP/HTTP to `OTEL_EXPORTER_OTLP_ENDPOINT` (JSON), batched. */
  processor?: SpanProcessor
  /** The environment (`OTEL_SERVICE_NAME`). Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>
}

/**
 * The export to OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is
 * set in `env`, else undefined. `serviceName` is the default of `OTEL_SERVICE_NAME`.
 */
export function otlpFromEnv(
  serviceName: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): OtlpExport | undefined {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()
  if (!endpoint) return undefined
  return otlpExport({ serviceName, env })
}

/** An export of weft's traces through the OpenTelemetry SDK (see the module comment). */
export function otlpExport(options: OtlpExportOptions): OtlpExport {
  const env = options.env ?? process.env
  const serviceName = env.OTEL_SERVICE_NAME?.trim() || options.serviceName
  const ids = new WeftIds()
  const processor = options.processor ?? new BatchSpanProcessor(new OTLPTraceExporter() as SpanExporter)
  const provider = new BasicTracerProvider({
    // OTEL_RESOURCE_ATTRIBUTES too, through the SDK's own detector; the service name wins over it.
    resource: detectResources({ detectors: [envDetector] }).merge(
      resourceFromAttributes({ 'service.name': serviceName }),
    ),
    idGenerator: ids,
    spanProcessors: [processor],
  })
  const tracer = keepingWeftIds(provider.getTracer('weft'), ids)
  const onTrace: TraceListener = (trace) => {
    try {
      exportToOpenTelemetry(trace, tracer, parentOf(trace))
    } catch (error) {
      // An export must never fail the request it describes.
      diag.error('weft: exporting a trace over OTLP failed', error)
    }
  }
  return { onTrace, serviceName, shutdown: () => provider.shutdown() }
}

/** The context to replay a trace part under: its remote caller's span, when it continues one. */
function parentOf(trace: Trace): Context {
  if (trace.remoteParentId === undefined) return ROOT_CONTEXT
  return otelTrace.setSpanContext(ROOT_CONTEXT, {
    traceId: trace.id,
    spanId: trace.remoteParentId,
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
  })
}

/** Hands out the ids it was told to, once each; random ones otherwise. */
class WeftIds implements IdGenerator {
  traceId: string | undefined
  spanId: string | undefined
  readonly #random = new RandomIdGenerator()

  generateTraceId(): string {
    const id = this.traceId ?? this.#random.generateTraceId()
    this.traceId = undefined
    return id
  }

  generateSpanId(): string {
    const id = this.spanId ?? this.#random.generateSpanId()
    this.spanId = undefined
    return id
  }
}

/** `tracer`, telling `ids` each span's weft ids (attributes `weft.trace_id`, `weft.span_id`) as it starts. */
function keepingWeftIds(tracer: Tracer, ids: WeftIds): Tracer {
  const startSpan = (name: string, options?: SpanOptions, parent: Context = context.active()) => {
    const traceId = options?.attributes?.['weft.trace_id']
    const spanId = options?.attributes?.['weft.span_id']
    ids.traceId = typeof traceId === 'string' ? traceId : undefined
    ids.spanId = typeof spanId === 'string' ? spanId : undefined
    try {
      return tracer.startSpan(name, options, parent)
    } finally {
      ids.traceId = undefined
      ids.spanId = undefined
    }
  }
  return { startSpan, startActiveSpan: tracer.startActiveSpan.bind(tracer) } as Tracer
}
