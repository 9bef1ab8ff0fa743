// The `weft` command's process: runs the command line on this process's arguments and streams.
import { runWeft } from './weft.ts'

process.exitCode = await runWeft(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  columns: process.stdout.isTTY ? process.stdout.columns : undefined,
  tty: process.stdout.isTTY === true,
})
