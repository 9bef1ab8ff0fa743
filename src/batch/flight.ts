import { ambient } from '../core/node.ts'
import { type Scope, scope } from '../core/scope.ts'
import { Shared } from './waiter.ts'

/**
 * Runs `work` in a new root scope named `name`, cancelled with `signal`: detached from whatever is
 * ambient, so that no caller's cancellation, deadline or request cache reaches it. It is not traced
 * (it belongs to no request).
 */
export function detached<T>(name: string, signal: AbortSignal, work: (s: Scope) => Promise<T>): Promise<T> {
  return ambient.exit(() => scope({ name, signal, trace: false }, work))
}

/**
 * One piece of work that several callers share (single-flight). It runs {@link detached} from every
 * caller, and is cancelled when the last of them gives up.
 */
export class Flight<T> extends Shared<T> {
  readonly #what: string
  readonly #abandoned: () => void
  readonly #controller = new AbortController()

  /**
   * `what` names it in the AbortError of a cancelled caller; `abandoned` is told (once, before the
   * work is cancelled) when every caller has given up.
   */
  constructor(what: string, abandoned: () => void) {
    super()
    this.#what = what
    this.#abandoned = abandoned
  }

  /** Aborted when every caller has given up. */
  get signal(): AbortSignal {
    return this.#controller.signal
  }

  /**
   * Runs `work` detached, as a scope named `name` cancelled with this flight, and settles the flight
   * with its outcome (unless `work` settled it earlier, with `resolve`). The promise returned
   * settles once `work` has returned, and never rejects.
   */
  run(name: string, work: (s: Scope) => Promise<T>): Promise<void> {
    return detached(name, this.#controller.signal, work).then(
      (value) => this.resolve(value),
      (error: unknown) => this.reject(error, this.#controller.signal.aborted),
    )
  }

  describe(): string {
    return this.#what
  }

  protected onWanted(): void {}

  protected onAbandoned(reason: unknown): void {
    this.#abandoned()
    this.#controller.abort(reason)
  }
}
