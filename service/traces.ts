/**
 * The recent traces of this process, by trace id, for `GET /_weft/traces/:id` (what the `X-Trace-Id`
 * header of an answer points to). One request's trace arrives in parts: the request itself, the
 * geocoder's side of its RPC when the geocoder runs in this process, and later the worker's
 * deliveries of the tasks it enqueued (each continues the request's trace). The parts are kept
 * together under the trace id.
 */
import { clock, type SpanData, type Trace } from 'weft'

/** The parts of one trace id so far, and whether its request (the part that began it) has finished. */
interface Entry {
  /** Kept as they are, and turned into data only when asked for: most traces never are. */
  parts: Trace[]
  finished: boolean
  waiters: (() => void)[]
}

/** A bounded store of recent traces; see the module comment. */
export class TraceStore {
  readonly #capacity: number
  readonly #entries = new Map<string, Entry>()

  /** Keeps the last `capacity` trace ids. */
  constructor(capacity = 200) {
    this.#capacity = capacity
  }

  /** A trace listener (`configureTracing({ onTrace })`) that stores each trace part. */
  readonly add = (trace: Trace): void => {
    const entry = this.#entry(trace.id)
    entry.parts.push(trace)
    if (trace.remoteParentId === undefined) {
      entry.finished = true
      for (const wake of entry.waiters.splice(0)) wake()
    }
  }

  /** Announces a request under way, so that `get` waits for its trace rather than answering none. */
  begin(id: string): void {
    this.#entry(id)
  }

  /**
   * The spans recorded under `id` once the request that began the trace has finished (waiting up to
   * `waitMs` for a request announced by `begin`), or undefined when there are none.
   */
  async get(id: string, waitMs = 0): Promise<SpanData[] | undefined> {
    let entry = this.#entries.get(id)
    if (entry !== undefined && !entry.finished && waitMs > 0) {
      const waiting = entry
      await new Promise<void>((resolve) => {
        const timer = clock().setTimeout(resolve, waitMs)
        waiting.waiters.push(() => {
          clock().clearTimeout(timer)
          resolve()
        })
      })
      entry = this.#entries.get(id)
    }
    const spans = entry?.parts.flatMap((part) => part.toJSON().spans) ?? []
    return spans.length === 0 ? undefined : spans
  }

  #entry(id: string): Entry {
    let entry = this.#entries.get(id)
    if (entry === undefined) {
      entry = { parts: [], finished: false, waiters: [] }
      this.#entries.set(id, entry)
      if (this.#entries.size > this.#capacity) {
        const oldest = this.#entries.keys().next().value as string
        this.#entries.delete(oldest)
      }
    }
    return entry
  }
}
