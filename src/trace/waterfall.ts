import { checkCount, checkOptions, describe } from '../core/validate.ts'
import { criticalPathOf } from './critical-path.ts'
import type { SpanData } from './span.ts'
import { type SpanNode, spansOf, spanTree, type TraceInput } from './trace-data.ts'

/** Options of {@link renderWaterfall}. */
export interface WaterfallOptions {
  /** Columns of each line (the time bars take what the names leave). Default 100, at least 40. */
  width?: number
  /** Colour with ANSI escapes: the critical path in red, errors red, cancellations yellow. Default false. */
  color?: boolean
}

const ansi = { bold: 1, dim: 2, red: 31, yellow: 33, magenta: 35, cyan: 36 } as const
type Style = keyof typeof ansi

/**
 * Draws a trace as a terminal waterfall: a header (root, total duration, span count, trace id, then
 * the critical path as `a > b > c`), a time axis, and one line per span, indented by depth, with
 * its duration, its outcome (`error`, `cancelled`, or `open` while it runs) and a bar on the axis.
 * Spans on the critical path are marked `*`; after each other span's bar, dots show its slack (how
 * much later it could have ended without delaying the request). The output depends only on the
 * trace and the options, so it can be compared in tests; it has no trailing newline.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { renderWaterfall, scope, sleep, type Trace } from 'weft'
 * import { withVirtualClock } from 'weft/testing'
 * const traces: Trace[] = []
 * await withVirtualClock((clock) =>
 *   clock.run(
 *     scope({ name: 'request', trace: (trace) => traces.push(trace) }, async (s) => {
 *       s.spawn('cache', () => sleep(10))
 *       s.spawn('database', () => sleep(40))
 *     }),
 *   ),
 * )
 * const [header, ...rest] = renderWaterfall(traces[0]!, { width: 60 }).split('\n')
 * assert.equal(header, `request · 40.0 ms · 3 spans · trace ${traces[0]!.id}`)
 * assert.deepEqual(rest, [
 *   'critical path: request > database',
 *   '                      0                             40.0 ms',
 *   '* request    40.0 ms │█████████████████████████████████████│',
 *   '    cache    10.0 ms │█████████····························│',
 *   '*   database 40.0 ms │█████████████████████████████████████│',
 * ])
 * ```
 */
export function renderWaterfall(trace: TraceInput, options: WaterfallOptions = {}): string {
  checkOptions('renderWaterfall()', options)
  const { width = 100, color = false } = options
  checkCount('renderWaterfall()', 'options.width', width, 40)
  if (typeof color !== 'boolean') {
    throw new TypeError(`renderWaterfall(): options.color must be a boolean, got ${describe(color)}`)
  }
  const layout = layoutOf(trace, 'renderWaterfall()')
  if (layout === undefined) return 'no spans'
  const paint = (text: string, ...styles: Style[]): string =>
    color && styles.length > 0 && text !== ''
      ? `\x1b[${styles.map((s) => ansi[s]).join(';')}m${text}\x1b[0m`
      : text
  const { path, duration } = layout

  const rows = layout.rows.map((row) => ({
    row,
    label: `${'  '.repeat(row.depth)}${row.span.name}`,
    took: formatDuration(row.duration),
    outcome: outcome(row.span),
  }))
  const tookWidth = Math.max(...rows.map((row) => row.took.length))
  const outcomeWidth = Math.max(...rows.map((row) => row.outcome.length))
  // A line is "* " label " " duration [" " outcome] " │" bar "│": names get up to a third of the
  // width, but never so much that the bars get fewer than 10 columns.
  const fixed = 2 + 1 + tookWidth + (outcomeWidth > 0 ? 1 + outcomeWidth : 0) + 2 + 1
  const longest = Math.max(...rows.map((row) => row.label.length))
  const labelWidth = Math.max(4, Math.min(longest, Math.floor(width / 3), width - fixed - 10))
  const barWidth = Math.max(1, width - fixed - labelWidth)
  const barOffset = width - barWidth - 1
  const column = (time: number): number => (duration === 0 ? 0 : Math.round((time / duration) * barWidth))

  const lines = [
    `${layout.name} · ${formatDuration(duration)} · ${plural(rows.length, 'span')} · trace ${layout.traceId}`,
    ...wrap(
      'critical path: ',
      path.map((span, i) => (i < path.length - 1 ? `${span.name} >` : span.name)),
      width,
    ),
    `${' '.repeat(barOffset)}0${formatDuration(duration).padStart(barWidth - 1)}`,
  ]
  for (const { row, label, took, outcome: ended } of rows) {
    const start = Math.min(column(row.start), barWidth - 1)
    const end = Math.max(start + 1, column(row.end))
    const slackEnd = Math.min(barWidth, Math.max(end, column(row.end + row.slack)))
    const fill = row.end > row.start ? '█'.repeat(end - start) : '▏'
    const bar =
      ' '.repeat(start) +
      paint(fill, ...(row.critical ? (['bold', 'red'] as const) : (['cyan'] as const))) +
      paint('·'.repeat(slackEnd - end), 'dim') +
      ' '.repeat(barWidth - slackEnd)
    const name = label.length > labelWidth ? `${label.slice(0, labelWidth - 1)}…` : label.padEnd(labelWidth)
    const status = outcomeWidth > 0 ? ` ${paint(ended.padEnd(outcomeWidth), ...outcomeStyle(ended))}` : ''
    lines.push(
      `${row.critical ? '*' : ' '} ${row.critical ? paint(name, 'bold') : name} ${took.padStart(tookWidth)}${status} │${bar}│`,
    )
  }
  return lines.join('\n')
}

/** One span's row of a waterfall: where it sits on the time axis, and what it cost. */
export interface WaterfallRow {
  readonly span: SpanData
  /** Nesting: 0 for the root. */
  readonly depth: number
  /**
   * Where the span sits on the axis, in milliseconds since the trace's start: clipped to its
   * parent's interval, and an open span running until the trace's end.
   */
  readonly start: number
  readonly end: number
  /** The span's own duration in milliseconds (unclipped; an open one's so far). */
  readonly duration: number
  /** On the critical path. */
  readonly critical: boolean
  /** How many milliseconds later it could have ended without the request ending later. */
  readonly slack: number
  /**
   * Its lane among its siblings: siblings in one lane never overlap in time, so spans running in
   * parallel are in different lanes; 0 is the first.
   */
  readonly lane: number
  /** How many lanes its siblings needed: the most of them that ran at once. */
  readonly lanes: number
}

/** A trace laid out as a waterfall: what {@link renderWaterfall} draws, for other renderers. */
export interface WaterfallLayout {
  readonly traceId: string
  /** The root span's name. */
  readonly name: string
  /** The trace's start, epoch milliseconds. */
  readonly start: number
  /** The root's duration in milliseconds: the axis's length. */
  readonly duration: number
  /** Every span, depth first, children in the order they started: the waterfall's lines. */
  readonly rows: readonly WaterfallRow[]
  /** The critical path, root first (see `criticalPath`). */
  readonly path: readonly SpanData[]
}

/**
 * Lays a trace out as a waterfall, for renderers other than the terminal's (an HTML page): one row
 * per span in the order {@link renderWaterfall} draws them, each placed on a time axis starting at
 * 0, with its depth, its lane among its siblings, whether it is on the critical path, and its
 * slack. Imperfect traces are read as `criticalPath` reads them. Undefined for a trace without spans.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { scope, sleep, type Trace, waterfallLayout } from 'weft'
 * import { withVirtualClock } from 'weft/testing'
 * const traces: Trace[] = []
 * await withVirtualClock((clock) =>
 *   clock.run(
 *     scope({ name: 'request', trace: (trace) => traces.push(trace) }, async (s) => {
 *       s.spawn('cache', () => sleep(10))
 *       s.spawn('database', () => sleep(40))
 *     }),
 *   ),
 * )
 * const layout = waterfallLayout(traces[0]!)!
 * assert.equal(layout.duration, 40)
 * assert.deepEqual(
 *   layout.rows.map(({ span, depth, start, end, critical, slack, lane, lanes }) =>
 *     [span.name, depth, start, end, critical, slack, `${lane + 1} of ${lanes}`]),
 *   [
 *     ['request', 0, 0, 40, true, 0, '1 of 1'],
 *     ['cache', 1, 0, 10, false, 30, '1 of 2'], // ran alongside the database: another lane
 *     ['database', 1, 0, 40, true, 0, '2 of 2'],
 *   ],
 * )
 * ```
 */
export function waterfallLayout(trace: TraceInput): WaterfallLayout | undefined {
  return layoutOf(trace, 'waterfallLayout()')
}

function layoutOf(trace: TraceInput, where: string): WaterfallLayout | undefined {
  const tree = spanTree(spansOf(trace, where), where)
  if (tree === undefined) return undefined
  const { path, slack, duration } = criticalPathOf(tree)
  const critical = new Set(path.map((span) => span.spanId))
  const { root } = tree
  const lanes = lanesOf(tree.nodes)
  const rows = tree.nodes.map((node): WaterfallRow => {
    const [lane, count] = lanes.get(node) ?? [0, 1]
    return {
      span: node.span,
      depth: node.depth,
      start: node.start - root.start,
      end: node.end - root.start,
      duration: (node.span.end ?? node.end) - node.span.start,
      critical: critical.has(node.span.spanId),
      slack: slack.get(node.span.spanId) ?? 0,
      lane,
      lanes: count,
    }
  })
  return { traceId: root.span.traceId, name: root.span.name, start: root.start, duration, rows, path }
}

/**
 * Each span's lane among its siblings, and how many lanes they took: the classic greedy colouring of
 * intervals, which, going through them in start order, needs exactly as many lanes as the most
 * intervals overlapping at once.
 */
function lanesOf(nodes: readonly SpanNode[]): Map<SpanNode, [lane: number, lanes: number]> {
  const lanes = new Map<SpanNode, [number, number]>()
  for (const parent of nodes) {
    const ends: number[] = []
    const placed: [SpanNode, number][] = []
    for (const child of parent.children) {
      // A zero-length span at another's end did not run alongside it.
      let lane = ends.findIndex((end) => end <= child.start)
      if (lane === -1) lane = ends.push(child.end) - 1
      else ends[lane] = child.end
      placed.push([child, lane])
    }
    for (const [child, lane] of placed) lanes.set(child, [lane, ends.length])
  }
  return lanes
}

function outcome(span: SpanData): string {
  const { status, end } = span
  if (status === 'error' || status === 'cancelled') return status
  return end === undefined ? 'open' : ''
}

function outcomeStyle(outcome: string): Style[] {
  return outcome === 'error'
    ? ['red']
    : outcome === 'cancelled'
      ? ['yellow']
      : outcome === 'open'
        ? ['magenta']
        : []
}

/** `prefix` then the words, space separated, broken into lines of at most `width` where it can. */
function wrap(prefix: string, words: readonly string[], width: number): string[] {
  const lines: string[] = []
  let line = prefix
  for (const word of words) {
    if (line === prefix) line += word
    else if (line.length + 1 + word.length > width) {
      lines.push(line)
      line = ' '.repeat(prefix.length) + word
    } else line += ` ${word}`
  }
  lines.push(line)
  return lines
}

/**
 * Milliseconds as the waterfall writes them, to three significant digits or so, so that other
 * renderers of a trace read the same.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { formatDuration } from 'weft'
 * assert.deepEqual([0.25, 35, 250, 1250].map(formatDuration), ['0.25 ms', '35.0 ms', '250 ms', '1.25 s'])
 * ```
 */
export function formatDuration(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`
  return `${ms.toFixed(ms < 10 ? 2 : ms < 100 ? 1 : 0)} ms`
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
}
