/**
 * Admission control: at most `limit` searches run at once in this process (`MAX_IN_FLIGHT`); the
 * ones after them wait their turn in order, and one that has waited `maxWait` without a turn is
 * refused with a 503 {@link Overloaded} (`Retry-After: 1`).
 *
 * Why: the search is CPU-bound in its one process, so N searches at once take about N times as long
 * each. Without a limit, a burst of clients slows every search down together until they all run into
 * their deadline: 504s, the work spent on answers nobody gets (the fault suite's load scenario,
 * 100 clients at once on two shared cores, found 1.3% of them). With the limit, the searches let in
 * run at the speed of `limit` at once and finish within their budget; the wait is in a queue that
 * costs nothing, and what is refused is refused before any work. A plain refusal past the limit,
 * without the short wait, was tried: clients that retry at once (load testers, impatient scripts)
 * then spin on 503s that take the CPU from the searches (1,400 refusals a second, 84 answers).
 */
import { clock, onAbort } from 'weft'
import { Overloaded } from './errors.ts'

interface Waiter {
  admit(): void
}

/** Counts the searches in flight and queues the rest; see the module comment. */
export class Admission {
  readonly limit: number
  readonly maxWait: number
  #running = 0
  readonly #waiting: Waiter[] = []

  /** `limit` searches at once; a search waits at most `maxWait` ms for its turn. */
  constructor(limit: number, maxWait: number) {
    if (!(Number.isInteger(limit) && limit >= 1)) {
      throw new RangeError(`Admission: limit must be a whole number of at least 1, got ${limit}`)
    }
    if (!(Number.isFinite(maxWait) && maxWait >= 0)) {
      throw new RangeError(`Admission: maxWait must be a number of ms, 0 or more, got ${maxWait}`)
    }
    this.limit = limit
    this.maxWait = maxWait
  }

  /** Searches running now, and waiting for their turn. */
  get state(): { running: number; waiting: number } {
    return { running: this.#running, waiting: this.#waiting.length }
  }

  /**
   * Runs `fn` once its turn comes. Rejects with {@link Overloaded} after `maxWait` ms without one,
   * and with the signal's reason when `signal` aborts first (the client gone): neither runs `fn`.
   */
  async run<T>(fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
    await this.#turn(signal)
    try {
      return await fn()
    } finally {
      this.#running -= 1
      this.#waiting.shift()?.admit()
    }
  }

  #turn(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted()
    if (this.#running < this.limit) {
      this.#running += 1
      return Promise.resolve()
    }
    return new Promise((resolve, reject) => {
      const leave = (error: unknown) => {
        this.#waiting.splice(this.#waiting.indexOf(waiter), 1)
        done()
        reject(error)
      }
      // weft's clock, so that tests on the virtual clock drive the wait too.
      const timer = clock().setTimeout(() => leave(new Overloaded(this.limit, this.maxWait)), this.maxWait)
      const stopWatching = onAbort(signal, () => leave(signal.reason))
      const done = () => {
        clock().clearTimeout(timer)
        stopWatching()
      }
      const waiter: Waiter = {
        admit: () => {
          done()
          this.#running += 1
          resolve()
        },
      }
      this.#waiting.push(waiter)
    })
  }
}
