// The `weft` command's process: runs the command line on this process's arguments and streams.
import { text } from 'node:stream/consumers'
import { runWeft } from './weft.ts'

process.exitCode = await runWeft(process.argv.slice(2), {
  out: (message) => process.stdout.write(message),
  err: (message) => process.stderr.write(message),
  stdin: () => text(process.stdin),
  env: process.env,
  columns: process.stdout.isTTY ? process.stdout.columns : undefined,
  tty: process.stdout.isTTY === true,
})
