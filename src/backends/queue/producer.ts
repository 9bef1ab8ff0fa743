import { randomUUID } from 'node:crypto'
import { currentSignal, currentSpan } from '../../core/context.ts'
import { AbortError, BackendUnavailable, isAbort } from '../../core/errors.ts'
import { onAbort } from '../../core/on-abort.ts'
import { formatTraceparent } from '../../trace/traceparent.ts'
import type { EnqueueOptions, EnqueueResult } from './task-queue.ts'

/** Writes one task: its id, the enqueuing span's `traceparent`, and the signal that may still cancel the write. */
export type WriteTask = (
  id: string,
  traceparent: string | undefined,
  signal: AbortSignal,
) => Promise<EnqueueResult>

/**
 * What every backend's `enqueue` does around its write: refuse when closed, honour the caller's
 * signal (explicit or ambient) until the write starts, give the task its id, and record the
 * producer span whose `traceparent` travels with the task.
 */
export class Producer {
  readonly #endpoint: { readonly backend: string; readonly address: string }

  constructor(endpoint: { readonly backend: string; readonly address: string }) {
    this.#endpoint = endpoint
  }

  /** Throws `BackendUnavailable` once the queue is closing. */
  checkOpen(closing: boolean): void {
    if (closing) {
      const { backend, address } = this.#endpoint
      throw new BackendUnavailable('the queue is closed', { backend, address })
    }
  }

  async enqueue(
    name: string,
    options: EnqueueOptions | undefined,
    closing: boolean,
    write: WriteTask,
  ): Promise<EnqueueResult> {
    this.checkOpen(closing)
    const signal = options?.signal ?? currentSignal()
    if (signal.aborted) throw new AbortError(`enqueue of "${name}"`, signal.reason)
    const id = randomUUID()
    const span = currentSpan()?.child('queue.enqueue', 'producer').adoptAttributes({
      'queue.backend': this.#endpoint.backend,
      'queue.name': name,
      'queue.task_id': id,
      'server.address': this.#endpoint.address,
    })
    try {
      const result = await write(id, span && formatTraceparent(span), signal)
      span?.setAttribute('queue.task_id', result.id)
      if (result.deduplicated) span?.setAttribute('queue.deduplicated', true)
      span?.finish('ok')
      return result
    } catch (error) {
      span?.finish(isAbort(error) ? 'cancelled' : 'error', error)
      throw error
    }
  }
}

/**
 * Waits for `work` (shared preparation: a schema, a connection) as long as `signal` allows: rejects
 * with an `AbortError` when it aborts first. The work itself goes on for the other callers.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal, operation: string): Promise<T> {
  if (signal.aborted) return Promise.reject(new AbortError(operation, signal.reason))
  return new Promise<T>((resolve, reject) => {
    const unwatch = onAbort(signal, () => reject(new AbortError(operation, signal.reason)))
    work.then(resolve, reject).finally(unwatch)
  })
}
