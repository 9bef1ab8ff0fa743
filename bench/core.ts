// npm run bench:core — what does structured concurrency cost per task?
//
// Side by side in one run: a fan-out of trivial async tasks in a weft scope, against bare
// Promise.all, against "the floor" (Promise.all plus one AsyncLocalStorage.run per task: the least a
// per-task ambient context can cost), against naive cancellation wiring (an AbortController and a
// parent-signal listener per task) and against Effect.all with unbounded concurrency. A reference
// line, the floor plus the AbortController each task's function is owed, shows how close weft can
// get. Then memory per pending task, and tracing off vs on. Figures go to bench/results/core.json.
import { AsyncLocalStorage } from 'node:async_hooks'
import { Effect } from 'effect'
import { configureTracing, map, type Scope, scope, type Task } from 'weft'
import { measure, printTable, ratiosTo, writeResults } from './harness.ts'

const trivial = async (_context?: unknown): Promise<number> => 1
const als = new AsyncLocalStorage<object>()
const context = {}

function variants(n: number) {
  const range = Array.from({ length: n }, (_, i) => i)
  return [
    { name: 'Promise.all', op: () => Promise.all(range.map(() => trivial())) },
    {
      name: 'floor: Promise.all + ALS.run',
      op: () => Promise.all(range.map(() => als.run(context, trivial))),
    },
    {
      // Not a competitor: the least a task owes its function on top of the floor, its own AbortSignal
      // (the `{ signal }` it is called with). It bounds how close to the floor weft can get.
      name: 'floor + AbortController per task',
      op: () =>
        Promise.all(
          range.map(() =>
            als.run(context, trivial, { signal: new AbortController().signal, deadline: undefined }),
          ),
        ),
    },
    {
      name: 'naive: + AbortController + listener',
      op: () => {
        const parent = new AbortController()
        return Promise.all(
          range.map(() => {
            const controller = new AbortController()
            const onAbort = () => controller.abort(parent.signal.reason)
            parent.signal.addEventListener('abort', onAbort)
            return als
              .run(context, trivial)
              .finally(() => parent.signal.removeEventListener('abort', onAbort))
          }),
        )
      },
    },
    {
      name: 'weft: spawn, scope joins',
      op: () =>
        scope((s) => {
          for (const _ of range) s.spawn(trivial)
        }),
    },
    {
      name: 'weft: spawn + Promise.all(tasks)',
      op: () => scope((s) => Promise.all(range.map(() => s.spawn(trivial)))),
    },
    { name: 'weft: map (results in order)', op: () => map(range, trivial) },
    {
      name: 'Effect.all unbounded',
      op: () =>
        Effect.runPromise(
          Effect.all(
            range.map(() => Effect.promise(trivial)),
            { concurrency: 'unbounded' },
          ),
        ),
    },
  ]
}

async function fanOut(n: number) {
  // 15 short rounds rather than fewer long ones: on a shared machine, a burst of load from elsewhere
  // spoils a round or two, and the median of 15 shrugs them off.
  const results = await measure(variants(n), { unitsPerOp: n, rounds: 15 })
  const vsFloor = ratiosTo(results, 'floor: Promise.all + ALS.run')
  console.log(
    `\nFan-out of ${n} trivial async tasks (ns per task, median of rounds; x floor: median of same-round ratios)`,
  )
  printTable(
    results.map((result) => ({
      variant: result.name,
      'ns/task': result.nsPerUnit,
      'x floor': vsFloor[result.name] ?? Number.NaN,
      spread: result.spread,
    })),
  )
  return { n, results, ratioToFloor: vsFloor }
}

/** Heap bytes per task while `count` tasks wait on one pending promise. */
async function memoryPerPendingTask(count: number, start: (gate: Promise<void>) => Promise<unknown>) {
  globalThis.gc?.()
  const before = process.memoryUsage().heapUsed
  let open!: () => void
  const gate = new Promise<void>((resolve) => {
    open = resolve
  })
  const done = start(gate)
  await new Promise((resolve) => setImmediate(resolve))
  globalThis.gc?.()
  const during = process.memoryUsage().heapUsed
  open()
  await done
  return (during - before) / count
}

async function memory() {
  const count = 100_000
  const waitFor = (gate: Promise<void>) => async (_context?: unknown) => {
    await gate
  }
  const bare = await memoryPerPendingTask(count, (gate) =>
    Promise.all(Array.from({ length: count }, waitFor(gate))),
  )
  const floor = await memoryPerPendingTask(count, (gate) =>
    Promise.all(Array.from({ length: count }, () => als.run(context, waitFor(gate)))),
  )
  const signalled = await memoryPerPendingTask(count, (gate) =>
    Promise.all(
      Array.from({ length: count }, () =>
        als.run(context, waitFor(gate), { signal: new AbortController().signal, deadline: undefined }),
      ),
    ),
  )
  const joined = await memoryPerPendingTask(count, (gate) =>
    scope((s) => {
      for (let i = 0; i < count; i++) s.spawn(waitFor(gate))
    }),
  )
  const weft = await memoryPerPendingTask(count, (gate) =>
    scope((s) => {
      const tasks: Task<void>[] = []
      for (let i = 0; i < count; i++) tasks.push(s.spawn(waitFor(gate)))
      return Promise.all(tasks)
    }),
  )
  console.log(`\nMemory per pending task (${count} tasks waiting)`)
  printTable([
    { variant: 'Promise.all of async functions', 'bytes/task': Math.round(bare) },
    { variant: 'floor: + ALS.run per task', 'bytes/task': Math.round(floor) },
    { variant: 'floor + AbortController per task', 'bytes/task': Math.round(signalled) },
    { variant: 'weft scope + spawn, scope joins', 'bytes/task': Math.round(joined) },
    { variant: 'weft scope + spawn + Promise.all(tasks)', 'bytes/task': Math.round(weft) },
  ])
  return {
    count,
    bytesPerTask: {
      promiseAll: Math.round(bare),
      floor: Math.round(floor),
      floorWithSignal: Math.round(signalled),
      weftJoined: Math.round(joined),
      weft: Math.round(weft),
    },
  }
}

async function tracing() {
  const n = 10
  const range = Array.from({ length: n }, (_, i) => i)
  const spawnAll = (s: Scope) => {
    for (const _ of range) s.spawn(trivial)
  }
  const fan = () => scope(spawnAll)
  let restore = () => {}
  const results = await measure(
    [
      { name: 'tracing off', op: fan },
      {
        name: 'tracing sampled out',
        op: async () => {
          restore = configureTracing({ enabled: true, sampleRate: 0 })
          try {
            return await fan()
          } finally {
            restore()
          }
        },
      },
      {
        name: 'tracing on (every span recorded)',
        op: () => scope({ trace: true }, (s) => Promise.all(range.map(() => s.spawn(trivial)))),
      },
    ],
    { unitsPerOp: n },
  )
  const vsOff = ratiosTo(results, 'tracing off')
  console.log(`\nTracing, fan-out of ${n} (ns per task)`)
  printTable(
    results.map((result) => ({
      variant: result.name,
      'ns/task': result.nsPerUnit,
      'x off': vsOff[result.name] ?? Number.NaN,
    })),
  )
  return { n, results, ratioToOff: vsOff }
}

if (globalThis.gc === undefined)
  console.warn('run with --expose-gc (npm run bench:core does) for steadier figures')
const small = await fanOut(10)
const large = await fanOut(1000)
const huge = await fanOut(10_000)
const mem = await memory()
const trace = await tracing()
const file = writeResults('core', { fanOut: [small, large, huge], memory: mem, tracing: trace })
console.log(`\nfigures written to ${file}`)
