// Nothing is left behind: no listener on a long-lived signal, no timer, no memory held by finished work,
// no unhandled rejection, whatever mix of success, failure, cancellation and deadline happened.
import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { describe, test } from 'node:test'
import { scope, sleep } from 'weft'
import type { VirtualClock } from 'weft/testing'
import { collectGarbage, inVirtualTime, rejection } from './support.ts'

const batch = 1_000

/** Heap in use, after a full collection. */
function heapUsed(): number {
  // Twice: V8 sweeps the pages a collection freed on helper threads, and until they are swept they
  // still count as used; the second collection finishes the first one's sweeping (about 1 MiB of the
  // growth measured here, more when the machine is busy and the helpers lag).
  collectGarbage()
  collectGarbage()
  return process.memoryUsage().heapUsed
}

/** The most the heap may grow over the whole run: what 100k retained scopes would far exceed. */
const heapBound = 8 * 2 ** 20

const failure = new Error('failed')

/**
 * The `i`-th of many short scopes: one in twenty fails, one in twenty has a task cancelled, one in
 * twenty misses its deadline, the others succeed (half of them with a deadline). Cancellation costs ten
 * times what success does (errors and abort events), hence the proportions: the run stays short.
 */
function shortScope(i: number, options: { signal?: AbortSignal }): Promise<unknown> {
  switch (i % 20) {
    case 0:
      return scope(options, (s) => {
        s.spawn(() => sleep(60_000))
        throw failure
      }).catch(() => 'failed')
    case 1:
      return scope(options, async (s) => {
        const task = s.spawn(() => sleep(60_000))
        task.cancel('not needed')
        return rejection(task)
      })
    case 2:
      return scope({ ...options, deadline: 0 }, () => i).catch(() => 'deadline')
    default:
      return scope(i % 2 === 0 ? { ...options, deadline: 60_000 } : options, (s) => s.spawn(() => i))
  }
}

/**
 * Runs `count` short scopes, `batch` at a time, calling `during` while each batch runs and `after`
 * once it has settled (so that a leak fails the test at the first batch, not after all of them).
 */
async function runMany(
  count: number,
  options: { signal?: AbortSignal },
  check: { during?: () => void; after?: () => void },
): Promise<void> {
  for (let start = 0; start < count; start += batch) {
    const running: Promise<unknown>[] = []
    for (let i = start; i < start + batch; i++) running.push(shortScope(i, options))
    check.during?.()
    await Promise.all(running)
    check.after?.()
  }
}

describe('after many scopes of every kind of ending', () => {
  test(
    'a long-lived parent signal of 100k scopes keeps no listener, and the heap does not grow with them',
    inVirtualTime(async (clock: VirtualClock) => {
      const parent = new AbortController()
      const listeners = () => getEventListeners(parent.signal, 'abort').length
      let peak = 0
      const before = heapUsed()
      await runMany(
        100_000,
        { signal: parent.signal },
        {
          during: () => {
            peak = Math.max(peak, listeners())
          },
          after: () => assert.equal(listeners(), 0, 'a settled scope kept its listener'),
        },
      )
      const grown = heapUsed() - before
      assert.equal(peak, 1, 'the running scopes share one listener on their parent signal')
      assert.equal(listeners(), 0)
      assert.equal(clock.pendingTimers, 0)
      assert.ok(grown < heapBound, `heap grew by ${(grown / 2 ** 20).toFixed(1)} MiB`)
    }),
  )

  test(
    'a long-lived scope they were nested in, or spawned as tasks of, holds on to none of them',
    inVirtualTime(async () => {
      const before = heapUsed()
      await scope(async (outer) => {
        // 30k are enough: retaining them would take several times the bound.
        await runMany(
          30_000,
          {},
          {
            during: () => {
              for (let i = 0; i < batch; i++) outer.spawn(() => i)
            },
          },
        )
        const grown = heapUsed() - before
        assert.ok(grown < heapBound, `heap grew by ${(grown / 2 ** 20).toFixed(1)} MiB`)
      })
    }),
  )
})

describe('after a mix of success, failure, cancellation and deadline', () => {
  test(
    'no timer, no listener on any signal handed in, and no unhandled rejection is left',
    // inVirtualTime asserts that no timer is pending and no rejection went unhandled.
    inVirtualTime(async (clock) => {
      const parent = new AbortController()
      const given = new AbortController()
      const outcomes = await clock.run(
        Promise.allSettled([
          scope({ signal: parent.signal, deadline: 100 }, async (s) => {
            s.spawn('succeeds', () => sleep(10, { signal: given.signal }))
            s.spawn('cancelled', () => sleep(60_000)).cancel('stop')
            await scope({ deadline: 20 }, () => sleep(60_000)).catch(() => {})
            return 'ok'
          }),
          scope({ signal: parent.signal }, (s) => {
            s.spawn('waits', () => sleep(60_000))
            s.spawn('fails', async () => {
              await sleep(5)
              throw new Error('failed')
            })
          }),
          scope({ signal: parent.signal, deadline: 50 }, (s) => s.spawn(() => sleep(60_000))),
          scope({ signal: parent.signal }, (s) => {
            s.spawn(() => sleep(60_000))
            clock.setTimeout(() => parent.abort('client left'), 70)
          }),
        ]),
      )
      assert.deepEqual(
        outcomes.map((outcome) => outcome.status),
        ['fulfilled', 'rejected', 'rejected', 'rejected'],
      )
      assert.equal(getEventListeners(parent.signal, 'abort').length, 0)
      assert.equal(getEventListeners(given.signal, 'abort').length, 0)
    }),
  )
})
