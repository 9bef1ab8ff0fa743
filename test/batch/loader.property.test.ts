// Random interleavings of loads (from tasks, from the request scope, with explicit signals) and
// cancellations over several turns, with batch functions taking random virtual time. Whatever the
// interleaving: every load not cancelled gets the batch function's value for its key, a cancelled one
// rejects with an AbortError or already had its value, and the batch function is called at most once
// per group of keys a turn could send (its distinct keys, in chunks of maxBatchSize).
import assert from 'node:assert/strict'
import { AsyncLocalStorage } from 'node:async_hooks'
import { test } from 'node:test'
import fc from 'fast-check'
import { AbortError, type Scope, scope, sleep } from 'weft'
import { loader } from 'weft/batch'
import { inVirtualTime } from '../core/support.ts'

type Caller = 'task' | 'request' | 'signal'

type Step = { load: { key: number; caller: Caller } } | { cancel: number }

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .record({
        key: fc.integer({ min: 0, max: 5 }),
        caller: fc.constantFrom<Caller>('task', 'task', 'request', 'signal'),
      })
      .map((load) => ({ load })),
  },
  { weight: 1, arbitrary: fc.nat(30).map((cancel) => ({ cancel })) },
)

const scenario = fc.record({
  turns: fc.array(
    fc.record({
      steps: fc.array(step, { maxLength: 8 }),
      /** Virtual ms that pass before the next turn (0: only the turn ends). */
      pause: fc.constantFrom(0, 0, 1, 3),
    }),
    {
      minLength: 1,
      maxLength: 6,
    },
  ),
  maxBatchSize: fc.constantFrom(1, 2, 3, Number.POSITIVE_INFINITY),
  /** How long each successive batch takes, cycled. */
  latencies: fc.array(fc.constantFrom(0, 1, 2, 5), { minLength: 1, maxLength: 5 }),
})

interface Load {
  key: number
  cancel: () => void
  cancelled: boolean
  outcome: { value: string } | { error: unknown } | undefined
  settled: Promise<void>
}

const expected = (key: number): string => `value of ${key}`

test(
  'every load not cancelled gets its value, and batches never outnumber the key groups of the turns',
  inVirtualTime(async (clock) => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ turns, maxBatchSize, latencies }) => {
        const calls: number[][] = []
        const numbers = loader(
          'numbers',
          async (keys: readonly number[], { signal }) => {
            const latency = latencies[calls.length % latencies.length] ?? 0
            calls.push([...keys])
            if (latency > 0) await sleep(latency, { signal })
            return keys.map(expected)
          },
          { maxBatchSize },
        )
        const loads: Load[] = []
        let groups = 0
        // The test drives the turns from outside the request, and issues loads inside its context.
        const finish = Promise.withResolvers<void>()
        let inRequest!: <R>(fn: (s: Scope) => R) => R
        const request = scope(async (s) => {
          const snapshot = AsyncLocalStorage.snapshot()
          inRequest = (fn) => snapshot(fn, s)
          await finish.promise
        })
        for (const turn of turns) {
          const keysThisTurn = new Set<number>()
          for (const action of turn.steps) {
            if ('cancel' in action) {
              const load = loads[action.cancel]
              load?.cancel()
            } else {
              keysThisTurn.add(action.load.key)
              loads.push(inRequest((s) => issue(s, numbers, action.load)))
            }
          }
          if (keysThisTurn.size > 0)
            groups += Math.ceil(keysThisTurn.size / Math.min(maxBatchSize, keysThisTurn.size))
          await clock.advance(turn.pause)
        }
        finish.resolve()
        await clock.run(Promise.all([request, ...loads.map((load) => load.settled)]))
        for (const load of loads) {
          const { outcome } = load
          assert.ok(outcome !== undefined, 'every load settles')
          if ('value' in outcome) assert.equal(outcome.value, expected(load.key))
          else {
            assert.ok(load.cancelled, `a load that was not cancelled failed: ${String(outcome.error)}`)
            assert.ok(outcome.error instanceof AbortError)
          }
        }
        assert.ok(calls.length <= groups, `${calls.length} batch calls for ${groups} key groups`)
        for (const keys of calls) {
          assert.equal(new Set(keys).size, keys.length, 'a batch has no duplicate key')
          assert.ok(keys.length <= maxBatchSize)
        }
      }),
      { numRuns: 300 },
    )
  }),
)

/** Starts one load the way `caller` says, recording its outcome when it settles. */
function issue(
  s: Scope,
  numbers: ReturnType<typeof loader<number, string>>,
  { key, caller }: { key: number; caller: Caller },
): Load {
  const settled = Promise.withResolvers<void>()
  const load: Load = { key, cancel: () => {}, cancelled: false, outcome: undefined, settled: settled.promise }
  const record = (promise: Promise<string>): Promise<void> =>
    promise
      .then(
        (value) => {
          load.outcome = { value }
        },
        (error: unknown) => {
          load.outcome = { error }
        },
      )
      .finally(settled.resolve)
  if (caller === 'task') {
    const task = s.spawn(`load ${key}`, () => record(numbers.load(key)))
    load.cancel = () => {
      load.cancelled = true
      task.cancel('cancelled by the scenario')
    }
  } else if (caller === 'signal') {
    const controller = new AbortController()
    void record(numbers.load(key, { signal: controller.signal }))
    load.cancel = () => {
      load.cancelled = true
      controller.abort('cancelled by the scenario')
    }
  } else {
    // A load of the request scope itself can only be cancelled with the whole request.
    void record(numbers.load(key))
  }
  return load
}
