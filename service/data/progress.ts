/**
 * A terminal view of `LoadProgress`: live bars, one line per data set, when stderr is a terminal; a
 * few plain lines (started, finished) when it is a log file or a pipe, where redrawing would only
 * leave a trail of half-lines.
 */
import { clock } from 'weft'
import type { LoadProgress } from './load.ts'

/** Where the progress goes: a writable stream, a terminal when `isTTY` is true. */
export interface ProgressStream {
  write(text: string): unknown
  isTTY?: boolean
  columns?: number
}

/** Options of {@link progressBar}. */
export interface ProgressBarOptions {
  /** Defaults to `process.stderr`, keeping stdout for the service's own output. */
  stream?: ProgressStream
  /** Least time between two redraws of the bars, in ms; state changes always redraw. Default 100. */
  interval?: number
}

interface Line {
  progress: LoadProgress
  started: number
  /** When the load ended (loaded or reused), so its time stops counting. */
  ended: number | undefined
}

const barWidth = 28

/**
 * A function to pass as `onProgress` to the loaders that renders their progress on `stream`.
 * Redraws are throttled to one per `interval`, so a fast load does not flood the terminal.
 */
export function progressBar(options: ProgressBarOptions = {}): (progress: LoadProgress) => void {
  const { stream = process.stderr, interval = 100 } = options
  if (typeof stream?.write !== 'function') {
    throw new TypeError(`progressBar: stream must have a write method, got ${String(stream)}`)
  }
  if (typeof interval !== 'number' || !(interval >= 0)) {
    throw new TypeError(
      `progressBar: interval must be a number of milliseconds, 0 or more, got ${String(interval)}`,
    )
  }
  const lines = new Map<string, Line>()
  let drawn = 0
  let lastDraw = Number.NEGATIVE_INFINITY

  return (progress) => {
    const now = clock().now()
    const previous = lines.get(progress.dataset)
    const started = previous?.started ?? now
    const ended = progress.state === 'loading' ? undefined : (previous?.ended ?? now)
    lines.set(progress.dataset, { progress, started, ended })
    const changed = previous?.progress.state !== progress.state
    if (stream.isTTY === true) {
      if (!changed && now - lastDraw < interval) return
      lastDraw = now
      // Move back up over the bars drawn last time and draw them all again, in place.
      let text = drawn > 0 ? `\x1b[${drawn}A` : ''
      for (const line of lines.values()) text += `\r\x1b[2K${barLine(line, now, stream.columns || 80)}\n`
      drawn = lines.size
      stream.write(text)
    } else if (changed) {
      stream.write(`${plainLine(progress, now - started)}\n`)
    }
  }
}

function barLine({ progress, started, ended }: Line, now: number, columns: number): string {
  const elapsed = (ended ?? now) - started
  const name = progress.dataset.padEnd(12)
  if (progress.state !== 'loading') return `${name} ${summary(progress, elapsed)}`
  const fraction = progress.total ? Math.min(1, progress.rows / progress.total) : 0
  const filled = Math.round(fraction * barWidth)
  const bar = `[${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}]`
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4)
  const count = `${progress.rows.toLocaleString('en')}${progress.total ? `/${progress.total.toLocaleString('en')}` : ''}`
  return `${name} ${bar} ${percent} ${count} rows ${seconds(elapsed)}`.slice(0, Math.max(20, columns - 1))
}

function plainLine(progress: LoadProgress, elapsed: number): string {
  if (progress.state === 'loading') {
    const total = progress.total === undefined ? '' : `, ${progress.total.toLocaleString('en')} rows`
    return `${progress.dataset}: loading ${progress.version}${total}...`
  }
  return `${progress.dataset}: ${summary(progress, elapsed)}`
}

function summary(progress: LoadProgress, elapsed: number): string {
  const rows = `${progress.rows.toLocaleString('en')} rows`
  return progress.state === 'reused'
    ? `reused ${rows} (${progress.version})`
    : `loaded ${rows} in ${seconds(elapsed)} (${progress.version})`
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}
