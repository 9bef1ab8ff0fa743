import type { TaskFn } from './task.ts'

/** How one attempt ended, as data: lets a combinator decide what a failure means. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown }

/**
 * Wraps `fn` so that its task never fails: the error becomes an outcome instead. Combinators whose
 * attempts are expected to fail (race, retry, hedge) spawn these, so that one failed attempt does
 * not cancel its siblings the way a failed task cancels its scope.
 */
export function captured<T>(fn: TaskFn<T>): TaskFn<Outcome<T>> {
  return async (context) => {
    try {
      return { ok: true, value: await fn(context) }
    } catch (error) {
      return { ok: false, error }
    }
  }
}
