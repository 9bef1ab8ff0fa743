/**
 * How a task carries its enqueuing request's trace: the producer span's W3C `traceparent` is stored
 * with the task, and each delivery opens a trace of its own that records it.
 */
import type { AttributeValue, Span, SpanKind, TraceListener } from '../../trace/span.ts'

/** The enqueuing request's span, as read back from a task's `traceparent`. */
export interface TraceParent {
  /** 32 hex digits. */
  readonly traceId: string
  /** 16 hex digits: the producer span. */
  readonly spanId: string
  /** The enqueuing request was recorded. */
  readonly sampled: boolean
}

/** The `traceparent` naming `span` (sampled: it is being recorded). */
export function formatTraceparent(span: Span): string {
  return `00-${span.trace.id}-${span.spanId}-01`
}

const traceparent = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/** Reads a stored `traceparent`; undefined when there is none or it is malformed (the delivery is then untraced by it). */
export function parseTraceparent(value: unknown): TraceParent | undefined {
  if (typeof value !== 'string') return undefined
  const match = traceparent.exec(value)
  if (match === null) return undefined
  const [, traceId, spanId, flags] = match as unknown as [string, string, string, string]
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined
  return { traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1 }
}

/**
 * The `trace` option of a delivery's scope: the worker's choice when it made one; otherwise traced
 * when the enqueuing request was, else the process-wide setting.
 */
export function deliveryTracing(
  parent: TraceParent | undefined,
  option: boolean | TraceListener | undefined,
): { trace?: boolean | TraceListener } {
  if (option !== undefined) return { trace: option }
  return parent?.sampled ? { trace: true } : {}
}

/**
 * Makes a delivery's root span its consumer span and links it to the enqueuing request.
 *
 * The delivery is a request of its own (a scope opened outside any other), so its root span is the
 * one `scope()` opens, of kind `scope`. The core cannot yet open a scope of another kind, nor one that
 * continues a given trace id (see the report on trace continuation); until it can, the kind is set
 * here and the enqueuing trace is recorded as `weft.parent_trace_id` / `weft.parent_span_id`.
 */
export function markConsumer(
  span: Span | undefined,
  parent: TraceParent | undefined,
  attributes: Record<string, AttributeValue>,
): void {
  if (span === undefined) return
  ;(span as { kind: SpanKind }).kind = 'consumer'
  Object.assign(span.attributes, attributes)
  if (parent === undefined) return
  span.setAttribute('weft.parent_trace_id', parent.traceId)
  span.setAttribute('weft.parent_span_id', parent.spanId)
}
