import { clock, type TimerHandle } from 'weft'

/**
 * An AbortController that aborts with its parent signal, or by itself at a given instant of weft's
 * clock with a reason of its own (a deadline, a timeout). `dispose()` removes the listener and the
 * timer, so a finished call leaves nothing behind.
 */
export class Cancellation {
  readonly #controller = new AbortController()
  readonly #parent: AbortSignal
  readonly #onAbort = (): void => {
    this.dispose()
    this.#controller.abort(this.#parent.reason)
  }
  #timer: TimerHandle | undefined
  #expired = false

  /** `at`: epoch ms of weft's clock, or undefined for no time limit; `reason` is called when it passes. */
  constructor(parent: AbortSignal, at: number | undefined, reason: () => unknown) {
    this.#parent = parent
    if (parent.aborted) {
      this.#controller.abort(parent.reason)
      return
    }
    parent.addEventListener('abort', this.#onAbort, { once: true })
    if (at === undefined) return
    const expire = (): void => {
      this.#timer = undefined
      this.#expired = true
      this.#controller.abort(reason())
    }
    const delay = at - clock().now()
    if (delay <= 0) expire()
    else this.#timer = clock().setTimeout(expire, delay)
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  /** True when it aborted because its own time ran out, not because the parent did. */
  get expired(): boolean {
    return this.#expired
  }

  dispose(): void {
    this.#parent.removeEventListener('abort', this.#onAbort)
    if (this.#timer !== undefined) clock().clearTimeout(this.#timer)
    this.#timer = undefined
  }
}
