import { clock, type TimerHandle } from '../../core/clock.ts'

interface Running<I> {
  readonly info: I
  readonly controller: AbortController
  readonly settled: Promise<void>
}

/**
 * The deliveries a worker is running, each with the signal that stops it, and the graceful drain
 * that ends a worker: wait for them within a grace period, then stop the rest and wait for them too.
 * `I` is what the worker needs to know of each (its lease, its job).
 */
export class InFlight<I> {
  readonly #running = new Map<string, Running<I>>()

  /** Deliveries running now. */
  get size(): number {
    return this.#running.size
  }

  /**
   * Runs `fn` with a stop signal, tracked under `key` (unique among running deliveries) until it
   * settles; the promise returned settles after the delivery is no longer counted.
   */
  run<T>(key: string, info: I, fn: (stop: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController()
    const result = fn(controller.signal)
    const settled = result.then(
      () => {},
      () => {},
    )
    const untracked = settled.then(() => {
      this.#running.delete(key)
    })
    this.#running.set(key, { info, controller, settled: untracked })
    return untracked.then(() => result)
  }

  /** What the worker knows of each running delivery, by key. */
  entries(): IterableIterator<[string, I]> {
    const running = this.#running.entries()
    return (function* () {
      for (const [key, entry] of running) yield [key, entry.info] as [string, I]
    })()
  }

  /** Stops one delivery (its lease was lost, say). */
  stop(key: string, reason: unknown): void {
    this.#running.get(key)?.controller.abort(reason)
  }

  /**
   * Resolves once every running delivery has settled: those still running after `graceMs` (of weft's
   * clock) have their stop signal aborted, so that they end and go back to the queue.
   */
  async drain(graceMs: number): Promise<void> {
    if (this.#running.size === 0) return
    let timer: TimerHandle | undefined
    const graceOver = new Promise<void>((resolve) => {
      timer = clock().setTimeout(resolve, graceMs)
    })
    await Promise.race([this.#allSettled(), graceOver])
    clock().clearTimeout(timer as TimerHandle)
    if (this.#running.size === 0) return
    const reason = new DOMException(
      `the worker is closing and its grace period of ${graceMs} ms is over: the task goes back to the queue`,
      'AbortError',
    )
    for (const entry of this.#running.values()) entry.controller.abort(reason)
    await this.#allSettled()
  }

  #allSettled(): Promise<unknown> {
    return Promise.all([...this.#running.values()].map((entry) => entry.settled))
  }
}
