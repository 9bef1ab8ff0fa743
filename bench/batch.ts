// npm run bench:batch — what does a load cost, against DataLoader?
//
// In one run, side by side, each request a scope of its own (the same harness for both): DataLoader
// with an instance per request (its documented use), and a weft loader defined once and found through
// the ambient request. The batch function answers at once, so what is measured is the loaders' own
// cost per load: batching, the request cache, promises, and (for weft) the ambient lookup and the
// cancellation bookkeeping. Figures go to bench/results/batch.json.
import { createRequire } from 'node:module'
import { currentSignal, scope } from 'weft'
import { loader } from 'weft/batch'
import { backend, type Loads, type Workload, workloads } from './batch-workloads.ts'
import { type Measured, measure, printTable, ratiosTo, writeResults } from './harness.ts'

const require = createRequire(import.meta.url)
const DataLoader = require('dataloader') as typeof import('dataloader')

const weft = loader('bench', backend.batchFn)

/**
 * The weft loader with cancellation through an AbortSignal listener per load (the task's own signal,
 * given explicitly), instead of its waiter being a leaf of the cancellation tree: what the cheaper
 * hook saves.
 */
const weftWithListeners: Loads = {
  load: (key) => weft.load(key, { signal: currentSignal() }),
}

/** Round trips one request of `workload` takes with each loader: they must be the same. */
async function roundTripsPerRequest(workload: Workload): Promise<{ dataloader: number; weft: number }> {
  backend.roundTrips = 0
  await scope((s) => workload.run(new DataLoader(backend.batchFn), s))
  const dataloader = backend.roundTrips
  backend.roundTrips = 0
  await scope((s) => workload.run(weft, s))
  return { dataloader, weft: backend.roundTrips }
}

async function compare(workload: Workload) {
  const trips = await roundTripsPerRequest(workload)
  if (trips.dataloader !== trips.weft)
    throw new Error(`${workload.name}: round trips differ: ${JSON.stringify(trips)}`)
  const variants = [
    { name: 'DataLoader', op: () => scope((s) => workload.run(new DataLoader(backend.batchFn), s)) },
    { name: 'weft loader', op: () => scope((s) => workload.run(weft, s)) },
  ]
  if (workload.name.includes('tasks')) {
    variants.push({
      name: 'weft, a signal listener per load',
      op: () => scope((s) => workload.run(weftWithListeners, s)),
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
  }
}

const figures = []
for (const workload of workloads) figures.push(await compare(workload))
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
