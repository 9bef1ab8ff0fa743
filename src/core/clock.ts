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

/** The real clock: wall time with sub-millisecond precision, Node's timers. */
export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms) as unknown as TimerHandle,
  clearTimeout: (handle) => clearTimeout(handle as unknown as NodeJS.Timeout),
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
