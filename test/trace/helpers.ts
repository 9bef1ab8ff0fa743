// Traces for the tests of src/trace: recorded through the real API on the virtual clock (exact times),
// or built by hand when a test needs a shape the API cannot produce (open spans, orphans, skew).
import { type Scope, type SpanData, scope, type Trace } from 'weft'
import { withVirtualClock } from 'weft/testing'

/** The virtual clock's start: recorded spans' times are this plus whole milliseconds. */
export const t0 = Date.UTC(2026, 0, 1)

/** Runs `body` as a traced request named `name` on a virtual clock and returns its trace. */
export async function record(body: (s: Scope) => Promise<unknown>, name = 'request'): Promise<Trace> {
  const traces: Trace[] = []
  await withVirtualClock((clock) => {
    const request = scope({ name, trace: (trace) => traces.push(trace) }, body)
    // A failed request records a trace too, and the trace is what the tests look at.
    return clock.run(request.then(ignore, ignore))
  }, t0)
  const [trace] = traces
  if (trace === undefined) throw new Error('record(): the request produced no trace')
  return trace
}

function ignore(): void {}

/**
 * A span by hand: `span('b', 'a', 5, 10)` is span b, child of a, from t0+5 to t0+10 (`end` undefined:
 * still open).
 */
export function span(
  id: string,
  parentId: string | undefined,
  start: number,
  end: number | undefined,
  extra: Partial<SpanData> = {},
): SpanData {
  return {
    traceId: 'trace',
    spanId: id,
    parentId,
    name: id,
    kind: parentId === undefined ? 'scope' : 'task',
    start: t0 + start,
    end: end === undefined ? undefined : t0 + end,
    status: end === undefined ? 'unset' : 'ok',
    attributes: {},
    ...extra,
  }
}

/** The names of spans, to compare a path or an order in one assertion. */
export function names(spans: readonly SpanData[]): string[] {
  return spans.map((span) => span.name)
}
