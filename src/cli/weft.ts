/**
 * The `weft` command line (bin/weft.js starts it): its commands, their arguments, and what a failure
 * prints. Commands throw; this module turns a failure into one line on stderr and an exit code: 1
 * when the command could not do its job, 2 when it was asked wrongly (with the usage).
 */
import { parseArgs } from 'node:util'
import { CommandFailed, type CommandIo, traceCommand } from './trace-command.ts'

export const usage = `usage: weft trace <trace id | file.json> [--url <service URL>] [--width <columns>] [--color | --no-color]

  weft trace <file.json>   prints the waterfall and critical path of a trace saved as JSON
                           (GET /_weft/traces/:id's answer, or JSON.stringify(trace)); - reads stdin
  weft trace <trace id>    the same for a trace of a running service: --url, else WEFT_URL,
                           else http://127.0.0.1:3000
`

/** What the command line needs of the process: its output streams, environment and terminal. */
export interface CliIo extends CommandIo {
  err: (text: string) => void
  /** The terminal's width, when stdout is one. */
  columns: number | undefined
  /** stdout is a terminal (colour by default, unless NO_COLOR is set). */
  tty: boolean
}

/** A mistake in the command line itself: exit 2, with the usage. */
class UsageError extends Error {}

/** Runs the command line `args` (without node and the script); resolves to the exit code. */
export async function runWeft(args: readonly string[], io: CliIo): Promise<number> {
  try {
    const [command, ...rest] = args
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      ;(command === undefined ? io.err : io.out)(usage)
      return command === undefined ? 2 : 0
    }
    if (command !== 'trace') throw new UsageError(`unknown command ${JSON.stringify(command)}`)
    await traceCommand(traceArgs(rest, io), io)
    return 0
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`weft: ${error.message}\n${usage}`)
      return 2
    }
    if (error instanceof CommandFailed) {
      io.err(`weft trace: ${error.message}\n`)
      return 1
    }
    throw error
  }
}

function traceArgs(args: readonly string[], io: CliIo) {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(args)
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const { positionals, values } = parsed
  if (positionals.length !== 1) {
    throw new UsageError(
      `trace takes one trace id or file, got ${positionals.length === 0 ? 'none' : positionals.length}`,
    )
  }
  const widthText = values.width
  const width = widthText === undefined ? Math.max(60, Math.min(io.columns ?? 100, 200)) : Number(widthText)
  if (widthText !== undefined && !(/^\d+$/.test(widthText) && width >= 40)) {
    throw new UsageError(
      `--width must be a whole number of columns, at least 40, got ${JSON.stringify(widthText)}`,
    )
  }
  const noColor = io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== ''
  const color = values.color ?? (io.tty && !noColor)
  return { source: positionals[0] as string, url: values.url, width, color }
}

function parse(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    allowPositionals: true,
    allowNegative: true,
    options: { url: { type: 'string' }, width: { type: 'string' }, color: { type: 'boolean' } },
  })
}
