import { clock } from '../core/clock.ts'
import { checkCount, checkDuration, checkOptions, checkString } from '../core/validate.ts'

/**
 * Where a {@link sharedCache} keeps its entries: an in-memory LRU ({@link memoryStore}) or shared
 * servers (`memcacheStore` of `weft/memcache`). Three calls, all asynchronous, so that a networked
 * store fits as is:
 *
 * - `get(key)` resolves to what `set` stored under `key`, or `undefined` when there is none (never
 *   set, deleted, expired or evicted);
 * - `set(key, value, ttlMs)` stores `value` for `ttlMs` milliseconds at most (a store may evict it
 *   sooner); values are plain JSON data, so a store may serialize them;
 * - `delete(key)` removes the entry, if any.
 *
 * Keys are non-empty strings of at most 250 characters with no whitespace or control characters
 * (what memcache accepts). A store reads cancellation and deadlines from the ambient context
 * (`currentSignal()`, `currentDeadline()`), like every weft adapter. A store that fails rejects: the
 * shared cache then treats a failed `get` as a miss and a failed `set` as not stored.
 */
export interface CacheStore {
  get(key: string): Promise<unknown>
  set(key: string, value: unknown, ttlMs: number): Promise<void>
  delete(key: string): Promise<void>
}

/** Options of {@link memoryStore}. */
export interface MemoryStoreOptions {
  /** The most entries kept: past it, the least recently used one is evicted. Default 10,000. */
  maxEntries?: number
}

interface Stored {
  value: unknown
  /** Epoch ms of the active clock after which the entry is gone. */
  expiresAt: number
}

const done = Promise.resolve()

/**
 * An in-process {@link CacheStore}: a least-recently-used map with a time to live per entry, on the
 * active clock (so tests move its time with the virtual clock). Entries expire lazily, when read or
 * evicted: no timer is ever set. Values are kept as they are, not copied: what one request reads,
 * another may read too, so treat cached values as immutable.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { memoryStore } from 'weft/batch'
 * const store = memoryStore({ maxEntries: 2 })
 * await store.set('a', 1, 60_000)
 * await store.set('b', 2, 60_000)
 * await store.get('a') // now the most recently used
 * await store.set('c', 3, 60_000) // evicts 'b'
 * assert.deepEqual([await store.get('a'), await store.get('b'), await store.get('c')], [1, undefined, 3])
 * ```
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  return new MemoryStore(options)
}

/** See {@link memoryStore}. */
export class MemoryStore implements CacheStore {
  readonly #entries = new Map<string, Stored>()
  readonly #maxEntries: number

  /** @internal Use {@link memoryStore}. */
  constructor(options: MemoryStoreOptions = {}) {
    checkOptions('memoryStore()', options)
    const { maxEntries = 10_000 } = options
    checkCount('memoryStore()', 'options.maxEntries', maxEntries, 1)
    this.#maxEntries = maxEntries
  }

  /** Entries held, expired ones not yet noticed included. */
  get size(): number {
    return this.#entries.size
  }

  get(key: string): Promise<unknown> {
    checkString('MemoryStore.get()', 'key', key)
    const stored = this.#entries.get(key)
    if (stored === undefined) return Promise.resolve(undefined)
    this.#entries.delete(key)
    if (stored.expiresAt <= clock().now()) return Promise.resolve(undefined)
    this.#entries.set(key, stored) // the most recently used is last in the Map's order
    return Promise.resolve(stored.value)
  }

  set(key: string, value: unknown, ttlMs: number): Promise<void> {
    checkString('MemoryStore.set()', 'key', key)
    checkDuration('MemoryStore.set()', 'ttlMs', ttlMs)
    this.#entries.delete(key)
    if (ttlMs === 0) return done
    this.#entries.set(key, { value, expiresAt: clock().now() + ttlMs })
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string
      this.#entries.delete(oldest)
    }
    return done
  }

  delete(key: string): Promise<void> {
    checkString('MemoryStore.delete()', 'key', key)
    this.#entries.delete(key)
    return done
  }
}
