import { isAbort } from './errors.ts'
import { captured } from './outcome.ts'
import { scope } from './scope.ts'
import { sleep } from './sleep.ts'
import type { TaskFn } from './task.ts'
import { checkCount, checkDuration, checkFunction, checkOptions } from './validate.ts'

/** Exponential backoff: `initial * factor^(n-1)` ms before the (n+1)th attempt, capped at `max`. */
export interface ExponentialBackoff {
  /** Delay before the second attempt, in ms. Default 100. */
  initial?: number
  /** Growth per attempt. Default 2. */
  factor?: number
  /** Upper bound of a delay, in ms. Default 10,000. */
  max?: number
}

/** Options of {@link retry}. */
export interface RetryOptions {
  /** Calls in all, the first included. Default 3. */
  attempts?: number
  /**
   * Delay before each new attempt: a constant in ms, a function of the number of failed attempts so
   * far (1, 2, ...), or exponential settings. Default `{ initial: 100, factor: 2, max: 10_000 }`.
   */
  backoff?: number | ((failures: number) => number) | ExponentialBackoff
  /**
   * Fraction of each delay that is randomised, from 0 (exact delays) to 1 ("full jitter": anywhere
   * from 0 to the delay). Default 0.5, so callers that failed together do not retry together.
   */
  jitter?: number
  /** Whether an error deserves another attempt. Default: every error except a cancellation. */
  retryIf?: (error: unknown, attempt: number) => boolean
  /** Name of the implicit scope; attempts are named `name #n`. Default `'retry'`. */
  name?: string
}

/**
 * Calls `fn({ signal, deadline })` until it succeeds, at most `attempts` times, waiting a backoff
 * between attempts. It never starts an attempt the deadline would cut short: when the next delay
 * reaches past the ambient deadline, it gives up at once with the last error.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { retry } from 'weft'
 * let calls = 0
 * const value = await retry(async () => {
 *   calls += 1
 *   if (calls < 3) throw new Error('flaky')
 *   return 'ok'
 * }, { attempts: 5, backoff: 1 })
 * assert.deepEqual([value, calls], ['ok', 3])
 * ```
 */
export function retry<T>(fn: TaskFn<T>, options: RetryOptions = {}): Promise<T> {
  checkFunction('retry()', 'fn', fn)
  checkOptions('retry()', options)
  const { attempts = 3, backoff = {}, jitter = 0.5, retryIf = isFailure, name = 'retry' } = options
  checkCount('retry()', 'options.attempts', attempts, 1)
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) {
    throw new TypeError(`retry(): options.jitter must be a number from 0 to 1, got ${String(jitter)}`)
  }
  checkFunction('retry()', 'options.retryIf', retryIf)
  const delayAfter = backoffFunction(backoff)
  const attempt = captured(fn)

  return scope({ name }, async (s) => {
    for (let n = 1; ; n++) {
      const outcome = await s.spawn(`${name} #${n}`, attempt)
      if (outcome.ok) return outcome.value
      if (n >= attempts || !retryIf(outcome.error, n)) throw outcome.error
      const delay = delayAfter(n) * (1 - jitter * Math.random())
      if (delay >= s.remaining()) throw outcome.error
      await sleep(delay, { signal: s.signal })
    }
  })
}

function isFailure(error: unknown): boolean {
  return !isAbort(error)
}

function backoffFunction(backoff: RetryOptions['backoff']): (failures: number) => number {
  if (typeof backoff === 'number') {
    checkDuration('retry()', 'options.backoff', backoff)
    return () => backoff
  }
  if (typeof backoff === 'function') {
    return (failures) => {
      const delay = backoff(failures)
      checkDuration('retry()', `options.backoff(${failures})`, delay)
      return delay
    }
  }
  checkOptions('retry()', backoff)
  const { initial = 100, factor = 2, max = 10_000 } = backoff ?? {}
  checkDuration('retry()', 'options.backoff.initial', initial)
  checkDuration('retry()', 'options.backoff.max', max)
  if (typeof factor !== 'number' || !(factor >= 1) || !Number.isFinite(factor)) {
    throw new TypeError(
      `retry(): options.backoff.factor must be a finite number of at least 1, got ${String(factor)}`,
    )
  }
  return (failures) => Math.min(max, initial * factor ** (failures - 1))
}
