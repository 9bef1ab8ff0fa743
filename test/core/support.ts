// Shared by the tests of the core's guarantees (and others): a harness that runs a test in virtual
// time and then proves nothing was left behind, small helpers to look at outcomes, and a full
// garbage collection for the tests that prove something can be collected.
import assert from 'node:assert/strict'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { sleep } from 'weft'
import { type VirtualClock, withVirtualClock } from 'weft/testing'

/** Waits until the event loop has had the chance to report any rejection left unhandled. */
async function letRejectionsSurface(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

/** Runs `fn`, then asserts that no promise rejection went unhandled while it ran. */
export async function withoutUnhandledRejections<T>(fn: () => Promise<T>): Promise<T> {
  const unhandled: unknown[] = []
  const record = (reason: unknown): void => {
    unhandled.push(reason)
  }
  process.on('unhandledRejection', record)
  try {
    const result = await fn()
    await letRejectionsSurface()
    assert.deepEqual(unhandled, [], 'a rejection went unhandled')
    return result
  } finally {
    process.off('unhandledRejection', record)
  }
}

/**
 * A test body run under a fresh virtual clock that also proves, once it returns, that no timer is
 * still pending and no rejection went unhandled: `test('...', inVirtualTime(async (clock) => {...}))`.
 */
export function inVirtualTime(fn: (clock: VirtualClock) => Promise<void>): () => Promise<void> {
  return () =>
    withoutUnhandledRejections(() =>
      withVirtualClock(async (clock) => {
        await fn(clock)
        assert.equal(clock.pendingTimers, 0, 'a timer was left pending')
      }),
    )
}

/** The error `promise` rejects with; fails the test when it fulfils instead. */
export async function rejection(promise: PromiseLike<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  assert.fail('expected a rejection, but the promise fulfilled')
}

/** A never-aborted signal: work given it ignores cancellation, to model slow cleanup or stubborn code. */
export function ignoring(): AbortSignal {
  return new AbortController().signal
}

/** Sleeps `ms` of (virtual) time whatever happens to the ambient signal: cleanup that takes time. */
export function sleepThroughCancellation(ms: number): Promise<void> {
  return sleep(ms, { signal: ignoring() })
}

/** Node's collector, once a test asked for it. */
let collector: (() => void) | undefined

/**
 * A full garbage collection, without node's `--expose-gc`: the flag can be set at run time, and a
 * context made after it has `gc`. For tests that prove something can be collected (a `WeakRef`
 * cleared); end the job that made the reference first (`await` a later turn), since a reference
 * made in the current job keeps its target alive until the job ends.
 */
export function collectGarbage(): void {
  if (collector === undefined) {
    if (typeof globalThis.gc === 'function') collector = globalThis.gc
    else {
      setFlagsFromString('--expose-gc')
      collector = runInNewContext('gc') as () => void
    }
  }
  collector()
}
