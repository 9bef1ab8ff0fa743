import { clock } from './clock.ts'

/**
 * At most `perSecond` events a second, on weft's clock (a token bucket): a burst of `perSecond`
 * (at least one, unless it is 0), then `perSecond` a second, fractions carried over. What bounds how
 * many requests tracing records, and how many of them a trace store keeps, whatever the load.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { Allowance, useClock } from 'weft'
 * import { VirtualClock } from 'weft/testing'
 * const time = new VirtualClock()
 * const restore = useClock(time)
 * const allowance = new Allowance(2)
 * assert.deepEqual([allowance.take(), allowance.take(), allowance.take()], [true, true, false])
 * await time.advance(500) // half a second: one more
 * assert.deepEqual([allowance.take(), allowance.take()], [true, false])
 * restore()
 * ```
 */
export class Allowance {
  /** Events a second; Infinity for no bound, 0 for none. */
  readonly perSecond: number
  /** The most that can be taken at once. */
  readonly #burst: number
  /** What may still be taken now, as counted at `#countedAt`. */
  #left: number
  #countedAt: number | undefined = undefined

  constructor(perSecond: number) {
    if (typeof perSecond !== 'number' || !(perSecond >= 0)) {
      throw new TypeError(
        `Allowance: perSecond must be a number, 0 or more (Infinity for no bound), got ${String(perSecond)}`,
      )
    }
    this.perSecond = perSecond
    this.#burst = perSecond === 0 ? 0 : Math.max(1, perSecond)
    this.#left = this.#burst
  }

  /** Whether one more event fits now, counting it if so. */
  take(): boolean {
    const perSecond = this.perSecond
    if (perSecond === Number.POSITIVE_INFINITY) return true
    const now = clock().now()
    const since = this.#countedAt === undefined ? 0 : Math.max(0, now - this.#countedAt)
    this.#left = Math.min(this.#burst, this.#left + (since * perSecond) / 1000)
    this.#countedAt = now
    if (this.#left < 1) return false
    this.#left -= 1
    return true
  }
}
