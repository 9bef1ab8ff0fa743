/** Callbacks waiting on each signal, behind the one listener registered on it. */
const watchers = new WeakMap<AbortSignal, Set<() => void>>()

/**
 * Calls `onAbort` once `signal` aborts, until the returned function is called. However many calls
 * wait on one signal (a task issuing a hundred gets), the signal carries a single listener: one
 * listener each would cost as many registrations and trip Node's "possible EventTarget memory leak"
 * warning past ten.
 */
export function watchAbort(signal: AbortSignal, onAbort: () => void): () => void {
  let set = watchers.get(signal)
  if (set === undefined) {
    const created = new Set<() => void>()
    set = created
    watchers.set(signal, created)
    signal.addEventListener(
      'abort',
      () => {
        watchers.delete(signal)
        for (const callback of created) callback()
      },
      { once: true },
    )
  }
  set.add(onAbort)
  const watching = set
  return () => {
    watching.delete(onAbort)
    // The listener stays until the signal aborts or is collected: removing and re-adding it for each
    // call would cost more than an idle listener on a signal that usually belongs to a short task.
  }
}
