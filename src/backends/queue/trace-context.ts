/**
 * How a task carries its enqueuing request's trace: the producer span's W3C `traceparent` is stored
 * with the task, and each delivery continues that trace in a request of its own.
 */
import type { AttributeValue, Span, TraceListener } from '../../trace/span.ts'
import type { TraceParent } from '../../trace/traceparent.ts'

/**
 * The tracing options of a delivery's scope: it continues the enqueuing request's trace when that
 * request was recorded; the worker's `trace` option, when it gave one, decides whether to record.
 */
export function deliveryTracing(
  parent: TraceParent | undefined,
  option: boolean | TraceListener | undefined,
): { trace?: boolean | TraceListener; traceParent?: TraceParent } {
  return {
    ...(option !== undefined && { trace: option }),
    ...(parent?.sampled && { traceParent: parent }),
  }
}

/** Records what a delivery is on its consumer span. */
export function describeDelivery(span: Span | undefined, attributes: Record<string, AttributeValue>): void {
  if (span !== undefined) Object.assign(span.attributes, attributes)
}
