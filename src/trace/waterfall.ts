import { checkCount, checkOptions, describe } from '../core/validate.ts'
import { criticalPathOf } from './critical-path.ts'
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
  const tree = spanTree(spansOf(trace, 'renderWaterfall()'), 'renderWaterfall()')
  if (tree === undefined) return 'no spans'
  const paint = (text: string, ...styles: Style[]): string =>
    color && styles.length > 0 && text !== ''
      ? `\x1b[${styles.map((s) => ansi[s]).join(';')}m${text}\x1b[0m`
      : text
  const { path, slack, duration } = criticalPathOf(tree)
  const critical = new Set(path.map((span) => span.spanId))
  const { root } = tree

  const rows = tree.nodes.map((node) => ({
    node,
    label: `${'  '.repeat(node.depth)}${node.span.name}`,
    took: formatDuration((node.span.end ?? node.end) - node.span.start),
    outcome: outcome(node),
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
  const column = (time: number): number =>
    duration === 0 ? 0 : Math.round(((time - root.start) / duration) * barWidth)

  const lines = [
    `${root.span.name} · ${formatDuration(duration)} · ${plural(tree.nodes.length, 'span')} · trace ${root.span.traceId}`,
    ...wrap(
      'critical path: ',
      path.map((span, i) => (i < path.length - 1 ? `${span.name} >` : span.name)),
      width,
    ),
    `${' '.repeat(barOffset)}0${formatDuration(duration).padStart(barWidth - 1)}`,
  ]
  for (const { node, label, took, outcome: ended } of rows) {
    const onPath = critical.has(node.span.spanId)
    const start = Math.min(column(node.start), barWidth - 1)
    const end = Math.max(start + 1, column(node.end))
    const slackEnd = Math.min(barWidth, Math.max(end, column(node.end + (slack.get(node.span.spanId) ?? 0))))
    const fill = node.end > node.start ? '█'.repeat(end - start) : '▏'
    const bar =
      ' '.repeat(start) +
      paint(fill, ...(onPath ? (['bold', 'red'] as const) : (['cyan'] as const))) +
      paint('·'.repeat(slackEnd - end), 'dim') +
      ' '.repeat(barWidth - slackEnd)
    const name = label.length > labelWidth ? `${label.slice(0, labelWidth - 1)}…` : label.padEnd(labelWidth)
    const status = outcomeWidth > 0 ? ` ${paint(ended.padEnd(outcomeWidth), ...outcomeStyle(ended))}` : ''
    lines.push(
      `${onPath ? '*' : ' '} ${onPath ? paint(name, 'bold') : name} ${took.padStart(tookWidth)}${status} │${bar}│`,
    )
  }
  return lines.join('\n')
}

function outcome(node: SpanNode): string {
  const { status, end } = node.span
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

/** Milliseconds to three significant digits or so: `0.25 ms`, `35.0 ms`, `250 ms`, `1.25 s`. */
function formatDuration(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`
  return `${ms.toFixed(ms < 10 ? 2 : ms < 100 ? 1 : 0)} ms`
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
}
