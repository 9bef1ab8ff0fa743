#!/usr/bin/env node
// The `weft` command: `npx weft trace <id | file.json>` (src/cli/weft.ts has the commands). Plain
// JavaScript, so that whichever node starts it can read it. Installed as a dependency, it runs the
// built commands (dist/: node does not strip types under node_modules). In this repository it runs
// their TypeScript source, which Node runs from version 24: in this process on Node 24 or later, and
// on an older node (the machine's may be older than the project's) in a child under the project's
// Node 24, the `node` package's binary in node_modules.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const installed = fileURLToPath(import.meta.url)
  .split(/[\\/]/)
  .includes('node_modules')
const cli = new URL(installed ? '../dist/cli/main.js' : '../src/cli/main.ts', import.meta.url)
const major = Number(process.versions.node.split('.')[0])
if (installed || major >= 24) {
  await import(cli.href)
} else {
  const node = ['../node_modules/.bin/node', '../node_modules/node/bin/node']
    .map((path) => fileURLToPath(new URL(path, import.meta.url)))
    .find((path) => existsSync(path))
  if (node === undefined) {
    console.error(`weft: needs Node.js 24 or later, this is ${process.version} (and node_modules has none)`)
    process.exit(1)
  }
  const child = spawnSync(node, ['--conditions=source', fileURLToPath(cli), ...process.argv.slice(2)], {
    stdio: 'inherit',
  })
  if (child.error !== undefined) {
    console.error(`weft: cannot start ${node}: ${child.error.message}`)
    process.exit(1)
  }
  process.exit(child.status ?? 1)
}
