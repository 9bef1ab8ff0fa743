import { clock, type TimerHandle } from './clock.ts'
import { captured, type Outcome } from './outcome.ts'
import { scope } from './scope.ts'
import type { Task, TaskFn } from './task.ts'
import { checkCount, checkDuration, checkFunction, checkOptions } from './validate.ts'

/** Options of {@link hedge}. */
export interface HedgeOptions {
  /** Milliseconds to wait for an attempt before starting another one alongside it. */
  after: number
  /** Attempts in all, the first included. Default 2. */
  max?: number
  /** Name of the implicit scope; attempts are named `name #n`. Default `'hedge'`. */
  name?: string
}

/**
 * A hedged request ("The Tail at Scale"): calls `fn({ signal, deadline })`, and if it has not
 * succeeded after `after` ms, calls it again alongside, up to `max` attempts. The first success wins
 * and the other attempts are cancelled. An attempt that fails while no other is in flight starts the
 * next one at once. If every attempt fails, rejects with the last error. Use it only for idempotent work.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { hedge, sleep } from 'weft'
 * let calls = 0
 * const answer = await hedge(async ({ signal }) => {
 *   calls += 1
 *   await sleep(calls === 1 ? 1000 : 5, { signal }) // the first replica is stuck
 *   return `attempt ${calls}`
 * }, { after: 10 })
 * assert.equal(answer, 'attempt 2')
 * ```
 */
export function hedge<T>(fn: TaskFn<T>, options: HedgeOptions): Promise<T> {
  checkFunction('hedge()', 'fn', fn)
  checkOptions('hedge()', options)
  const { after, max = 2, name = 'hedge' } = options ?? {}
  checkDuration('hedge()', 'options.after', after)
  checkCount('hedge()', 'options.max', max, 1)
  const attempt = captured(fn)

  return scope(
    { name },
    (s) =>
      new Promise<T>((resolve, reject) => {
        const attempts: Task<Outcome<T>>[] = []
        let failures = 0
        let timer: TimerHandle | undefined
        let decided = false

        const decide = (): void => {
          decided = true
          if (timer !== undefined) clock().clearTimeout(timer)
        }
        const launch = (): void => {
          timer = undefined
          const task = s.spawn(`${name} #${attempts.length + 1}`, attempt)
          attempts.push(task)
          if (attempts.length < max) timer = clock().setTimeout(launch, after)
          task.then(
            (outcome) => {
              if (decided) return
              if (outcome.ok) {
                decide()
                for (const other of attempts) if (other !== task) other.cancel(hedgeWon(name))
                resolve(outcome.value)
              } else if (++failures === max || s.aborted) {
                decide()
                reject(outcome.error)
              } else if (attempts.length < max && failures === attempts.length) {
                if (timer !== undefined) clock().clearTimeout(timer)
                launch() // nothing left in flight: hedge now rather than wait out the delay
              }
            },
            (error: unknown) => {
              decide() // our tasks only reject when the whole scope is cancelled
              reject(error)
            },
          )
        }
        launch()
      }),
  )
}

function hedgeWon(name: string): DOMException {
  return new DOMException(`${name}: another attempt succeeded first`, 'AbortError')
}
