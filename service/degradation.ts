/**
 * Graceful degradation: a backend call the answer can do without is made through {@link optional},
 * which turns its failure into a fallback value and a note, so the answer still goes out and says
 * what it lacks. Cancellation is never swallowed: a call failing because its task was cancelled (the
 * request's deadline, a sibling's failure, the client gone) rethrows, and the request stops.
 */
import { currentSignal } from 'weft'

/** What one failed backend cost the answer. */
export interface Degradation {
  /** The backend: `geocoder`, `database`, `memcache <address>`, `redis`, `queue`. */
  backend: string
  /** What the answer lacks because of it. */
  effect: string
  /** The failure, as `Name: message`. */
  error: string
}

/** The degradations of one request. */
export class Degradations {
  readonly #list: Degradation[] = []

  /** Records that `backend` failed with `error`, and what that cost. */
  note(backend: string, effect: string, error: unknown): void {
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
    this.#list.push({ backend, effect, error: text })
  }

  /** The degradations so far. */
  list(): Degradation[] {
    return [...this.#list]
  }
}

/**
 * `call()`, or `fallback` when it fails: the failure is noted in `notes` under `backend` with its
 * `effect` on the answer. Rethrows when the calling task itself was cancelled.
 */
export async function optional<T>(
  notes: Degradations,
  backend: string,
  effect: string,
  call: () => Promise<T>,
  fallback: T,
): Promise<T> {
  const signal = currentSignal()
  try {
    return await call()
  } catch (error) {
    if (signal.aborted) throw error
    notes.note(backend, effect, error)
    return fallback
  }
}
