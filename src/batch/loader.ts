import { ambient, type Node } from '../core/node.ts'
import {
  checkCount,
  checkDuration,
  checkFunction,
  checkOptions,
  checkSignal,
  checkString,
  describe,
} from '../core/validate.ts'
import type { BatchFn, LoaderConfig } from './batch.ts'
import { RequestCache } from './request-cache.ts'
import { Counters, countersOf } from './stats.ts'

/** Options of {@link loader}. */
export interface LoaderOptions<K> {
  /** The most keys one call of the batch function receives; more are split into several calls. Default Infinity. */
  maxBatchSize?: number
  /**
   * Collect loads for this many ms (of the active clock) after the first one before sending the
   * batch, so that loads of later turns join it. Default 0: send at the end of the turn.
   */
  waitMs?: number
  /**
   * Maps a key to the value the cache and the batch compare (for object keys). Default: the key
   * itself. Called whenever that value is needed, not only once per load: keep it pure.
   */
  cacheKey?: (key: K) => unknown
}

/** Options of {@link Loader.load} and {@link Loader.loadMany}. */
export interface LoadOptions {
  /** Cancels this load instead of the ambient task or scope. */
  signal?: AbortSignal
}

const knownOptions = new Set(['maxBatchSize', 'waitMs', 'cacheKey'])

/**
 * Defines a batched lookup: loads of single keys, issued anywhere in a request during one turn of
 * the event loop, become one call of `batchFn` with all their keys, each key once.
 *
 * Define a loader once, at module level, and call it from anywhere: it works through an instance
 * per request, found from the ambient scope, so each request has its own cache and values never
 * leak from one request (or user) to another. The request is the outermost scope: the scopes nested
 * in it share its cache, which lasts as long as it does (open a scope per unit of work in a
 * long-lived process). Outside any scope, the loads of one turn still form one batch, but nothing
 * is cached once the batch has answered.
 *
 * `batchFn(keys, { signal, deadline })` returns (or promises) the values in the order of the keys,
 * or a Map from key to value; an Error as a value fails that key alone, and a throwing batch
 * function fails the keys of that batch only. It runs in its request's context, never in that of
 * the load that happened to come first: the ambient scope, signal and deadline are the request's,
 * and when the request is traced, the batch's span (`<name>.batch`, under the request's root span)
 * is the ambient span. A load that hits the cache resolves together with the batch of its turn, as
 * in DataLoader, so that the loads depending on it batch with the others.
 *
 * A cancelled load (its task or scope cancelled, or `options.signal` aborted) rejects at once with
 * an AbortError, alone; when every load of a key is cancelled the key leaves its batch, and when
 * every key of a batch already sent is, or the request is cancelled, the batch's `signal` aborts.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { scope } from 'weft'
 * import { loader } from 'weft/batch'
 * const calls: number[][] = []
 * const users = loader('users', async (ids: readonly number[]) => {
 *   calls.push([...ids])
 *   return ids.map((id) => ({ id, name: `user ${id}` }))
 * })
 * await scope(async (s) => {
 *   const a = s.spawn('profile', () => users.load(1))
 *   const b = s.spawn('friends', () => users.loadMany([2, 1]))
 *   assert.equal((await a).name, 'user 1')
 *   assert.deepEqual((await b).map((user) => (user as { id: number }).id), [2, 1])
 * })
 * assert.deepEqual(calls, [[1, 2]]) // one round trip, each key once
 * ```
 */
export function loader<K, V>(name: string, batchFn: BatchFn<K, V>, options?: LoaderOptions<K>): Loader<K, V> {
  return new Loader(name, batchFn, options)
}

/**
 * A batched, per-request cached lookup of values by key. Create it with {@link loader}.
 *
 * Every method works on the instance of the ambient request (see {@link loader}).
 */
export class Loader<K, V> {
  /** Names the loader's batch spans (`<name>.batch`) and errors. */
  readonly name: string
  readonly #config: LoaderConfig<K, V>
  readonly #unscoped: RequestCache<K, V>

  /** @internal Use {@link loader}. */
  constructor(name: string, batchFn: BatchFn<K, V>, options: LoaderOptions<K> = {}) {
    checkString('loader()', 'name', name)
    if (name === '') throw new TypeError('loader(): name must be a non-empty string, got ""')
    checkFunction('loader()', 'batchFn', batchFn)
    checkOptions('loader()', options)
    for (const option of Object.keys(options)) {
      if (!knownOptions.has(option)) {
        throw new TypeError(
          `loader(): unknown option "${option}" (the options are ${[...knownOptions].join(', ')})`,
        )
      }
    }
    const { maxBatchSize = Number.POSITIVE_INFINITY, waitMs = 0, cacheKey } = options
    checkCount('loader()', 'options.maxBatchSize', maxBatchSize, 1, true)
    checkDuration('loader()', 'options.waitMs', waitMs)
    if (cacheKey !== undefined) checkFunction('loader()', 'options.cacheKey', cacheKey)
    this.name = name
    this.#config = { name, batchFn, maxBatchSize, waitMs, cacheKey }
    this.#unscoped = new RequestCache(this.#config, undefined, new Counters(undefined))
  }

  /**
   * Promises the value of `key`, fetched with the other keys loaded in this turn (or window), or
   * taken from the request cache. Rejects with the key's error, the batch's error, or an AbortError
   * when the ambient task (or `options.signal`) is cancelled first.
   */
  load(key: K, options?: LoadOptions): Promise<V> {
    // The hot path: messages are built only when they are thrown.
    if (key === undefined || key === null) checkKey(`${this.name}.load()`, 'key', key)
    const signal = options === undefined ? undefined : loadSignal(`${this.name}.load()`, options)
    const node = ambient.getStore()
    return this.#cacheOf(node).load(key, signal === undefined ? node : undefined, signal)
  }

  /**
   * Loads several keys in the same batch. Never rejects: each position holds the value of its key or
   * the Error that key failed with (as in DataLoader).
   */
  loadMany(keys: Iterable<K> | ArrayLike<K>, options?: LoadOptions): Promise<(V | Error)[]> {
    const list = keyList(`${this.name}.loadMany()`, keys)
    const signal = options === undefined ? undefined : loadSignal(`${this.name}.loadMany()`, options)
    const node = ambient.getStore()
    const cache = this.#cacheOf(node)
    const owner = signal === undefined ? node : undefined
    return Promise.all(list.map((key) => cache.load(key, owner, signal).catch(asValue)))
  }

  /**
   * Puts `value` in the request's cache for `key`, unless the key is there already (an Error primes
   * a failure). Outside any scope there is no cache to prime: it does nothing. Returns the loader.
   */
  prime(key: K, value: V | Error): this {
    checkKey(`${this.name}.prime()`, 'key', key)
    this.#cacheOf(ambient.getStore()).prime(key, value)
    return this
  }

  /** Removes `key` from the request's cache, so that its next load fetches it again. Returns the loader. */
  clear(key: K): this {
    checkKey(`${this.name}.clear()`, 'key', key)
    this.#cacheOf(ambient.getStore()).clear(key)
    return this
  }

  /** Empties the request's cache for this loader. Returns the loader. */
  clearAll(): this {
    this.#cacheOf(ambient.getStore()).clearAll()
    return this
  }

  #cacheOf(node: Node | undefined): RequestCache<K, V> {
    if (node === undefined) return this.#unscoped
    const root = node.root
    let cache = root.local(this) as RequestCache<K, V> | undefined
    if (cache === undefined) {
      cache = new RequestCache(this.#config, root, countersOf(root))
      root.setLocal(this, cache)
    }
    return cache
  }
}

function asValue(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error), { cause: error })
}

function checkKey(where: string, what: string, key: unknown): void {
  if (key === undefined || key === null) {
    throw new TypeError(`${where}: ${what} must be a value other than null or undefined, got ${String(key)}`)
  }
}

function loadSignal(where: string, options: LoadOptions): AbortSignal | undefined {
  checkOptions(where, options)
  if (options.signal !== undefined) checkSignal(where, 'options.signal', options.signal)
  return options.signal
}

function keyList<K>(where: string, keys: Iterable<K> | ArrayLike<K>): K[] {
  const iterable = typeof (keys as Iterable<K> | null)?.[Symbol.iterator] === 'function'
  if (!iterable && typeof (keys as ArrayLike<K> | null)?.length !== 'number') {
    throw new TypeError(`${where}: keys must be an array (or any iterable) of keys, got ${describe(keys)}`)
  }
  const list = Array.from(keys)
  list.forEach((key, index) => {
    checkKey(where, `keys[${index}]`, key)
  })
  return list
}
