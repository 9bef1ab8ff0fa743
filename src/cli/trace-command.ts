/**
 * `weft trace <id | file.json>`: a trace in the terminal. The trace comes from a file (the JSON of
 * `GET /_weft/traces/:id`, or of `JSON.stringify(trace)`; `-` reads standard input), or, given a
 * trace id, from a running service's `/_weft/traces/:id` (`--url`, else `WEFT_URL`, else
 * http://127.0.0.1:3000). It prints the waterfall, then the critical path as each span's own time on
 * it, largest first, then the spans off the path that came closest to it (least slack first).
 */
import { readFile } from 'node:fs/promises'
import { criticalPath } from '../trace/critical-path.ts'
import type { TraceData } from '../trace/span.ts'
import { parseTrace } from '../trace/trace-data.ts'
import { formatDuration, renderWaterfall } from '../trace/waterfall.ts'

/** Where the command writes, and what it reads of its environment. */
export interface CommandIo {
  out: (text: string) => void
  /** All of standard input, for the source `-`. */
  stdin: () => Promise<string>
  env: Readonly<Record<string, string | undefined>>
}

/** What the command was asked to do, its arguments checked. */
export interface TraceCommand {
  /** A trace id (32 lowercase hex digits) or a file name. */
  source: string
  url: string | undefined
  width: number
  color: boolean
}

/** A failure to report in one line (exit 1), not as a stack trace. */
export class CommandFailed extends Error {
  override name = 'CommandFailed'
}

const traceId = /^[0-9a-f]{32}$/
const defaultUrl = 'http://127.0.0.1:3000'
const listed = 10

/** Runs `weft trace`, printing to `io.out`; throws {@link CommandFailed} with the reason when it cannot. */
export async function traceCommand(command: TraceCommand, io: CommandIo): Promise<void> {
  const trace = await load(command, io)
  const { width, color } = command
  io.out(`${renderWaterfall(trace, { width, color })}\n`)
  if (trace.spans.length === 0) return
  const { segments, slack, duration, path } = criticalPath(trace)
  const own = new Map<string, { name: string; ms: number }>()
  for (const segment of segments) {
    const entry = own.get(segment.span.spanId) ?? { name: segment.span.name, ms: 0 }
    entry.ms += segment.end - segment.start
    own.set(segment.span.spanId, entry)
  }
  const byTime = [...own.values()].sort((a, b) => b.ms - a.ms)
  const lines = [
    '',
    `critical path, ${formatDuration(duration)} over ${path.length} spans: where the time went (each span's own time on it)`,
    ...byTime.slice(0, listed).map(({ name, ms }) => `  ${row(ms, duration)}  ${name}`),
  ]
  if (byTime.length > listed)
    lines.push(`  … and ${byTime.length - listed} more spans, ${formatDuration(rest(byTime))}`)
  const onPath = new Set(path.map((span) => span.spanId))
  const nearly = trace.spans
    .filter((span) => !onPath.has(span.spanId))
    .map((span) => ({ name: span.name, slack: slack.get(span.spanId) ?? 0 }))
    .sort((a, b) => a.slack - b.slack)
  if (nearly.length > 0) {
    lines.push(
      '',
      'off the path, least slack first (how much later each could have ended without delaying the request):',
    )
    for (const { name, slack: ms } of nearly.slice(0, listed)) {
      lines.push(`  ${`slack ${formatDuration(ms)}`.padStart(16)}  ${name}`)
    }
  }
  io.out(`${lines.join('\n')}\n`)
}

function row(ms: number, total: number): string {
  const share = total === 0 ? 0 : Math.round((ms / total) * 100)
  return `${formatDuration(ms).padStart(9)} ${`${share}%`.padStart(4)}`
}

function rest(sorted: readonly { ms: number }[]): number {
  return sorted.slice(listed).reduce((sum, { ms }) => sum + ms, 0)
}

/** The trace the source names: a file when one exists by that name (or it is no id), else the service's. */
async function load(command: TraceCommand, io: CommandIo): Promise<TraceData> {
  const { source } = command
  let text: string
  try {
    text = source === '-' ? await io.stdin() : await readFile(source, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' && traceId.test(source))
      return fetchTrace(source, command.url ?? io.env.WEFT_URL ?? defaultUrl)
    const why =
      code === 'ENOENT'
        ? 'no such file (nor is it a trace id: 32 lowercase hex digits)'
        : (error as Error).message
    throw new CommandFailed(`cannot read ${source}: ${why}`)
  }
  try {
    return parseTrace(text)
  } catch (error) {
    throw new CommandFailed(`${source} is not a trace: ${(error as Error).message}`)
  }
}

async function fetchTrace(id: string, base: string): Promise<TraceData> {
  const where = URL.parse(base)
  if (where === null || !['http:', 'https:'].includes(where.protocol)) {
    throw new CommandFailed(
      `the service's URL must start with http:// or https://, got ${JSON.stringify(base)}`,
    )
  }
  const url = new URL(`/_weft/traces/${id}`, where)
  let response: Response
  try {
    response = await fetch(url, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(10_000),
    })
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause
    const why = cause?.code ?? cause?.message ?? (error as Error).message
    throw new CommandFailed(
      `cannot reach the service at ${where.origin} (${why}): is it running (npm start)? Give its address with --url or WEFT_URL`,
    )
  }
  const body = await response.text()
  if (response.status === 404)
    throw new CommandFailed(`no trace ${id} at ${where.origin}: it may have been sampled out, or forgotten`)
  if (!response.ok) {
    let message = body.slice(0, 200)
    try {
      message = JSON.parse(body).message ?? message
    } catch {}
    throw new CommandFailed(`${url} answered ${response.status}: ${message}`)
  }
  try {
    return parseTrace(body)
  } catch (error) {
    throw new CommandFailed(`${url} did not answer a trace: ${(error as Error).message}`)
  }
}
