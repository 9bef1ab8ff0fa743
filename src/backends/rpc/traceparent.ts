import type { Span } from 'weft'

/** The W3C trace context header: https://www.w3.org/TR/trace-context/#traceparent-header */
export const TRACEPARENT_HEADER = 'traceparent'

/** The remote caller's span, as read from an incoming `traceparent`. */
export interface TraceParent {
  /** 32 lowercase hex digits: the id of the trace the caller belongs to. */
  traceId: string
  /** 16 lowercase hex digits: the caller's span, parent of the work done for it here. */
  parentId: string
  /** The caller records this trace (flag 01), so the callee should record its part too. */
  sampled: boolean
}

/** The `traceparent` value naming `span` as the parent of the remote work (always sampled: it is being recorded). */
export function formatTraceparent(span: Span): string {
  return `00-${span.trace.id}-${span.spanId}-01`
}

const version00 = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/
// A later version may append fields after a dash; its first four fields keep their meaning.
const laterVersion = /^(?!ff)[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/

/**
 * Reads an incoming `traceparent`. Returns undefined when it is absent, repeated or invalid: the
 * specification says to start a new trace then, rather than fail the request.
 */
export function parseTraceparent(value: string | string[] | undefined): TraceParent | undefined {
  if (typeof value !== 'string') return undefined
  const match = version00.exec(value) ?? (value.startsWith('00') ? null : laterVersion.exec(value))
  if (match === null) return undefined
  const [, traceId, parentId, flags] = match as unknown as [string, string, string, string]
  if (/^0+$/.test(traceId) || /^0+$/.test(parentId)) return undefined
  return { traceId, parentId, sampled: (Number.parseInt(flags, 16) & 1) === 1 }
}
