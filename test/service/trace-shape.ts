// Measures of a trace's shape: how deep its spans nest, and how many run at once.
import type { SpanData } from 'weft'

/** The most levels of nesting among `spans` (a root alone is 1). */
export function depth(spans: readonly SpanData[]): number {
  const byId = new Map(spans.map((span) => [span.spanId, span]))
  let deepest = 0
  for (const span of spans) {
    let levels = 1
    for (let parent = span.parentId; parent !== undefined; parent = byId.get(parent)?.parentId) {
      if (!byId.has(parent)) break
      levels += 1
    }
    deepest = Math.max(deepest, levels)
  }
  return deepest
}

/** The largest number of spans of `kind` open at one instant. */
export function peakConcurrency(spans: readonly SpanData[], kind: SpanData['kind']): number {
  const events = spans
    .filter((span) => span.kind === kind)
    .flatMap((span) => [
      { at: span.start, delta: 1 },
      { at: span.end ?? Number.POSITIVE_INFINITY, delta: -1 },
    ])
    .sort((a, b) => a.at - b.at || a.delta - b.delta)
  let open = 0
  let peak = 0
  for (const event of events) {
    open += event.delta
    peak = Math.max(peak, open)
  }
  return peak
}

/** The spans under `ancestor` (itself excluded). */
export function descendants(spans: readonly SpanData[], ancestor: SpanData): SpanData[] {
  const byId = new Map(spans.map((span) => [span.spanId, span]))
  return spans.filter((span) => {
    for (let parent = span.parentId; parent !== undefined; parent = byId.get(parent)?.parentId) {
      if (parent === ancestor.spanId) return true
    }
    return false
  })
}
