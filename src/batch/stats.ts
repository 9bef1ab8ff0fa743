import { currentScope } from '../core/context.ts'
import type { Scope } from '../core/scope.ts'
import type { AttributeValue } from '../trace/model.ts'

/** What the loaders of one request did: how many loads were asked for, and how many round trips served them. */
export interface LoaderStats {
  /** Calls to `load` (each key of `loadMany` counts), cache hits and duplicates included. */
  readonly loads: number
  /** Calls to batch functions: the round trips to backends. */
  readonly batches: number
  /** Keys passed to batch functions, summed over the batches. */
  readonly keys: number
}

/** The counters of one request, shared by every loader used in it. */
export class Counters implements LoaderStats {
  loads = 0
  batches = 0
  keys = 0
  /** The attributes of the request's root span, when it is traced: the totals are kept there too. */
  readonly #attributes: Record<string, AttributeValue> | undefined

  constructor(root: Scope | undefined) {
    this.#attributes = root?.span?.attributes
  }

  load(): void {
    this.loads += 1
    if (this.#attributes !== undefined) this.#attributes['weft.loads'] = this.loads
  }

  batch(keys: number): void {
    this.batches += 1
    this.keys += keys
    if (this.#attributes === undefined) return
    this.#attributes['weft.batches'] = this.batches
    this.#attributes['weft.keys'] = this.keys
  }
}

/** The counters of the request whose outermost scope is `root`. */
export function countersOf(root: Scope): Counters {
  let counters = root.local(Counters) as Counters | undefined
  if (counters === undefined) {
    counters = new Counters(root)
    root.setLocal(Counters, counters)
  }
  return counters
}

/**
 * Loads requested vs round trips issued so far by the request `s` belongs to (by default, the
 * ambient one): the measure of how well batching and the request cache work. The same totals are
 * set on the request's root span as `weft.loads`, `weft.batches` and `weft.keys` when it is traced.
 * Outside any scope every count is 0: loads there belong to no request.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { scope } from 'weft'
 * import { loader, loaderStats } from 'weft/batch'
 * const users = loader('users', async (ids: readonly number[]) => ids.map((id) => ({ id })))
 * const stats = await scope(async () => {
 *   await Promise.all([users.load(1), users.load(2), users.load(1)])
 *   await users.load(2) // from the request cache
 *   return loaderStats()
 * })
 * assert.deepEqual(stats, { loads: 4, batches: 1, keys: 2 })
 * ```
 */
export function loaderStats(s: Scope | undefined = currentScope()): LoaderStats {
  const counters = s?.root.local(Counters) as Counters | undefined
  return { loads: counters?.loads ?? 0, batches: counters?.batches ?? 0, keys: counters?.keys ?? 0 }
}
