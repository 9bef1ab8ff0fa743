// npm run bench:batch — what does a load cost, against DataLoader?
//
// In one run, side by side, each request a scope of its own (the same harness for both): DataLoader
// with an instance per request (its documented use), and a weft loader defined once and found through
// the ambient request. The batch function answers at once, so what is measured is the loaders' own
// cost per load: batching, the request cache, promises, and (for weft) the ambient lookup and the
// cancellation bookkeeping. Figures go to bench/results/batch.json.
//
// Each loader runs the workloads from a copy of their module of its own (imported under another
// URL), as a program using one loader library would: with one copy, a workload's call of `load` and
// the batch function served both libraries, and the compiler's type feedback there, polymorphic,
// slowed whichever it suited less. (Session 21, distinct keys: 1.16-1.25 of DataLoader with one
// copy against 0.96-1.07 with a copy each in a short scratch comparison; in this benchmark 1.08-1.16
// in seven runs with a copy each against 1.12-1.18 before.)
//
// Each workload runs in a process of its own (this script again, given the workload's index), both
// loaders side by side in it: in one process, a workload's figure depended on which ran before it.
// The heap the 10,000 distinct keys left behind made the single loads after them 1.15-1.32 of
// DataLoader in session 21's runs, against 1.03-1.06 alone or after a full collection (which the
// harness avoids: it slows node's own process.nextTick for the rest of the process).
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { currentSignal, scope } from 'weft'
import { loader } from 'weft/batch'
import type { Loads, Workload } from './batch-workloads.ts'
import { type Measured, measure, printTable, ratioIntervalsTo, ratiosTo, writeResults } from './harness.ts'

const require = createRequire(import.meta.url)
const DataLoader = require('dataloader') as typeof import('dataloader')

/** A copy of the workloads module of its own, for the loader named `copy`. */
async function workloadsFor(copy: string): Promise<typeof import('./batch-workloads.ts')> {
  return import(new URL(`./batch-workloads.ts?copy=${copy}`, import.meta.url).href)
}

const forDataLoader = await workloadsFor('dataloader')
const forWeft = await workloadsFor('weft')
const forWeftWithListeners = await workloadsFor('weft-with-listeners')
const weft = loader('bench', forWeft.backend.batchFn)

/**
 * The weft loader with cancellation through an AbortSignal listener per load (the task's own signal,
 * given explicitly), instead of its waiter being a leaf of the cancellation tree: what the cheaper
 * hook saves.
 */
const weftWithListeners: Loads = {
  load: (key) => weft.load(key, { signal: currentSignal() }),
}

/** One request of the workload in each loader's copy, `ofDataLoader` and `ofWeft`: round trips of each. */
async function roundTripsPerRequest(
  ofDataLoader: Workload,
  ofWeft: Workload,
): Promise<{ dataloader: number; weft: number }> {
  forDataLoader.backend.roundTrips = 0
  await scope((s) => ofDataLoader.run(newDataLoader(), s))
  forWeft.backend.roundTrips = 0
  await scope((s) => ofWeft.run(weft, s))
  return { dataloader: forDataLoader.backend.roundTrips, weft: forWeft.backend.roundTrips }
}

/** A DataLoader for one request, on DataLoader's copy of the backend. */
function newDataLoader(): Loads {
  return new DataLoader(forDataLoader.backend.batchFn)
}

async function compare(index: number) {
  // The same workload, each loader's copy of it.
  const ofDataLoader = forDataLoader.workloads[index] as Workload
  const ofWeft = forWeft.workloads[index] as Workload
  const workload = ofDataLoader
  const trips = await roundTripsPerRequest(ofDataLoader, ofWeft)
  if (trips.dataloader !== trips.weft)
    throw new Error(`${workload.name}: round trips differ: ${JSON.stringify(trips)}`)
  const variants = [
    { name: 'DataLoader', op: () => scope((s) => ofDataLoader.run(newDataLoader(), s)) },
    { name: 'weft loader', op: () => scope((s) => ofWeft.run(weft, s)) },
  ]
  if (workload.name.includes('tasks')) {
    const ofWeftWithListeners = forWeftWithListeners.workloads[index] as Workload
    variants.push({
      name: 'weft, a signal listener per load',
      op: () => scope((s) => ofWeftWithListeners.run(weftWithListeners, s)),
    })
  }
  // Many short rounds: the ratio of the same code to itself, measured this way, stayed within 2%.
  const results = await measure(variants, { unitsPerOp: workload.loads, rounds: 31, msPerRound: 200 })
  const [dataloader, ours] = results as [Measured, Measured]
  return {
    workload: workload.name,
    loadsPerRequest: workload.loads,
    roundTripsPerRequest: trips.weft,
    results,
    ratioToDataLoader: ratiosTo(results, dataloader.name)[ours.name] ?? Number.NaN,
    ratioInterval: ratioIntervalsTo(results, dataloader.name)[ours.name] ?? [Number.NaN, Number.NaN],
  }
}

type Figure = Awaited<ReturnType<typeof compare>>

/** The figures of workload `index`, measured in a process of its own (see the module comment). */
function compareInOwnProcess(index: number): Figure {
  const output = execFileSync(process.execPath, [...process.execArgv, import.meta.filename, String(index)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return JSON.parse(output) as Figure
}

/** Prints the figures of every workload and writes them to bench/results/batch.json. */
function report(figures: Figure[]): void {
  console.log(
    '\nCost per load (ns, median of rounds), each request a scope: DataLoader instance per request vs weft ambient',
  )
  printTable(
    figures.map((figure) => ({
      workload: figure.workload,
      'round trips': figure.roundTripsPerRequest,
      DataLoader: figure.results[0]?.nsPerUnit ?? Number.NaN,
      weft: figure.results[1]?.nsPerUnit ?? Number.NaN,
      'weft / DataLoader': figure.ratioToDataLoader,
      '95% interval': figure.ratioInterval.map((ratio) => ratio.toFixed(2)).join('-'),
    })),
  )
  const listeners = figures.flatMap((figure) =>
    figure.results.filter((result) => result.name.includes('listener')),
  )
  for (const result of listeners) {
    console.log(
      `\nWith an AbortSignal listener per load instead of a cancellation-tree leaf: ${result.nsPerUnit.toFixed(0)} ns per load`,
    )
  }
  const file = writeResults('batch', { workloads: figures })
  console.log(`\nfigures written to ${file}`)
}

const only = process.argv[2]
// A child measures one workload and hands its figures to the parent as JSON.
if (only !== undefined) process.stdout.write(JSON.stringify(await compare(Number(only))))
else report(forDataLoader.workloads.map((_, index) => compareInOwnProcess(index)))
