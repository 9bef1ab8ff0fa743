import { clock } from '../../core/clock.ts'

/**
 * Starts a timer on the active clock and returns the function that clears it, on that same clock:
 * a test may install or remove a virtual clock while the timer is pending, and a handle cleared on
 * another clock than its own would stay pending (and keep the process alive).
 */
export function startTimer(callback: () => void, ms: number): () => void {
  const timers = clock()
  const handle = timers.setTimeout(callback, ms)
  return () => timers.clearTimeout(handle)
}
