/**
 * Traces as data: reading one back from JSON, and the normalised span tree that the critical path
 * and the waterfall both work on.
 */
import { describe } from '../core/validate.ts'
import {
  type AttributeValue,
  SPAN_KINDS,
  type SpanData,
  type SpanKind,
  type SpanStatus,
  Trace,
  type TraceData,
} from './span.ts'

/** What the trace analyses accept: a live trace, its JSON form, or just its spans. */
export type TraceInput = Trace | TraceData | readonly SpanData[]

const kinds: ReadonlySet<string> = new Set(SPAN_KINDS)
const statuses: ReadonlySet<string> = new Set<SpanStatus>(['unset', 'ok', 'error', 'cancelled'])

/**
 * Reads a trace exported as JSON (`JSON.stringify(trace)`, which calls `Trace.toJSON()`), either as
 * the JSON text or as the value `JSON.parse` returned, and checks every field. A root span has no
 * `parentId` and a span still open has no `end` (`JSON.stringify` drops undefined; `null` is
 * accepted too). A `parentId` naming a span that is not in the file is allowed (a partial trace);
 * duplicate span ids and parent cycles are not.
 *
 * @throws {TypeError} naming the first malformed field, its path in the document, and what it held.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { parseTrace, scope } from 'weft'
 * let json = ''
 * await scope({ name: 'request', trace: (trace) => { json = JSON.stringify(trace) } }, async (s) => {
 *   s.spawn('lookup', async () => 'hit')
 * })
 * const trace = parseTrace(json)
 * assert.deepEqual(trace.spans.map((span) => span.name), ['request', 'lookup'])
 * assert.equal(trace.spans[1]?.parentId, trace.spans[0]?.spanId)
 * assert.throws(() => parseTrace({ traceId: 'abc', spans: [{ spanId: 1 }] }), /spans\[0\]\.traceId/)
 * ```
 */
export function parseTrace(json: unknown): TraceData {
  let value = json
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json)
    } catch (error) {
      throw new TypeError(`parseTrace(): the text is not JSON (${(error as Error).message})`)
    }
  }
  if (Array.isArray(value)) {
    throw new TypeError(
      'parseTrace(): the trace must be an object { traceId, spans }, got an array (of spans? wrap them in one)',
    )
  }
  if (value === null || typeof value !== 'object')
    malformed('the trace', 'an object { traceId, spans }', value)
  const { traceId, spans } = value as Record<string, unknown>
  if (typeof traceId !== 'string' || traceId === '') malformed('traceId', 'a non-empty string', traceId)
  if (!Array.isArray(spans)) malformed('spans', 'an array', spans)
  const parsed: TraceData = {
    traceId,
    spans: spans.map((span, index) => parseSpan(span, `spans[${index}]`, traceId)),
  }
  spanTree(parsed.spans, 'parseTrace()')
  return parsed
}

function parseSpan(value: unknown, path: string, traceId: string): SpanData {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) malformed(path, 'an object', value)
  const span = value as Record<string, unknown>
  if (span.traceId !== traceId)
    malformed(`${path}.traceId`, `the trace's id ${JSON.stringify(traceId)}`, span.traceId)
  const { spanId, name, kind, start, status, error } = span
  if (typeof spanId !== 'string' || spanId === '') malformed(`${path}.spanId`, 'a non-empty string', spanId)
  const parentId = span.parentId ?? undefined
  if (parentId !== undefined && (typeof parentId !== 'string' || parentId === '')) {
    malformed(`${path}.parentId`, 'a non-empty string, or absent for the root', parentId)
  }
  if (typeof name !== 'string') malformed(`${path}.name`, 'a string', name)
  if (typeof kind !== 'string' || !kinds.has(kind))
    malformed(`${path}.kind`, `one of ${[...kinds].join(', ')}`, kind)
  if (!isFiniteNumber(start)) malformed(`${path}.start`, 'a number of epoch milliseconds', start)
  const end = span.end ?? undefined
  if (end !== undefined && !(isFiniteNumber(end) && end >= start)) {
    malformed(
      `${path}.end`,
      `a number of epoch milliseconds, at least start (${start}), or absent while open`,
      end,
    )
  }
  if (typeof status !== 'string' || !statuses.has(status)) {
    malformed(`${path}.status`, `one of ${[...statuses].join(', ')}`, status)
  }
  if (error !== undefined && typeof error !== 'string')
    malformed(`${path}.error`, 'a string or absent', error)
  const data: SpanData = {
    traceId,
    spanId,
    parentId,
    name,
    kind: kind as SpanKind,
    start,
    end,
    status: status as SpanStatus,
    attributes: parseAttributes(span.attributes, `${path}.attributes`),
  }
  if (error !== undefined) data.error = error
  return data
}

function parseAttributes(value: unknown, path: string): Record<string, AttributeValue> {
  if (value === undefined) return {}
  if (value === null || typeof value !== 'object' || Array.isArray(value)) malformed(path, 'an object', value)
  const attributes: Record<string, AttributeValue> = {}
  for (const [key, attribute] of Object.entries(value)) {
    if (!isAttributeValue(attribute)) {
      malformed(
        `${path}[${JSON.stringify(key)}]`,
        'a string, number, boolean, or an array of only strings or only numbers',
        attribute,
      )
    }
    attributes[key] = Array.isArray(attribute) ? [...attribute] : attribute
  }
  return attributes
}

function isAttributeValue(value: unknown): value is AttributeValue {
  if (typeof value === 'string' || typeof value === 'boolean' || isFiniteNumber(value)) return true
  if (!Array.isArray(value)) return false
  return value.every((item) => typeof item === 'string') || value.every(isFiniteNumber)
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value)
}

function malformed(path: string, expected: string, value: unknown): never {
  throw new TypeError(`parseTrace(): ${path} must be ${expected}, got ${describe(value)}`)
}

/** The spans of any {@link TraceInput}, checking only its outer shape (`where` names the caller in errors). */
export function spansOf(input: TraceInput, where: string): readonly SpanData[] {
  if (input instanceof Trace) return input.toJSON().spans
  if (Array.isArray(input)) return input
  const spans = (input as TraceData | null)?.spans
  if (!Array.isArray(spans)) {
    throw new TypeError(
      `${where}: trace must be a Trace, a TraceData or an array of spans, got ${describe(input)}`,
    )
  }
  return spans
}

/** One span placed in its trace's tree, with times made safe to lay out on one axis. */
export interface SpanNode {
  readonly span: SpanData
  readonly parent: SpanNode | undefined
  /** Sorted by start, then span id: for spans weft recorded, the order they were started in. */
  readonly children: SpanNode[]
  /** 0 for the root. */
  readonly depth: number
  /** The span's start, moved inside its parent's interval when it lies outside. */
  readonly start: number
  /**
   * The span's end, clipped to its parent's interval; a span still open is taken to run until the
   * end of the trace.
   */
  readonly end: number
  /** True when the span's parent is not among the spans, so it hangs from the root instead. */
  readonly orphan: boolean
}

/** A trace as a tree ready for analysis. */
export interface SpanTree {
  readonly root: SpanNode
  /** Every span, depth first, each node's children in order: the order of a waterfall. */
  readonly nodes: readonly SpanNode[]
}

/**
 * Builds the tree of `spans`, or returns undefined when there are none.
 *
 * The root is the span without a parent (the earliest, when a set mixes several); spans whose
 * parent is missing, and any further parentless span, hang from the root as orphans, so a partial
 * trace still has one tree. Each span is clipped to its parent's interval (a task that outlived its
 * scope, clock skew across processes), and a span still open runs until the trace's end: the root's
 * end, or, while the root is open too, the latest time the trace recorded.
 *
 * @throws {TypeError} when two spans share an id, or parents form a cycle.
 */
export function spanTree(spans: readonly SpanData[], where: string): SpanTree | undefined {
  if (spans.length === 0) return undefined
  const byId = new Map<string, SpanData>()
  for (const span of spans) {
    if (byId.has(span.spanId))
      throw new TypeError(`${where}: two spans have the id ${JSON.stringify(span.spanId)}`)
    byId.set(span.spanId, span)
  }
  const childrenOf = new Map<string, SpanData[]>()
  const detached: SpanData[] = []
  for (const span of spans) {
    const parent = span.parentId === undefined ? undefined : byId.get(span.parentId)
    if (parent === undefined) detached.push(span)
    else {
      const siblings = childrenOf.get(parent.spanId)
      if (siblings === undefined) childrenOf.set(parent.spanId, [span])
      else siblings.push(span)
    }
  }
  const parentless = detached.filter((span) => span.parentId === undefined)
  const candidates = parentless.length > 0 ? parentless : detached
  if (candidates.length === 0)
    throw new TypeError(`${where}: the spans' parents form a cycle: no span is a root`)
  const chosen = candidates.reduce((best, span) => (byTime(span, best) < 0 ? span : best))

  let traceEnd = chosen.end
  if (traceEnd === undefined) {
    traceEnd = chosen.start
    for (const span of spans) traceEnd = Math.max(traceEnd, span.start, span.end ?? span.start)
  }
  const root: SpanNode = {
    span: chosen,
    parent: undefined,
    children: [],
    depth: 0,
    start: chosen.start,
    end: Math.max(chosen.start, traceEnd),
    orphan: false,
  }
  const orphans = detached.filter((span) => span !== chosen)
  const isOrphan = new Set(orphans)
  const nodes: SpanNode[] = []
  // Depth first without recursion: a trace can nest deeper than the call stack allows.
  const stack: SpanNode[] = [root]
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    nodes.push(node)
    const childSpans = childrenOf.get(node.span.spanId) ?? []
    const all = node === root ? childSpans.concat(orphans) : childSpans
    for (const span of all) {
      const start = clamp(span.start, node.start, node.end)
      node.children.push({
        span,
        parent: node,
        children: [],
        depth: node.depth + 1,
        start,
        end: clamp(span.end ?? traceEnd, start, node.end),
        orphan: node === root && isOrphan.has(span),
      })
    }
    node.children.sort(byNodeTime)
    for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i] as SpanNode)
  }
  if (nodes.length < spans.length) {
    const reached = new Set(nodes.map((node) => node.span))
    const unreached = spans.find((span) => !reached.has(span))
    throw new TypeError(
      `${where}: span ${JSON.stringify(unreached?.spanId)} does not lead to a root: its ancestors form a cycle`,
    )
  }
  return { root, nodes }
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(Math.max(value, low), high)
}

function byTime(a: SpanData, b: SpanData): number {
  return a.start - b.start || compareIds(a.spanId, b.spanId)
}

function byNodeTime(a: SpanNode, b: SpanNode): number {
  return a.start - b.start || compareIds(a.span.spanId, b.span.spanId)
}

/** Span ids compare as strings: for weft's fixed-width hex ids that is creation order. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
