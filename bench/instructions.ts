// npm run bench:instructions — what does a load cost, in instructions, against DataLoader?
//
// bench:batch's workloads, each run under valgrind's callgrind, which counts the instructions the
// process executes (the garbage collector's included: node runs single-threaded here). Timings on
// these shared 2-core machines drift by 10% and more between runs of the same code; the instruction
// counts of its runs differed by 2% at most (most by a few instructions a load). They say nothing of
// cache misses, so they complement the timed bench:batch rather than replace it.
//
// Each count is the difference between a run of about FEW_LOADS and one of MANY_LOADS loads (whole
// requests, each a scope as in bench:batch), divided by the loads in between: start-up, module loading
// and compiling cancel out, and what is left is the steady cost of a load. The counts depend on the
// heap the loads run in (how often it is collected): compare figures of one run, not of runs with
// other settings. Needs valgrind (`apt-get install -y valgrind`).
// Figures go to bench/results/instructions.json.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { availableParallelism } from 'node:os'
import { map, scope } from 'weft'
import { loader } from 'weft/batch'
import { backend, type Workload, workloads } from './batch-workloads.ts'
import { printTable, repeatableNodeFlags, requireCommand, writeResults } from './harness.ts'

const FEW_LOADS = 200_000
const MANY_LOADS = 600_000
const LOADERS = ['DataLoader', 'weft'] as const
type LoaderName = (typeof LOADERS)[number]

/** In a child process under callgrind: `requests` requests of workload `index` through `name`. */
async function runRequests(name: LoaderName, index: number, requests: number): Promise<void> {
  const workload = workloads[index]
  if (workload === undefined) throw new Error(`no workload ${index}`)
  const require = createRequire(import.meta.url)
  const DataLoader = require('dataloader') as typeof import('dataloader')
  const weft = loader('bench', backend.batchFn)
  for (let i = 0; i < requests; i++) {
    await scope((s) => workload.run(name === 'weft' ? weft : new DataLoader(backend.batchFn), s))
  }
}

/** The instructions callgrind counted for one child run (killed if `signal` aborts). */
async function countInstructions(
  name: LoaderName,
  index: number,
  requests: number,
  signal: AbortSignal,
): Promise<number> {
  const child = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--callgrind-out-file=/dev/null',
      process.execPath,
      ...repeatableNodeFlags,
      import.meta.filename,
      '--run',
      name,
      String(index),
      String(requests),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], signal },
  )
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr += text
  })
  const [code] = await once(child, 'exit')
  const collected = /Collected : (\d+)/.exec(stderr)
  if (code !== 0 || collected === null) {
    throw new Error(
      `callgrind run of ${name}, workload ${index} failed (exit ${code}):\n${stderr.slice(-2000)}`,
    )
  }
  return Number(collected[1])
}

async function main(): Promise<void> {
  requireCommand('valgrind', 'bench:instructions')
  const requestsFor = (loads: number, workload: Workload) => Math.max(1, Math.round(loads / workload.loads))
  // Per workload and loader: a run of a few requests and one of many.
  const pairs = workloads.flatMap((workload, index) =>
    LOADERS.map((name) => ({
      workload,
      index,
      name,
      few: requestsFor(FEW_LOADS, workload),
      many: requestsFor(MANY_LOADS, workload),
    })),
  )
  console.log(`${2 * pairs.length} callgrind runs of about ${FEW_LOADS} and ${MANY_LOADS} loads...`)
  // Each run counts its own instructions: running them side by side changes no count. A failed run
  // cancels the others (their valgrind processes are killed).
  const runs = pairs.flatMap((pair) => [pair.few, pair.many].map((requests) => ({ ...pair, requests })))
  const counts = await map(
    runs,
    (run, _index, { signal }) => countInstructions(run.name, run.index, run.requests, signal),
    { concurrency: availableParallelism() },
  )
  const perLoad = pairs.map(
    (pair, i) =>
      ((counts[2 * i + 1] as number) - (counts[2 * i] as number)) /
      ((pair.many - pair.few) * pair.workload.loads),
  )
  const figures = workloads.map((workload, index) => {
    const dataloader =
      perLoad[pairs.findIndex((pair) => pair.index === index && pair.name === 'DataLoader')] ?? Number.NaN
    const weft =
      perLoad[pairs.findIndex((pair) => pair.index === index && pair.name === 'weft')] ?? Number.NaN
    return { workload: workload.name, dataloader, weft, ratioToDataLoader: weft / dataloader }
  })
  console.log(
    '\nInstructions per load (callgrind), each request a scope: DataLoader instance per request vs weft ambient',
  )
  printTable(
    figures.map((figure) => ({
      workload: figure.workload,
      DataLoader: Math.round(figure.dataloader),
      weft: Math.round(figure.weft),
      'weft / DataLoader': figure.ratioToDataLoader,
    })),
  )
  const file = writeResults('instructions', {
    method: `callgrind instruction counts (node --single-threaded --predictable): (count of about ${MANY_LOADS} loads - count of about ${FEW_LOADS}) / the loads between, in whole requests`,
    workloads: figures,
  })
  console.log(`\nfigures written to ${file}`)
}

if (process.argv[2] === '--run') {
  await runRequests(process.argv[3] as LoaderName, Number(process.argv[4]), Number(process.argv[5]))
} else {
  await main()
}
