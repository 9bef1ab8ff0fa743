import type { CacheStore } from '../../batch/store.ts'
import { clock } from '../../core/clock.ts'
import { checkDuration, checkMethods, checkOptions, checkString } from '../../core/validate.ts'
import type { Memcache } from './memcache.ts'

/** Options of {@link memcacheStore}. */
export interface MemcacheStoreOptions {
  /**
   * Put before every key, so that several caches (or several applications) share the servers
   * without their keys meeting. Default `''`.
   */
  prefix?: string
}

/** What the store writes under a key: the value, and the epoch ms (of the active clock) after which it is gone. */
interface Stored {
  value: unknown
  expiresAt: number
}

/**
 * A {@link CacheStore} over memcache, for a `sharedCache` that the processes of a service share:
 * a value one process loaded is a hit for the others. Values are stored as JSON.
 *
 * memcached counts time to live in whole seconds; the store keeps an entry's expiry with it and
 * treats the entry as gone once that has passed, so that an entry lives `ttlMs` at most, as the
 * store contract says, on the active clock (a test's virtual clock moves it too). Calls take their
 * cancellation and deadline from the ambient context, as every memcache call does; a store that
 * fails rejects, which the shared cache counts as a miss (a failed `get`) or as not stored.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { sharedCache } from 'weft/batch'
 * import { embeddedMemcache, memcacheStore } from 'weft/memcache'
 * const memcache = embeddedMemcache({ shards: 3 })
 * // Two caches over the same servers, as two processes of a service would have.
 * const first = sharedCache({ store: memcacheStore(memcache, { prefix: 'users:' }), ttl: 60_000 })
 * const second = sharedCache({ store: memcacheStore(memcache, { prefix: 'users:' }), ttl: 60_000 })
 * let loads = 0
 * const load = async () => ({ id: 7, name: `user 7 (load ${++loads})` })
 * assert.deepEqual(await first.getOrLoad('7', load), { id: 7, name: 'user 7 (load 1)' })
 * assert.deepEqual(await second.getOrLoad('7', load), { id: 7, name: 'user 7 (load 1)' })
 * assert.equal(loads, 1)
 * await memcache.close()
 * ```
 */
export function memcacheStore(memcache: Memcache, options: MemcacheStoreOptions = {}): MemcacheStore {
  return new MemcacheStore(memcache, options)
}

/** See {@link memcacheStore}. */
export class MemcacheStore implements CacheStore {
  /** What is put before every key. */
  readonly prefix: string
  readonly #memcache: Memcache

  /** @internal Use {@link memcacheStore}. */
  constructor(memcache: Memcache, options: MemcacheStoreOptions = {}) {
    checkMethods('memcacheStore()', 'memcache', 'a weft/memcache client', memcache, [
      'getJson',
      'setJson',
      'delete',
    ])
    checkOptions('memcacheStore()', options)
    const { prefix = '' } = options
    checkString('memcacheStore()', 'options.prefix', prefix)
    this.prefix = prefix
    this.#memcache = memcache
  }

  async get(key: string): Promise<unknown> {
    checkString('MemcacheStore.get()', 'key', key)
    const stored = await this.#memcache.getJson<Stored>(this.prefix + key)
    // Anything else under the key (written by someone other than a store) is not an entry.
    if (typeof stored?.expiresAt !== 'number' || !('value' in stored)) return undefined
    return stored.expiresAt > clock().now() ? stored.value : undefined
  }

  async set(key: string, value: unknown, ttlMs: number): Promise<void> {
    checkString('MemcacheStore.set()', 'key', key)
    checkDuration('MemcacheStore.set()', 'ttlMs', ttlMs)
    if (ttlMs === 0) {
      // Stored for no time: what was there goes, as in the memory store.
      await this.#memcache.delete(this.prefix + key)
      return
    }
    const stored: Stored = { value, expiresAt: clock().now() + ttlMs }
    // Whole seconds, rounded up: the expiry kept with the value ends it on time.
    await this.#memcache.setJson(this.prefix + key, stored, { ttl: Math.ceil(ttlMs / 1000) })
  }

  async delete(key: string): Promise<void> {
    checkString('MemcacheStore.delete()', 'key', key)
    await this.#memcache.delete(this.prefix + key)
  }
}
