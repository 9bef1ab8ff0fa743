import { detached } from '../../core/detached.ts'
import { AbortError } from '../../core/errors.ts'
import { onAbort } from '../../core/on-abort.ts'

/** Options of a {@link GroupCommit}. */
export interface GroupCommitOptions {
  /** Items in one write, at most. */
  readonly maxBatch: number
  /** Writes in flight at once, at most: items submitted meanwhile wait and go together in the next. */
  readonly maxInFlight: number
  /** Names the operation in the `AbortError` of a cancelled submission. */
  readonly operation: string
}

interface Pending<T, R> {
  readonly item: T
  readonly signal: AbortSignal | undefined
  readonly resolve: (result: R) => void
  readonly reject: (error: unknown) => void
}

const resolved = Promise.resolve()

/**
 * Group commit: items submitted in the same turn of the event loop, or while the previous writes are
 * in flight, are written together in one call of `write`. A lone item goes out at once (one round
 * trip, as without batching); a burst of 10,000 costs a handful. `write` returns one result per item,
 * in order; if it throws, every item of that write fails with its error.
 *
 * Each submission may carry a signal: aborted before its write starts, the item is left out of it;
 * aborted while the write is in flight, the caller is answered at once with an `AbortError` and the
 * result is dropped (the item may have been written). Writes run outside any request, so that one
 * caller's cancellation or trace never applies to the others' items.
 */
export class GroupCommit<T, R> {
  readonly #write: (items: T[]) => Promise<R[]>
  readonly #options: GroupCommitOptions
  #pending: Pending<T, R>[] = []
  #inFlight = 0
  #scheduled = false
  #idle: PromiseWithResolvers<void> | undefined

  constructor(write: (items: T[]) => Promise<R[]>, options: GroupCommitOptions) {
    this.#write = write
    this.#options = options
  }

  /** Queues `item` for the next write and resolves with its result. */
  submit(item: T, signal?: AbortSignal): Promise<R> {
    if (signal?.aborted) return Promise.reject(new AbortError(this.#options.operation, signal.reason))
    const { promise, resolve, reject } = Promise.withResolvers<R>()
    if (signal === undefined) {
      this.#pending.push({ item, signal, resolve, reject })
    } else {
      const unwatch = onAbort(signal, () => reject(new AbortError(this.#options.operation, signal.reason)))
      this.#pending.push({
        item,
        signal,
        resolve: (result) => {
          unwatch()
          resolve(result)
        },
        reject: (error) => {
          unwatch()
          reject(error)
        },
      })
    }
    this.#schedule()
    return promise
  }

  /** Resolves once nothing is waiting or being written. */
  settled(): Promise<void> {
    if (this.#pending.length === 0 && this.#inFlight === 0) return Promise.resolve()
    this.#idle ??= Promise.withResolvers<void>()
    return this.#idle.promise
  }

  // At the end of the turn: after every promise job queued so far has run, so that calls made by
  // independent code paths of the same turn land in the same write.
  #schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    resolved.then(() =>
      process.nextTick(() => {
        this.#scheduled = false
        this.#flush()
      }),
    )
  }

  #flush(): void {
    while (this.#pending.length > 0 && this.#inFlight < this.#options.maxInFlight) {
      const batch: Pending<T, R>[] = []
      while (batch.length < this.#options.maxBatch && this.#pending.length > 0) {
        const next = this.#pending.shift() as Pending<T, R>
        if (next.signal?.aborted) next.reject(new AbortError(this.#options.operation, next.signal.reason))
        else batch.push(next)
      }
      if (batch.length > 0) this.#send(batch)
    }
    if (this.#pending.length === 0 && this.#inFlight === 0) {
      this.#idle?.resolve()
      this.#idle = undefined
    }
  }

  #send(batch: Pending<T, R>[]): void {
    this.#inFlight += 1
    detached(async () => this.#write(batch.map((pending) => pending.item)))
      .then(
        (results) => {
          for (let i = 0; i < batch.length; i++) (batch[i] as Pending<T, R>).resolve(results[i] as R)
        },
        (error: unknown) => {
          for (const pending of batch) pending.reject(error)
        },
      )
      .finally(() => {
        this.#inFlight -= 1
        this.#flush()
      })
  }
}
