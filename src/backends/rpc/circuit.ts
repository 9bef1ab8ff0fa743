import { BackendUnavailable, clock } from 'weft'

/** Options of the circuit breaker (`circuit` option of `rpcClient`). */
export interface CircuitOptions {
  /** Consecutive server failures (refused, timed out, 5xx) that open the circuit. */
  failures: number
  /** How long an open circuit fails calls fast, in ms, before letting one trial call through. */
  resetAfter: number
}

/** `closed`: calls flow; `open`: calls fail fast; `half-open`: one trial call decides. */
export type CircuitState = 'closed' | 'open' | 'half-open'

/** What {@link Circuit.admit} hands out: report the call's outcome through it exactly once. */
export interface CircuitPass {
  /** The server answered (any answer but a server failure). */
  succeeded(): void
  /** The server failed: unreachable, too slow, or a 5xx. */
  failed(error: unknown): void
  /** The call was cancelled by its caller: it says nothing about the server. */
  abandoned(): void
}

/**
 * A circuit breaker: after `failures` consecutive server failures it opens and calls fail at once with
 * {@link BackendUnavailable} instead of piling onto a server that is down; `resetAfter` ms later one
 * trial call goes through (half-open): its success closes the circuit, its failure opens it again.
 * Time is read from weft's clock when a call arrives, so the breaker sets no timers.
 */
export class Circuit {
  readonly #threshold: number
  readonly #resetAfter: number
  readonly #details: { backend: string; address: string }
  #failures = 0
  #openedAt = 0
  #open = false
  #trialRunning = false
  #lastError: unknown

  constructor(options: CircuitOptions, details: { backend: string; address: string }) {
    this.#threshold = options.failures
    this.#resetAfter = options.resetAfter
    this.#details = details
  }

  get state(): CircuitState {
    if (!this.#open) return 'closed'
    return this.#trialRunning || clock().now() >= this.#openedAt + this.#resetAfter ? 'half-open' : 'open'
  }

  /**
   * Lets a call through, or throws {@link BackendUnavailable} when the circuit is open (or half-open
   * with its trial call still running). `what` names the call in the error.
   */
  admit(what: string): CircuitPass {
    if (!this.#open) return this.#pass(false)
    const waitMs = this.#openedAt + this.#resetAfter - clock().now()
    if (waitMs > 0 || this.#trialRunning) {
      const when = this.#trialRunning ? 'a trial call is under way' : `next trial in ${Math.ceil(waitMs)} ms`
      throw new BackendUnavailable(
        `${what}: circuit open after ${this.#threshold} consecutive failures (${when})`,
        { ...this.#details, cause: this.#lastError },
      )
    }
    this.#trialRunning = true
    return this.#pass(true)
  }

  #pass(trial: boolean): CircuitPass {
    let reported = false
    const report = (outcome: 'ok' | 'failed' | 'abandoned', error?: unknown): void => {
      if (reported) return
      reported = true
      if (trial) this.#trialRunning = false
      if (outcome === 'ok') {
        this.#failures = 0
        this.#open = false
      } else if (outcome === 'failed') {
        this.#failures += 1
        this.#lastError = error
        // A failed trial re-opens at once; otherwise a streak of `threshold` failures opens. Calls
        // that were already under way when it opened do not prolong it.
        if (trial || (!this.#open && this.#failures >= this.#threshold)) {
          this.#open = true
          this.#openedAt = clock().now()
        }
      }
    }
    return {
      succeeded: () => report('ok'),
      failed: (error) => report('failed', error),
      abandoned: () => report('abandoned'),
    }
  }
}
