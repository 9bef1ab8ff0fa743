import type { Waiter } from './waiter.ts'

/** Stands for a cached `undefined` (a Map gives `undefined` for the keys it does not have). */
const UNDEFINED: unique symbol = Symbol('undefined')

/**
 * A key's outcome as a request cache keeps a primed key, and as a cache hit receives it: the value
 * itself, or the Error the key failed with (as in DataLoader, an Error value fails its key).
 */
export type Settled<V> = V | Error | typeof UNDEFINED

/** The form in which the cache keeps `value`. */
export function cache<V>(value: V | Error): Settled<V> {
  return value === undefined ? UNDEFINED : value
}

/** The value of a settled key, or its error thrown. */
export function unwrap<V>(settled: Settled<V>): V {
  if (settled instanceof Error) throw settled
  return (settled === UNDEFINED ? undefined : settled) as V
}

/** Settles the waiter of a cache hit with the key's outcome. */
export function deliver<V>(waiter: Waiter<V>, settled: Settled<V>): void {
  if (settled instanceof Error) waiter.settle(false, settled, false)
  else waiter.settle(true, settled === UNDEFINED ? undefined : settled, false)
}
