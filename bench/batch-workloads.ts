// The workloads of the loader benchmarks (bench:batch times them, bench:instructions counts their
// instructions): each is one request's loads, through a weft loader or a DataLoader.
import type { Scope } from 'weft'

/** What a workload loads through: a weft loader, or a DataLoader made for the request. */
export interface Loads {
  load(key: number): Promise<number>
}

/** The backend: answers every key at once, counting its round trips. */
export const backend = {
  roundTrips: 0,
  batchFn: async (keys: readonly number[]): Promise<number[]> => {
    backend.roundTrips += 1
    return keys as number[]
  },
}

export interface Workload {
  name: string
  /** Loads per request. */
  loads: number
  /** One request's work, given the loader to use. */
  run: (loads: Loads, s: Scope) => Promise<unknown>
}

export const workloads: Workload[] = [
  {
    name: '10,000 loads of distinct keys in one turn',
    loads: 10_000,
    run: (loads) => Promise.all(Array.from({ length: 10_000 }, (_, i) => loads.load(i))),
  },
  {
    name: '10,000 single loads, one per turn (each awaited)',
    loads: 10_000,
    run: async (loads) => {
      for (let i = 0; i < 10_000; i++) await loads.load(i)
    },
  },
  {
    name: '1,000 turns of 100 loads, 50% duplicates',
    loads: 100_000,
    run: async (loads) => {
      for (let turn = 0; turn < 1_000; turn++) {
        const turnLoads: Promise<number>[] = []
        for (let i = 0; i < 100; i++) turnLoads.push(loads.load(turn * 50 + (i % 50)))
        await Promise.all(turnLoads)
      }
    },
  },
  {
    name: '100 turns of 100 tasks loading one key each, 50% duplicates',
    loads: 10_000,
    run: async (loads, s) => {
      for (let turn = 0; turn < 100; turn++) {
        const tasks = []
        for (let i = 0; i < 100; i++) tasks.push(s.spawn(() => loads.load(turn * 50 + (i % 50))))
        await Promise.all(tasks)
      }
    },
  },
]
