import type { Outcome } from './outcome.ts'

/** Anything `asCompleted` can wait for; items with a `cancel` method (tasks) are cancelled when left behind. */
export type Awaitable<T> = PromiseLike<T> & { cancel?: (reason?: unknown) => void }

/**
 * Yields the values of `items` in the order they complete. If one rejects, the iterator throws its
 * error. Leaving the loop early (break, return, throw) or an error cancels every task still running.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { scope, asCompleted, sleep } from 'weft'
 * const order = await scope(async (s) => {
 *   const slow = s.spawn('slow', () => sleep(20).then(() => 'slow'))
 *   const fast = s.spawn('fast', () => sleep(5).then(() => 'fast'))
 *   const seen: string[] = []
 *   for await (const value of asCompleted([slow, fast])) seen.push(value)
 *   return seen
 * })
 * assert.deepEqual(order, ['fast', 'slow'])
 * ```
 */
export function asCompleted<T>(items: Iterable<Awaitable<T>>): AsyncIterableIterator<T> {
  if (items === null || typeof (items as Iterable<unknown>)?.[Symbol.iterator] !== 'function') {
    throw new TypeError(`asCompleted(): items must be an iterable of tasks or promises, got ${String(items)}`)
  }
  const pending = new Set<Awaitable<T>>(items)
  const completed: Outcome<T>[] = []
  let wake: (() => void) | undefined

  for (const item of pending) {
    if (typeof item?.then !== 'function') {
      throw new TypeError(`asCompleted(): every item must be a task or a promise, got ${String(item)}`)
    }
  }
  for (const item of pending) {
    item.then(
      (value) => arrive(item, { ok: true, value }),
      (error: unknown) => arrive(item, { ok: false, error }),
    )
  }

  function arrive(item: Awaitable<T>, outcome: Outcome<T>): void {
    if (!pending.delete(item)) return // already abandoned
    completed.push(outcome)
    wake?.()
  }

  function abandon(): void {
    for (const item of pending)
      item.cancel?.(new DOMException('asCompleted() loop was left early', 'AbortError'))
    pending.clear()
  }

  return {
    async next(): Promise<IteratorResult<T>> {
      while (completed.length === 0) {
        if (pending.size === 0) return { done: true, value: undefined }
        await new Promise<void>((resolve) => {
          wake = resolve
        })
        wake = undefined
      }
      const outcome = completed.shift() as Outcome<T>
      if (outcome.ok) return { done: false, value: outcome.value }
      abandon()
      completed.length = 0
      throw outcome.error
    },
    async return(): Promise<IteratorResult<T>> {
      abandon()
      completed.length = 0
      return { done: true, value: undefined }
    },
    [Symbol.asyncIterator]() {
      return this
    },
  }
}
