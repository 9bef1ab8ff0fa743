// The data model of traces: what a span is, as plain data.

/** Every kind of span, in the order they are listed in messages. */
export const SPAN_KINDS = [
  'scope',
  'task',
  'client',
  'batch',
  'server',
  'producer',
  'consumer',
  'internal',
] as const

/** What a span stands for. */
export type SpanKind = (typeof SPAN_KINDS)[number]

/** How a span ended: `unset` while it runs. */
export type SpanStatus = 'unset' | 'ok' | 'error' | 'cancelled'

/** Values a span attribute may hold (the OpenTelemetry attribute types). */
export type AttributeValue = string | number | boolean | readonly string[] | readonly number[]

/** A finished span as plain data: what JSON export, the critical path and the waterfall work on. */
export interface SpanData {
  traceId: string
  spanId: string
  /** The enclosing span; undefined for the root of a trace (or the remote caller's span, when continued). */
  parentId: string | undefined
  name: string
  kind: SpanKind
  /** Epoch milliseconds, fractional. */
  start: number
  /** Epoch milliseconds, fractional; undefined while the span is still open. */
  end: number | undefined
  status: SpanStatus
  /** The error message when `status` is `error` or `cancelled`. */
  error?: string
  attributes: Record<string, AttributeValue>
}

/** A trace exported as JSON: the spans of one request. */
export interface TraceData {
  traceId: string
  spans: SpanData[]
}

/** Every status of a span, `unset` first (a span still open). */
export const SPAN_STATUSES: readonly SpanStatus[] = ['unset', 'ok', 'error', 'cancelled']
