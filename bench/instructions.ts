// npm run bench:instructions — what does a load cost, in instructions, against DataLoader?
//
// bench:batch's workloads, each run under valgrind's callgrind, which counts the instructions the
// process executes (the garbage collector's included: node runs single-threaded here). Timings on
// these shared 2-core machines drift by 10% and more between runs of the same code; the instruction
// counts of its runs differed by 2% at most (most by a few instructions a load). They say nothing of
// cache misses, so they complement the timed bench:batch rather than replace it.
//
// Each figure is the slope of a least-squares line through the counts of runs of 1 to 5 times
// STEP_LOADS loads (whole requests, each a scope as in bench:batch): start-up, module loading and
// compiling fall in the intercept, and what is left is the steady cost of a load. A line through
// five runs rather than the difference of two, because where the collections fall moves with the
// run's length: the difference of runs of 200,000 and 600,000 loads put DataLoader's distinct keys
// at 2,756 instructions a load, of 300,000 and 900,000 at 2,410. Even so, the counts of these
// workloads, the collector's share large, move by several percent with any change of the code that
// moves the heap (of the benchmark's too): compare the figures of one run. Needs valgrind
// (`apt-get install -y valgrind`).
// Figures go to bench/results/instructions.json.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { availableParallelism } from 'node:os'
import { map, scope } from 'weft'
import { loader } from 'weft/batch'
import { backend, type Workload, workloads } from './batch-workloads.ts'
import { printTable, repeatableNodeFlags, requireCommand, writeResults } from './harness.ts'

const STEP_LOADS = 200_000
const STEPS = [1, 2, 3, 4, 5]
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
  // Per workload and loader: runs of 1 to 5 steps of loads.
  const lines = workloads.flatMap((workload, index) =>
    LOADERS.map((name) => ({
      workload,
      index,
      name,
      requests: STEPS.map((step) => requestsFor(step * STEP_LOADS, workload)),
    })),
  )
  const runs = lines.flatMap((line) => line.requests.map((requests) => ({ ...line, requests })))
  console.log(`${runs.length} callgrind runs of ${STEP_LOADS} to ${STEPS.length * STEP_LOADS} loads...`)
  // Each run counts its own instructions: running them side by side changes no count. A failed run
  // cancels the others (their valgrind processes are killed).
  const counts = await map(
    runs,
    (run, _index, { signal }) => countInstructions(run.name, run.index, run.requests, signal),
    { concurrency: availableParallelism() },
  )
  const perLoad = lines.map((line, i) =>
    slope(
      line.requests.map((requests) => requests * line.workload.loads),
      counts.slice(i * STEPS.length, (i + 1) * STEPS.length),
    ),
  )
  const figures = workloads.map((workload, index) => {
    const of = (name: LoaderName) =>
      perLoad[lines.findIndex((line) => line.index === index && line.name === name)] ?? Number.NaN
    const dataloader = of('DataLoader')
    const weft = of('weft')
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
    method: `callgrind instruction counts (node ${repeatableNodeFlags.join(' ')}): slope of the least-squares line through the counts of runs of ${STEPS.map((step) => step * STEP_LOADS).join(', ')} loads, in whole requests`,
    workloads: figures,
  })
  console.log(`\nfigures written to ${file}`)
}

/** The slope of the least-squares line through the points (xs[i], ys[i]). */
function slope(xs: readonly number[], ys: readonly number[]): number {
  const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length
  const meanX = mean(xs)
  const meanY = mean(ys)
  let covariance = 0
  let variance = 0
  xs.forEach((x, i) => {
    covariance += (x - meanX) * ((ys[i] as number) - meanY)
    variance += (x - meanX) ** 2
  })
  return covariance / variance
}

if (process.argv[2] === '--run') {
  await runRequests(process.argv[3] as LoaderName, Number(process.argv[4]), Number(process.argv[5]))
} else {
  await main()
}
