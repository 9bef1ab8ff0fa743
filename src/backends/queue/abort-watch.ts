interface Watch {
  readonly callbacks: Set<() => void>
  readonly listener: () => void
}

const watches = new WeakMap<AbortSignal, Watch>()

/**
 * Calls `callback` when `signal` aborts; returns the function that stops watching. However many calls
 * watch one signal, it carries a single listener, removed when the last stops watching: `EventTarget`
 * compares every new listener with those already there, so 10,000 enqueues waiting on the same
 * (ambient) signal would otherwise cost 10,000² comparisons.
 */
export function watchAbort(signal: AbortSignal, callback: () => void): () => void {
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
  return () => {
    if (!callbacks.delete(callback) || callbacks.size > 0) return
    if (watches.get(signal) === watch) watches.delete(signal)
    signal.removeEventListener('abort', listener)
  }
}
