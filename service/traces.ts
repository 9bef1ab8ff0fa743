/**
 * The recent traces of this process, by trace id, for `GET /_weft/traces/:id` (what the `X-Trace-Id`
 * header of an answer points to). One request's trace arrives in parts: the request itself, the
 * geocoder's side of its RPC when the geocoder runs in this process, and later the worker's
 * deliveries of the tasks it enqueued (each continues the request's trace). The parts are kept
 * together under the trace id.
 */
import { clock, type SpanData, type Trace } from 'weft'

/** The spans of one trace id so far, and whether its request (the part that began it) has finished. */
interface Entry {
  spans: SpanData[]
  finished: boolean
  waiters: (() => void)[]
}

/** A bounded store of recent traces; see the module comment. */
export class TraceStore {
  readonly #capacity: number
  readonly #entries = new Map<string, Entry>()

  /** Keeps the last `capacity` trace ids. */
  constructor(capacity = 500) {
    this.#capacity = capacity
  }

  /** A trace listener (`configureTracing({ onTrace })`) that stores each trace part. */
  readonly add = (trace: Trace): void => {
    const entry = this.#entry(trace.id)
    entry.spans.push(...trace.toJSON().spans)
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
    return entry === undefined || entry.spans.length === 0 ? undefined : [...entry.spans]
  }

  #entry(id: string): Entry {
    let entry = this.#entries.get(id)
    if (entry === undefined) {
      entry = { spans: [], finished: false, waiters: [] }
      this.#entries.set(id, entry)
      if (this.#entries.size > this.#capacity) {
        const oldest = this.#entries.keys().next().value as string
        this.#entries.delete(oldest)
      }
    }
    return entry
  }
}
