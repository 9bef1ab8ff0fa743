interface Watch {
  readonly callbacks: Set<() => void>
  readonly listener: () => void
}

const watches = new WeakMap<AbortSignal, Watch>()

/**
 * Calls `callback` once `signal` aborts, and returns the function that stops watching. However many
 * calls watch one signal, it carries a single listener, removed when the last one stops watching.
 * Use it instead of `addEventListener` wherever many operations wait on one signal (a task issuing a
 * hundred gets, ten thousand sleeps under one scope): `EventTarget` compares every new listener with
 * those already there, so one listener each costs time quadratic in their number.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { onAbort } from 'weft'
 * const controller = new AbortController()
 * const seen: string[] = []
 * const stop = onAbort(controller.signal, () => seen.push('first'))
 * onAbort(controller.signal, () => seen.push('second'))
 * stop()
 * controller.abort()
 * assert.deepEqual(seen, ['second'])
 * ```
 */
export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  let watch = watches.get(signal)
  if (watch === undefined) {
    const callbacks = new Set<() => void>()
    const listener = (): void => {
      watches.delete(signal)
      for (const fn of callbacks) fn()
    }
    watch = { callbacks, listener }
    watches.set(signal, watch)
    signal.addEventListener('abort', listener, { once: true })
  }
  const { callbacks, listener } = watch
  callbacks.add(callback)
  const current = watch
  return () => {
    if (!callbacks.delete(callback) || callbacks.size > 0) return
    if (watches.get(signal) === current) watches.delete(signal)
    signal.removeEventListener('abort', listener)
  }
}
