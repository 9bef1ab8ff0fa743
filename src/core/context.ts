import type { Span } from '../trace/span.ts'
import { clock } from './clock.ts'
import { ambient } from './node.ts'
import type { Scope } from './scope.ts'

// Outside any scope nothing is ever aborted: one shared signal that never fires.
const neverAborted = new AbortController().signal

/**
 * The ambient cancellation signal: inside a task, that task's own signal; inside a scope's callback,
 * the scope's; outside any scope, a signal that never aborts. Backend adapters read it so that
 * cancellation reaches them without an extra argument; an explicit `signal` argument overrides it.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { scope, currentSignal } from 'weft'
 * assert.equal(currentSignal().aborted, false)
 * await scope(async (s) => {
 *   const task = s.spawn('t', ({ signal }) => assert.equal(currentSignal(), signal))
 *   await task
 * })
 * ```
 */
export function currentSignal(): AbortSignal {
  return ambient.getStore()?.signal ?? neverAborted
}

/**
 * The ambient deadline in epoch ms (the active clock's time), or undefined outside any deadline.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { scope, currentDeadline, clock } from 'weft'
 * assert.equal(currentDeadline(), undefined)
 * await scope({ deadline: 100 }, () => {
 *   assert.ok((currentDeadline() ?? 0) > clock().now())
 * })
 * ```
 */
export function currentDeadline(): number | undefined {
  return ambient.getStore()?.deadline
}

/**
 * Milliseconds left before the ambient deadline (0 once it passed), or Infinity without one.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { scope, remaining } from 'weft'
 * assert.equal(remaining(), Infinity)
 * await scope({ deadline: 250 }, () => assert.ok(remaining() <= 250))
 * ```
 */
export function remaining(): number {
  return msUntil(currentDeadline())
}

/**
 * @internal Milliseconds left before `deadline` (0 once it passed), or Infinity without one; `now`
 * is the clock's reading, for a caller that has one already.
 */
export function msUntil(deadline: number | undefined, now?: number): number {
  return deadline === undefined ? Infinity : Math.max(0, deadline - (now ?? clock().now()))
}

/**
 * The ambient scope (inside a task: the scope it was spawned in), or undefined outside any scope.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { scope, currentScope } from 'weft'
 * assert.equal(currentScope(), undefined)
 * await scope({ name: 'outer' }, (s) => assert.equal(currentScope(), s))
 * ```
 */
export function currentScope(): Scope | undefined {
  return ambient.getStore()?.scope as Scope | undefined
}

/**
 * The ambient span when the request is traced, else undefined.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { scope, currentSpan } from 'weft'
 * await scope({ name: 'traced', trace: true }, () => assert.equal(currentSpan()?.name, 'traced'))
 * await scope({ name: 'untraced', trace: false }, () => assert.equal(currentSpan(), undefined))
 * ```
 */
export function currentSpan(): Span | undefined {
  return ambient.getStore()?.span
}
