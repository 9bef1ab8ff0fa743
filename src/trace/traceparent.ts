import type { Span } from './span.ts'
import type { RemoteParent } from './tracing.ts'

/** The W3C trace context header: https://www.w3.org/TR/trace-context/#traceparent-header */
export const TRACEPARENT_HEADER = 'traceparent'

/**
 * The remote caller's span, as read from a `traceparent` (an HTTP header, a queued task): pass it
 * as `scope({ traceParent })` to continue the caller's trace.
 */
export interface TraceParent extends RemoteParent {
  /** The caller records this trace (flag 01), so the callee should record its part too. */
  sampled: boolean
}

/**
 * The `traceparent` value naming `span` as the parent of remote work (always sampled: it is being
 * recorded).
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { formatTraceparent, parseTraceparent, scope } from 'weft'
 * await scope({ trace: true }, (s) => {
 *   const header = formatTraceparent(s.span!)
 *   assert.deepEqual(parseTraceparent(header), { traceId: s.span!.trace.id, spanId: s.span!.spanId, sampled: true })
 * })
 * ```
 */
export function formatTraceparent(span: Span): string {
  return `00-${span.trace.id}-${span.spanId}-01`
}

const version00 = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/
// A later version may append fields after a dash; its first four fields keep their meaning.
const laterVersion = /^(?!ff)[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/

/**
 * Reads a `traceparent`. Returns undefined when it is absent, repeated (an array of header values) or
 * invalid: the specification says to start a new trace then, rather than fail the request.
 */
export function parseTraceparent(value: unknown): TraceParent | undefined {
  if (typeof value !== 'string') return undefined
  const match = version00.exec(value) ?? (value.startsWith('00') ? null : laterVersion.exec(value))
  if (match === null) return undefined
  const [, traceId, spanId, flags] = match as unknown as [string, string, string, string]
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined
  return { traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1 }
}
