// Shared by the tests of weft/batch: batch functions that record their calls, and batch functions
// whose answers a test gives by hand.
import type { BatchContext, BatchResult } from 'weft/batch'

/** One call of a batch function: the keys it received and its context. */
export interface Call<K> {
  keys: K[]
  context: BatchContext
}

/** A batch function answering `answer(key)` for each key, and the record of its calls. */
export function recording<K, V>(
  answer: (key: K) => V | Error,
): {
  calls: Call<K>[]
  keysOf: () => K[][]
  batchFn: (keys: readonly K[], context: BatchContext) => Promise<(V | Error)[]>
} {
  const calls: Call<K>[] = []
  return {
    calls,
    keysOf: () => calls.map((call) => call.keys),
    batchFn: async (keys, context) => {
      calls.push({ keys: [...keys], context })
      return keys.map(answer)
    },
  }
}

/** A call of a {@link manual} batch function, waiting for the test to answer it. */
export interface PendingCall<K, V> extends Call<K> {
  answer(values: BatchResult<V>): void
  fail(error: unknown): void
}

/** A batch function whose calls stay pending until the test answers them. */
export function manual<K, V>(): {
  calls: PendingCall<K, V>[]
  batchFn: (keys: readonly K[], context: BatchContext) => Promise<BatchResult<V>>
} {
  const calls: PendingCall<K, V>[] = []
  return {
    calls,
    batchFn: (keys, context) => {
      const { promise, resolve, reject } = Promise.withResolvers<BatchResult<V>>()
      calls.push({ keys: [...keys], context, answer: resolve, fail: reject })
      return promise
    },
  }
}

/** Lets the current turn end: promise jobs, then `process.nextTick` callbacks, so batches are sent. */
export async function nextTurn(): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve))
}

/** The outcome of a promise as data, to compare settled loads in one assertion. */
export async function outcome<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  try {
    return { value: await promise }
  } catch (error) {
    return { error }
  }
}
