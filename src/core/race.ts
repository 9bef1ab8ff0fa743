import { captured, type Outcome } from './outcome.ts'
import { scope } from './scope.ts'
import type { Task, TaskFn } from './task.ts'
import { checkFunction, checkOptions } from './validate.ts'

/** Options of {@link race}. */
export interface RaceOptions {
  /** Name of the implicit scope, shown in spans and errors. Default `'race'`. */
  name?: string
}

/**
 * Runs every function as a task of an implicit scope; the first to succeed wins and the others are
 * cancelled (`race` settles once their cleanup has run). If all fail, rejects with an
 * AggregateError of their errors, in the order the functions were given.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { race, sleep } from 'weft'
 * const winner = await race([
 *   async ({ signal }) => { await sleep(50, { signal }); return 'replica A' },
 *   async ({ signal }) => { await sleep(10, { signal }); return 'replica B' },
 * ])
 * assert.equal(winner, 'replica B')
 * ```
 */
export function race<T>(fns: Iterable<TaskFn<T>>, options: RaceOptions = {}): Promise<T> {
  checkOptions('race()', options)
  const list = Array.from(fns ?? [])
  if (list.length === 0) throw new TypeError('race(): fns must contain at least one function, got none')
  list.forEach((fn, index) => {
    checkFunction('race()', `fns[${index}]`, fn)
  })
  const { name = 'race' } = options
  return scope(
    { name },
    (s) =>
      new Promise<T>((resolve, reject) => {
        const errors: unknown[] = []
        let failures = 0
        let decided = false
        const tasks: Task<Outcome<T>>[] = list.map((fn, index) => s.spawn(`${name}[${index}]`, captured(fn)))
        tasks.forEach((task, index) => {
          task.then((outcome) => {
            if (decided) return
            if (outcome.ok) {
              decided = true
              for (const other of tasks) if (other !== task) other.cancel(lostTo(name, index))
              resolve(outcome.value)
              return
            }
            errors[index] = outcome.error
            failures += 1
            if (failures === tasks.length) {
              decided = true
              reject(new AggregateError(errors, `${name}: every one of ${tasks.length} attempts failed`))
            }
          }, reject) // a task of ours rejects only when the whole scope is cancelled
        })
      }),
  )
}

function lostTo(name: string, winner: number): DOMException {
  return new DOMException(`${name}: attempt ${winner} succeeded first`, 'AbortError')
}
