import { clock } from './clock.ts'
import { currentSignal } from './context.ts'
import { AbortError } from './errors.ts'
import { onAbort } from './on-abort.ts'
import { checkDuration, checkOptions, checkSignal } from './validate.ts'

/** Options of {@link sleep}. */
export interface SleepOptions {
  /** Cancels the sleep; default: the ambient signal. */
  signal?: AbortSignal
}

/**
 * Resolves after `ms` milliseconds of the active clock; rejects with an AbortError as soon as the
 * signal (by default the ambient one) aborts. The timer and the listener are removed either way.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { scope, sleep, AbortError } from 'weft'
 * await sleep(1)
 * await assert.rejects(
 *   scope(async (s) => {
 *     s.spawn('fails', async () => { throw new Error('boom') })
 *     await sleep(60_000) // cancelled by the sibling's failure, not waited out
 *   }),
 *   /boom/,
 * )
 * ```
 */
export function sleep(ms: number, options?: SleepOptions): Promise<void> {
  checkDuration('sleep()', 'ms', ms)
  checkOptions('sleep()', options)
  const signal = options?.signal ?? currentSignal()
  if (options?.signal !== undefined) checkSignal('sleep()', 'options.signal', signal)
  if (signal.aborted) return Promise.reject(new AbortError('sleep', signal.reason))
  const timers = clock()
  return new Promise<void>((resolve, reject) => {
    const stopWatching = onAbort(signal, () => {
      timers.clearTimeout(timer)
      reject(new AbortError('sleep', signal.reason))
    })
    const timer = timers.setTimeout(() => {
      stopWatching()
      resolve()
    }, ms)
  })
}
