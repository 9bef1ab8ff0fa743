import type { Clock, TimerHandle } from '../core/clock.ts'
import { useClock } from '../core/clock.ts'
import { ambient, type Node } from '../core/node.ts'
import { checkDuration } from '../core/validate.ts'

interface Timer {
  id: number
  at: number
  /** The ambient node when the timer was set: the callback runs in it. */
  node: Node | undefined
  callback: () => void
}

/** What a cleared timer's callback becomes (see `clearTimeout`). */
function noop(): void {}

/** Lets every pending promise reaction, `process.nextTick` callback and I/O callback run. */
async function settleMicrotasks(rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) await nextImmediate()
  // Work that hops through setImmediate (a batch flushed at the end of a turn, then its answer, then
  // the next call) needs more rounds: keep going while any is pending, within a bound.
  for (let i = 0; i < 10_000 && process.getActiveResourcesInfo().includes('Immediate'); i++)
    await nextImmediate()
}

function nextImmediate(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve))
}

/**
 * A clock that only moves when told to. Install it with {@link withVirtualClock} (or `useClock`) and
 * every weft timer (deadlines, `sleep`, retry backoff, hedging, span timestamps) runs on it, so a
 * test of a 30-second timeout takes no wall time and cannot flake.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { sleep } from 'weft'
 * import { withVirtualClock } from 'weft/testing'
 * await withVirtualClock(async (clock) => {
 *   const start = clock.now()
 *   await clock.run(sleep(30_000))
 *   assert.equal(clock.now() - start, 30_000)
 * })
 * ```
 */
export class VirtualClock implements Clock {
  #now: number
  #nextId = 1
  readonly #timers = new Map<number, Timer>()

  /** `start` is the epoch ms the clock shows before it is advanced. */
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = this.#nextId++
    // Like Node's timers, the callback runs in weft's ambient context of the moment the timer was set
    // (scope, signal, span), and a delay that is not a positive number means "as soon as possible".
    // (AsyncLocalStorage.snapshot() would restore every store, but costs an AsyncResource per timer.)
    const node = ambient.getStore()
    this.#timers.set(id, { id, at: this.#now + (Number.isNaN(ms) || ms < 0 ? 0 : ms), node, callback })
    return id as unknown as TimerHandle
  }

  clearTimeout(handle: TimerHandle): void {
    const timer = this.#timers.get(handle as unknown as number)
    if (timer === undefined) return
    this.#timers.delete(timer.id)
    // Let go of what the timer held, not only of the timer: in the search service on this clock,
    // cleared timers went on keeping their requests' objects alive through young collections (V8
    // still reached them; 48 KB promoted to the old generation a search rather than 19 KB, as on
    // the real clock), which multiplied the collector's work bench:observability:instructions counts.
    timer.node = undefined
    timer.callback = noop
  }

  /** Timers set and neither fired nor cleared: a test asserts 0 at the end to prove none leaked. */
  get pendingTimers(): number {
    return this.#timers.size
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due, in order of due time (then of
   * creation), and letting the promise reactions each one triggers run before the next fires.
   */
  async advance(ms: number): Promise<void> {
    checkDuration('VirtualClock.advance()', 'ms', ms)
    const target = this.#now + ms
    await settleMicrotasks(2)
    for (let next = this.#nextDue(); next !== undefined && next.at <= target; next = this.#nextDue()) {
      this.#fire(next)
      await settleMicrotasks(2)
    }
    this.#now = target
    await settleMicrotasks(2)
  }

  /**
   * Drives `work` to completion: whenever nothing else is left to run, jumps to the next timer.
   * Rejects if `work` is still pending when no timer is left (it waits on something that never comes).
   */
  async run<T>(work: PromiseLike<T>): Promise<T> {
    let settled = false
    const tracked = Promise.resolve(work).finally(() => {
      settled = true
    })
    tracked.catch(() => {}) // observed below; this only keeps the rejection from counting as unhandled
    await settleMicrotasks(3)
    while (!settled) {
      const next = this.#nextDue()
      if (next === undefined) {
        throw new Error(
          'VirtualClock.run(): the work is still pending but no timer is left to fire (deadlock)',
        )
      }
      this.#fire(next)
      await settleMicrotasks(3)
    }
    return tracked
  }

  /** Fires every pending timer, including those the fired ones set, until none is left. */
  async runAll(): Promise<void> {
    await settleMicrotasks(2)
    for (let next = this.#nextDue(); next !== undefined; next = this.#nextDue()) {
      this.#fire(next)
      await settleMicrotasks(2)
    }
  }

  #fire(timer: Timer): void {
    this.#timers.delete(timer.id)
    if (timer.at > this.#now) this.#now = timer.at
    if (timer.node === undefined) ambient.exit(timer.callback)
    else ambient.run(timer.node, timer.callback)
  }

  #nextDue(): Timer | undefined {
    let next: Timer | undefined
    for (const timer of this.#timers.values()) if (next === undefined || timer.at < next.at) next = timer
    return next
  }
}

/**
 * Runs `fn` with a fresh {@link VirtualClock} installed as the clock of every weft timer, and puts the
 * previous clock back afterwards, whatever happens.
 */
export async function withVirtualClock<T>(
  fn: (clock: VirtualClock) => T | PromiseLike<T>,
  start?: number,
): Promise<T> {
  const virtual = new VirtualClock(start)
  const restore = useClock(virtual)
  try {
    return await fn(virtual)
  } finally {
    restore()
  }
}
