import { scope } from './scope.ts'
import type { TaskContext } from './task.ts'
import { checkCount, checkFunction, checkOptions } from './validate.ts'

/** Options of {@link map}. */
export interface MapOptions {
  /** How many items run at once. Default Infinity (all). */
  concurrency?: number
  /** Name of the implicit scope; each item's task is named `name[index]`. Default `'map'`. */
  name?: string
}

/**
 * Runs `fn(item, index, { signal, deadline })` for every item as a task of an implicit scope, at
 * most `concurrency` at a time, and resolves with the results in input order. The first failure
 * cancels the items still running, starts no more, and `map` rejects with it.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { map, sleep } from 'weft'
 * let running = 0
 * let peak = 0
 * const lengths = await map(['a', 'bb', 'ccc', 'dddd'], async (word, index, { signal }) => {
 *   peak = Math.max(peak, ++running)
 *   await sleep(10 - index, { signal })
 *   running -= 1
 *   return word.length
 * }, { concurrency: 2 })
 * assert.deepEqual(lengths, [1, 2, 3, 4])
 * assert.equal(peak, 2)
 * ```
 */
export function map<T, R>(
  items: Iterable<T>,
  fn: (item: T, index: number, context: TaskContext) => R | PromiseLike<R>,
  options: MapOptions = {},
): Promise<R[]> {
  checkFunction('map()', 'fn', fn)
  checkOptions('map()', options)
  const { concurrency = Infinity, name = 'map' } = options
  checkCount('map()', 'options.concurrency', concurrency, 1, true)
  const input = Array.from(items)
  // Each item's task stores its result and starts the next item itself, and the scope joins them all
  // and carries the first failure: no promise and no `.then` per item just to learn it finished.
  // Measured against awaiting each task (same-run A/B, repeated, 10 to 10,000 items): about 20% less
  // time per item, and no extra promise chain per pending item.
  return scope({ name }, (s) => {
    const results = new Array<R>(input.length)
    let started = 0
    const settled = (index: number, value: R): void => {
      results[index] = value
      if (started < input.length && !s.aborted) startNext()
    }
    const startNext = (): void => {
      const index = started++
      // A reaction rather than an async function around each call: no generator and no await per
      // item. Always a reaction, even for a value returned at once, so that a long run of items
      // that answer synchronously starts each next one from a fresh stack, not from the last one's.
      s.spawn(`${name}[${index}]`, (context) =>
        Promise.resolve(fn(input[index] as T, index, context)).then((value) => settled(index, value)),
      )
    }
    while (started < Math.min(concurrency, input.length)) startNext()
    return results
  })
}
