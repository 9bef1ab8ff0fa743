/**
 * The delay before the retry that follows failed delivery `attempt` (from 1): `initial * 2^(attempt-1)`
 * ms, at most `max`. Deterministic, so that tests can state exact schedules; the spread of tasks over
 * time comes from their enqueue times, and a herd retrying after an outage is bounded by `max`.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { retryDelay } from 'weft/queue'
 * const backoff = { initial: 1000, max: 5000 }
 * assert.deepEqual([1, 2, 3, 4].map((attempt) => retryDelay(attempt, backoff)), [1000, 2000, 4000, 5000])
 * ```
 */
export function retryDelay(
  attempt: number,
  backoff: { readonly initial: number; readonly max: number },
): number {
  // 2^1023 is the largest power of two a double holds: beyond it the product is Infinity anyway.
  return Math.min(backoff.max, backoff.initial * 2 ** Math.min(Math.max(attempt, 1) - 1, 1023))
}
