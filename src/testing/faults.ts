import { currentSignal } from '../core/context.ts'
import { AbortError } from '../core/errors.ts'
import { sleep } from '../core/sleep.ts'
import { checkDuration, checkFunction, checkOptions } from '../core/validate.ts'

/** What to inject into every call of a wrapped function. */
export interface FaultPlan {
  /** Added delay in ms: a constant, or a range drawn uniformly per call. Runs on weft's clock. */
  latency?: number | { min: number; max: number }
  /** Fraction of calls, 0 to 1, that fail (after their latency) instead of calling through. */
  failureRate?: number
  /** Fraction of calls, 0 to 1, that never answer: they wait until cancelled, like a stalled server. */
  stallRate?: number
  /** The error a failing call throws; receives the call's number (1, 2, ...). */
  error?: (call: number) => unknown
  /** Seed of the random draws, so a run can be replayed exactly. Default 1. */
  seed?: number
}

/** A wrapped function, with the count of calls it has seen. */
export type Faulty<A extends unknown[], R> = ((...args: A) => Promise<R>) & { readonly calls: number }

/**
 * Wraps `fn` so that every call first waits an injected latency (cancelled by the ambient signal),
 * then may fail or stall, as `plan` says. Random draws come from a seeded generator, so a failing
 * property test replays exactly.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { withFaults, withVirtualClock } from 'weft/testing'
 * await withVirtualClock(async (clock) => {
 *   const lookup = withFaults(async (ip: string) => `city of ${ip}`, { latency: 20, failureRate: 0 })
 *   const start = clock.now()
 *   assert.equal(await clock.run(lookup('1.2.3.4')), 'city of 1.2.3.4')
 *   assert.equal(clock.now() - start, 20)
 *   assert.equal(lookup.calls, 1)
 * })
 * ```
 */
export function withFaults<A extends unknown[], R>(
  fn: (...args: A) => R | PromiseLike<R>,
  plan: FaultPlan = {},
): Faulty<A, R> {
  checkFunction('withFaults()', 'fn', fn)
  checkOptions('withFaults()', plan)
  const { latency = 0, failureRate = 0, stallRate = 0, seed = 1 } = plan
  const error = plan.error ?? ((call: number) => new Error(`injected failure of call ${call}`))
  checkRate('failureRate', failureRate)
  checkRate('stallRate', stallRate)
  const range = typeof latency === 'number' ? { min: latency, max: latency } : latency
  checkDuration('withFaults()', 'plan.latency (min)', range?.min)
  checkDuration('withFaults()', 'plan.latency (max)', range?.max)
  if (range.max < range.min)
    throw new TypeError('withFaults(): plan.latency.max must be at least plan.latency.min')
  const random = seededRandom(seed)
  let calls = 0

  const wrapped = async (...args: A): Promise<R> => {
    const call = ++calls
    const delay = range.min + (range.max - range.min) * random()
    const fails = random() < failureRate
    const stalls = random() < stallRate
    if (delay > 0) await sleep(delay)
    if (stalls) await stallUntilCancelled()
    if (fails) throw error(call)
    return fn(...args)
  }
  return Object.defineProperty(wrapped, 'calls', { get: () => calls }) as Faulty<A, R>
}

function stallUntilCancelled(): Promise<never> {
  const signal = currentSignal()
  return new Promise<never>((_, reject) => {
    const cancelled = () => reject(new AbortError('stalled call', signal.reason))
    if (signal.aborted) cancelled()
    else signal.addEventListener('abort', cancelled, { once: true })
  })
}

function checkRate(name: string, rate: unknown): void {
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) {
    throw new TypeError(`withFaults(): plan.${name} must be a number from 0 to 1, got ${String(rate)}`)
  }
}

/** mulberry32: a tiny, fast, seedable generator; quality is ample for fault injection. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
