import type { SpanData } from './span.ts'
import { compareIds, type SpanNode, type SpanTree, spansOf, spanTree, type TraceInput } from './trace-data.ts'

/** A stretch of the critical path: time during which `span` itself (not one of its children) ran. */
export interface CriticalSegment {
  readonly span: SpanData
  /** Epoch ms. */
  readonly start: number
  /** Epoch ms, after `start`: zero-length stretches are left out. */
  readonly end: number
}

/** What {@link criticalPath} finds. */
export interface CriticalPath {
  /**
   * The spans that set the request's latency, root first, then in time order along the chain (each
   * span before the spans under it, siblings in the order they ran). Every span but the root has its
   * parent earlier in the list.
   */
  readonly path: SpanData[]
  /**
   * For every span, by id: how many milliseconds it could have ended later without the request
   * ending later. 0 on the critical path.
   */
  readonly slack: Map<string, number>
  /** The root's duration in ms: the length of the critical path. */
  readonly duration: number
  /**
   * The critical path as back-to-back stretches of time, in time order: from the root's start to
   * its end, each owned by the deepest span on the path that was running. Their lengths add up to
   * `duration`.
   */
  readonly segments: CriticalSegment[]
}

/**
 * Finds the chain of spans that set a request's end-to-end latency: the work to make faster for the
 * request to finish sooner. Every other span gets its slack: how much later it could have ended
 * without delaying the request.
 *
 * The walk is Jaeger's: start at the root's end; the child that finished last (at or before that
 * point) is on the path, and so, recursively, is the work inside it; then move back to that child's
 * start and repeat with the children that had finished by then. Time no child covers is the span's
 * own. A child that ends after the point reached was running alongside the path, not gating it.
 * Ties go to a child that was not cancelled (a failure and the siblings it cancelled end together,
 * and the failure is what set the time), then to the longer child, then to the one created first:
 * the result never depends on the order of the input. On a real clock a cancelled sibling ends a
 * little after the failure, and is then rightly on the path: its cleanup is what the scope waited
 * for last.
 *
 * Slack assumes, like the walk, that a span may have waited for any sibling that ended before it
 * started: a span may end as late as its parent may, and no later than any such later sibling may
 * start (its start plus its own slack).
 *
 * Imperfect traces are read this way: a span still open is taken to run until the trace's end (the
 * root's end, or the latest time recorded while the root is open too); a span reaching outside its
 * parent is clipped to it; a span whose parent is missing (a partial trace) hangs from the root. An
 * empty trace has an empty path and a duration of 0. Two spans with one id, or parents forming a
 * cycle, throw a TypeError.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { criticalPath, scope, sleep, type Trace } from 'weft'
 * import { withVirtualClock } from 'weft/testing'
 * const traces: Trace[] = []
 * await withVirtualClock((clock) =>
 *   clock.run(
 *     scope({ name: 'request', trace: (trace) => traces.push(trace) }, async (s) => {
 *       s.spawn('cache', () => sleep(5))
 *       s.spawn('database', () => sleep(30))
 *     }),
 *   ),
 * )
 * const { path, slack, duration } = criticalPath(traces[0]!)
 * assert.deepEqual(path.map((span) => span.name), ['request', 'database'])
 * assert.equal(duration, 30)
 * const cache = traces[0]!.spans.find((span) => span.name === 'cache')!
 * assert.equal(slack.get(cache.spanId), 25) // it could take 25 ms more and change nothing
 * ```
 */
export function criticalPath(trace: TraceInput): CriticalPath {
  const tree = spanTree(spansOf(trace, 'criticalPath()'), 'criticalPath()')
  return tree === undefined ? { path: [], slack: new Map(), duration: 0, segments: [] } : criticalPathOf(tree)
}

/** {@link criticalPath} of a tree already built (the waterfall needs both). */
export function criticalPathOf(tree: SpanTree): CriticalPath {
  const { chosen, segments } = walk(tree.root)
  return {
    path: chain(tree.root, chosen),
    slack: slackOf(tree, chosen),
    duration: tree.root.end - tree.root.start,
    segments,
  }
}

/** Where the backward walk stands inside one span on the path. */
interface Frame {
  readonly node: SpanNode
  /** The span's children, latest end first: the order in which they can join the path. */
  readonly byEnd: readonly SpanNode[]
  next: number
  /** The walk has accounted for this span's time from here to its end. */
  cursor: number
  /** The children put on the path, latest first. */
  readonly chosen: SpanNode[]
}

/**
 * The backward walk, without recursion (traces can nest deeper than the stack). Returns, for each
 * span on the path, its children on the path (latest first), and the segments in time order.
 */
function walk(root: SpanNode): { chosen: Map<SpanNode, SpanNode[]>; segments: CriticalSegment[] } {
  const chosen = new Map<SpanNode, SpanNode[]>()
  const latestFirst: CriticalSegment[] = []
  const enter = (node: SpanNode): Frame => {
    const frame = { node, byEnd: [...node.children].sort(byEnd), next: 0, cursor: node.end, chosen: [] }
    chosen.set(node, frame.chosen)
    return frame
  }
  const own = (node: SpanNode, start: number, end: number): void => {
    if (end > start) latestFirst.push({ span: node.span, start, end })
  }
  const frames = [enter(root)]
  for (let frame = frames.at(-1); frame !== undefined; frame = frames.at(-1)) {
    let child: SpanNode | undefined
    while (child === undefined && frame.next < frame.byEnd.length) {
      const candidate = frame.byEnd[frame.next++] as SpanNode
      if (candidate.end <= frame.cursor) child = candidate
    }
    if (child === undefined) {
      own(frame.node, frame.node.start, frame.cursor)
      frames.pop()
    } else {
      own(frame.node, child.end, frame.cursor)
      frame.cursor = child.start
      frame.chosen.push(child)
      frames.push(enter(child))
    }
  }
  return { chosen, segments: latestFirst.reverse() }
}

/** The spans on the path, each before those under it, siblings in time order. */
function chain(root: SpanNode, chosen: ReadonlyMap<SpanNode, readonly SpanNode[]>): SpanData[] {
  const path: SpanData[] = []
  const stack = [root]
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    path.push(node.span)
    // Latest first on the list means the earliest is pushed last and comes off the stack first.
    for (const child of chosen.get(node) ?? []) stack.push(child)
  }
  return path
}

/**
 * Each span's slack, parents before children. A span may end as late as its parent may (its
 * "latest end"), and no later than the latest start of any sibling that started after it ended.
 * Siblings are in start order, so those are a suffix of the list: a running minimum from the right
 * answers each span in O(log n).
 */
function slackOf(tree: SpanTree, onPath: ReadonlyMap<SpanNode, unknown>): Map<string, number> {
  const slack = new Map<string, number>([[tree.root.span.spanId, 0]])
  const latestEnd = new Map<SpanNode, number>([[tree.root, tree.root.end]])
  for (const node of tree.nodes) {
    if (node.children.length === 0) continue
    // Among siblings starting together, a zero-length one comes first: it may precede the others.
    const siblings = [...node.children].sort(byStart)
    const parentLatestEnd = latestEnd.get(node) as number
    // latestStartFrom[i]: the earliest "latest start" among siblings i and after.
    const latestStartFrom = new Float64Array(siblings.length + 1).fill(Infinity)
    for (let i = siblings.length - 1; i >= 0; i--) {
      const span = siblings[i] as SpanNode
      const latest = onPath.has(span)
        ? span.end
        : Math.min(parentLatestEnd, latestStartFrom[firstStartingFrom(siblings, span.end, i + 1)] as number)
      latestEnd.set(span, latest)
      slack.set(span.span.spanId, latest - span.end)
      latestStartFrom[i] = Math.min(span.start + (latest - span.end), latestStartFrom[i + 1] as number)
    }
  }
  return slack
}

/** The index of the first of `sorted[from..]` that starts at or after `time` (sorted.length if none). */
function firstStartingFrom(sorted: readonly SpanNode[], time: number, from: number): number {
  let low = from
  let high = sorted.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if ((sorted[middle] as SpanNode).start < time) low = middle + 1
    else high = middle
  }
  return low
}

function byStart(a: SpanNode, b: SpanNode): number {
  return a.start - b.start || a.end - b.end || compareIds(a.span.spanId, b.span.spanId)
}

function byEnd(a: SpanNode, b: SpanNode): number {
  return (
    b.end - a.end ||
    cancelled(a) - cancelled(b) ||
    a.start - b.start ||
    compareIds(a.span.spanId, b.span.spanId)
  )
}

/** 1 for a cancelled span: when it ends together with a sibling, that sibling is what ended it. */
function cancelled(node: SpanNode): number {
  return node.span.status === 'cancelled' ? 1 : 0
}
