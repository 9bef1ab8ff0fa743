import { clock } from '../core/clock.ts'
import { currentSpan } from '../core/context.ts'
import { AbortError, isAbort } from '../core/errors.ts'
import { ambient, type Node } from '../core/node.ts'
import {
  checkDuration,
  checkFunction,
  checkMethods,
  checkOptions,
  checkString,
  describe,
} from '../core/validate.ts'
import type { Span } from '../trace/span.ts'
import { detached, Flight } from './flight.ts'
import { type CacheStore, memoryStore } from './store.ts'
import { cancelled } from './waiter.ts'

/** Options of {@link sharedCache}. */
export interface SharedCacheOptions {
  /** Names the cache in spans (`<name>.get`) and errors. Default `'cache'`. */
  name?: string
  /** Where entries live. Default: a {@link memoryStore} of this process. */
  store?: CacheStore
  /** How long a loaded value is fresh, in ms. */
  ttl: number
  /**
   * How long a load that found nothing (`undefined`) is remembered, in ms, so that repeated lookups
   * of a missing key do not all reach the backend. Default 0: not remembered.
   */
  negativeTtl?: number
  /**
   * For how long after a value stops being fresh it is still served, in ms, while one refresh runs in
   * the background. Default 0: a stale value is a miss.
   */
  staleWhileRevalidate?: number
  /**
   * Up to this fraction of each time to live is taken off at random (0 to 1), so that entries loaded
   * together do not all expire together and stampede the backend. Default 0.1.
   */
  jitter?: number
  /**
   * Told of the failures that do not fail a lookup: a store that cannot be read (a miss) or written,
   * a background refresh that failed. Default: they are ignored.
   */
  onError?: (error: unknown, key: string) => void
}

/** Options of {@link SharedCache.getOrLoad}. */
export interface GetOrLoadOptions {
  /** This entry's time to live in ms, instead of the cache's `ttl`. */
  ttl?: number
}

/** What a load function receives. */
export interface LoadContext {
  /** Aborted when every caller waiting for this load has been cancelled. */
  readonly signal: AbortSignal
}

/**
 * What the cache stores under a key: the value (absent for a remembered miss) and until when it is
 * fresh. Plain JSON, so that a networked store can keep it.
 */
interface Envelope<V> {
  value?: V
  freshUntil: number
}

/**
 * The lookups of a key that began since it was last deleted. A delete ends the era: what its lookups
 * load is not stored, since it may predate the change the delete is about.
 */
interface Era {
  deleted: boolean
  /** Lookups, loads and refreshes of the era still running: at 0 it is forgotten. */
  users: number
}

const knownOptions = new Set([
  'name',
  'store',
  'ttl',
  'negativeTtl',
  'staleWhileRevalidate',
  'jitter',
  'onError',
])

/**
 * A cache shared by every request of the process (and, with a networked store, by every process):
 * cache-aside over a {@link CacheStore}, with single-flight loading.
 *
 * `getOrLoad(key, fn)` returns the cached value of `key`, or calls `fn` to load it and stores the
 * result for `ttl` ms. Concurrent misses of one key in this process share one call of `fn`, however
 * many requests miss at once; a caller that is cancelled stops waiting alone, and `fn`'s signal
 * aborts only when every caller has. `fn` runs detached from its callers, in a scope of its own.
 * Optionally, a load that found nothing is remembered (`negativeTtl`) and a value past its time is
 * served while it is refreshed in the background (`staleWhileRevalidate`). Times to live are
 * shortened at random by up to `jitter`, against synchronized expiry.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { scope } from 'weft'
 * import { sharedCache } from 'weft/batch'
 * const cities = sharedCache<string>({ name: 'cities', ttl: 60_000 })
 * let queries = 0
 * const lookup = (id: number) =>
 *   cities.getOrLoad(`city:${id}`, async () => {
 *     queries += 1
 *     return `city ${id}`
 *   })
 * const [a, b] = await Promise.all([scope(() => lookup(7)), scope(() => lookup(7))]) // two requests, one load
 * assert.deepEqual([a, b, await lookup(7), queries], ['city 7', 'city 7', 'city 7', 1])
 * ```
 */
export function sharedCache<V = unknown>(options: SharedCacheOptions): SharedCache<V> {
  return new SharedCache<V>(options)
}

/** See {@link sharedCache}. */
export class SharedCache<V = unknown> {
  readonly name: string
  readonly #store: CacheStore
  readonly #ttl: number
  readonly #negativeTtl: number
  readonly #staleFor: number
  readonly #jitter: number
  readonly #onError: ((error: unknown, key: string) => void) | undefined
  /** The lookup under way for each key: callers meanwhile join it. */
  readonly #flights = new Map<string, Flight<V>>()
  /** Keys being refreshed in the background. */
  readonly #refreshing = new Set<string>()
  /** For each key with lookups, loads or refreshes under way, the era they began in. */
  readonly #eras = new Map<string, Era>()
  /** Work still running (lookups, loads, writes, refreshes), for {@link SharedCache.idle}. */
  readonly #running = new Set<Promise<void>>()

  /** @internal Use {@link sharedCache}. */
  constructor(options: SharedCacheOptions) {
    checkOptions('sharedCache()', options)
    if (options === undefined) throw new TypeError('sharedCache(): options must be an object, got undefined')
    for (const option of Object.keys(options)) {
      if (!knownOptions.has(option)) {
        throw new TypeError(
          `sharedCache(): unknown option "${option}" (the options are ${[...knownOptions].join(', ')})`,
        )
      }
    }
    const { name = 'cache', store = memoryStore(), ttl, negativeTtl = 0, staleWhileRevalidate = 0 } = options
    const { jitter = 0.1, onError } = options
    checkString('sharedCache()', 'options.name', name)
    checkStore(store)
    checkDuration('sharedCache()', 'options.ttl', ttl)
    checkDuration('sharedCache()', 'options.negativeTtl', negativeTtl)
    checkDuration('sharedCache()', 'options.staleWhileRevalidate', staleWhileRevalidate)
    if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) {
      throw new TypeError(
        `sharedCache(): options.jitter must be a number from 0 to 1, got ${describe(jitter)}`,
      )
    }
    if (onError !== undefined) checkFunction('sharedCache()', 'options.onError', onError)
    this.name = name
    this.#store = store
    this.#ttl = ttl
    this.#negativeTtl = negativeTtl
    this.#staleFor = staleWhileRevalidate
    this.#jitter = jitter
    this.#onError = onError
  }

  /**
   * The value of `key`: from the store when it is there (and fresh, or stale within
   * `staleWhileRevalidate`), else what `fn` loads, which is then stored. Concurrent misses of one
   * key share one call of `fn`. Rejects with `fn`'s error (which is not cached), or with an
   * AbortError when the ambient task is cancelled first. The store is read in the caller's context
   * (its own round trip, cancelled with it); `fn` runs detached, in a scope of its own.
   */
  getOrLoad(
    key: string,
    fn: (context: LoadContext) => V | PromiseLike<V>,
    options?: GetOrLoadOptions,
  ): Promise<V> {
    const where = `${this.name}.getOrLoad()`
    checkKey(where, key)
    checkFunction(where, 'fn', fn)
    let ttl = this.#ttl
    if (options !== undefined) {
      checkOptions(where, options)
      if (options.ttl !== undefined) {
        checkDuration(where, 'options.ttl', options.ttl)
        ttl = options.ttl
      }
    }
    const caller = ambient.getStore()
    if (caller?.aborted) return cancelled(`"${this.name}" lookup of ${describe(key)}`, caller.reason)
    const span = currentSpan()?.child(`${this.name}.get`, 'client').adoptAttributes({ 'cache.key': key })
    const flight = this.#flights.get(key)
    const value =
      flight === undefined ? this.#lookUp(key, fn, ttl, caller, span) : this.#join(flight, caller, span, true)
    if (span !== undefined) {
      value.then(
        () => span.finish('ok'),
        (error: unknown) => span.finish(isAbort(error) ? 'cancelled' : 'error', error),
      )
    }
    return value
  }

  /**
   * Removes `key` from the store. A lookup of it under way still answers its callers, but does not
   * store what it loads: that may predate the change that made the entry wrong.
   */
  delete(key: string): Promise<void> {
    checkKey(`${this.name}.delete()`, key)
    const era = this.#eras.get(key)
    if (era !== undefined) {
      era.deleted = true
      this.#eras.delete(key)
    }
    this.#flights.delete(key) // a lookup from now on must not join a load that may predate the change
    return this.#store.delete(key)
  }

  /** Settles once no load, store write or background refresh of this cache is running. */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running)
  }

  /**
   * Reads the store (in the caller's context: it is the caller's own round trip), and on a miss
   * loads the value as a flight, or joins the flight another caller started meanwhile.
   */
  async #lookUp(
    key: string,
    fn: (context: LoadContext) => V | PromiseLike<V>,
    ttl: number,
    caller: Node | undefined,
    span: Span | undefined,
  ): Promise<V> {
    const era = this.#enter(key)
    try {
      const found = await this.#read(key)
      const now = clock().now()
      if (found !== undefined && now < found.freshUntil + this.#staleFor) {
        const fresh = now < found.freshUntil
        span?.setAttribute('cache.outcome', !fresh ? 'stale' : found.value === undefined ? 'negative' : 'hit')
        if (!fresh) this.#refresh(key, fn, ttl, era)
        return found.value as V
      }
      if (caller?.aborted) throw new AbortError(`"${this.name}" lookup of ${describe(key)}`, caller.reason)
      const flight = this.#flights.get(key)
      return await (flight === undefined
        ? this.#join(this.#load(key, fn, ttl, era), caller, span, false)
        : this.#join(flight, caller, span, true))
    } finally {
      this.#leave(key, era)
    }
  }

  /** The era of `key` a lookup begins in; {@link SharedCache.delete} ends it. */
  #enter(key: string): Era {
    let era = this.#eras.get(key)
    if (era === undefined) {
      era = { deleted: false, users: 0 }
      this.#eras.set(key, era)
    }
    era.users += 1
    return era
  }

  #leave(key: string, era: Era): void {
    era.users -= 1
    if (era.users === 0 && this.#eras.get(key) === era) this.#eras.delete(key)
  }

  /** Waits for a load on behalf of `caller`; `shared`: a load another caller started. */
  #join(flight: Flight<V>, caller: Node | undefined, span: Span | undefined, shared: boolean): Promise<V> {
    span?.setAttribute('cache.outcome', 'miss').setAttribute('cache.shared', shared)
    return flight.join(caller, undefined)
  }

  /** Loads `key` and stores it, as a flight that callers missing meanwhile join. */
  #load(key: string, fn: (context: LoadContext) => V | PromiseLike<V>, ttl: number, era: Era): Flight<V> {
    const flight: Flight<V> = new Flight<V>(`"${this.name}" load of ${describe(key)}`, () => {
      // Nobody waits for it any more: a new lookup must not join it while it is being cancelled.
      if (this.#flights.get(key) === flight) this.#flights.delete(key)
    })
    this.#flights.set(key, flight)
    era.users += 1
    const done = flight.run(`${this.name} ${key}`, async () => {
      const value = await fn({ signal: flight.signal })
      // The callers have their value now; the write goes on as part of this flight, so that a
      // lookup meanwhile joins it (and gets the value) rather than missing and loading again.
      flight.resolve(value)
      await this.#write(key, value, ttl, era)
      return value
    })
    this.#track(
      done.finally(() => {
        if (this.#flights.get(key) === flight) this.#flights.delete(key)
        this.#leave(key, era)
      }),
    )
    return flight
  }

  /** Loads `key` again in the background after a stale value was served, unless that is under way. */
  #refresh(key: string, fn: (context: LoadContext) => V | PromiseLike<V>, ttl: number, era: Era): void {
    if (this.#refreshing.has(key)) return
    this.#refreshing.add(key)
    era.users += 1
    // Nobody waits for a refresh, so nothing cancels it: it runs to the end, whatever happens to the
    // request that found the value stale.
    const done = detached(`${this.name} refresh ${key}`, neverAborted, async ({ signal }) => {
      try {
        await this.#write(key, await fn({ signal }), ttl, era)
      } catch (error) {
        this.#report(error, key)
      }
    })
    this.#track(
      done.finally(() => {
        this.#refreshing.delete(key)
        this.#leave(key, era)
      }),
    )
  }

  async #read(key: string): Promise<Envelope<V> | undefined> {
    let found: unknown
    try {
      found = await this.#store.get(key)
    } catch (error) {
      this.#report(error, key)
      return undefined
    }
    return isEnvelope<V>(found) ? found : undefined
  }

  /** Stores what was loaded, unless its key was deleted since the lookup that loaded it began. */
  async #write(key: string, value: V, ttl: number, era: Era): Promise<void> {
    if (era.deleted) return
    const absent = value === undefined
    const lifetime = this.#jittered(absent ? this.#negativeTtl : ttl)
    if (lifetime <= 0) return
    const freshUntil = clock().now() + lifetime
    const envelope: Envelope<V> = absent ? { freshUntil } : { value, freshUntil }
    try {
      await this.#store.set(key, envelope, lifetime + (absent ? 0 : this.#staleFor))
    } catch (error) {
      this.#report(error, key)
    }
  }

  #jittered(ms: number): number {
    return this.#jitter === 0 ? ms : ms * (1 - this.#jitter * Math.random())
  }

  #report(error: unknown, key: string): void {
    try {
      this.#onError?.(error, key)
    } catch {
      // A failing error handler must not turn a cache problem into a failed request.
    }
  }

  #track(work: Promise<void>): void {
    this.#running.add(work)
    void work.finally(() => this.#running.delete(work))
  }
}

const neverAborted = new AbortController().signal

function checkKey(where: string, key: unknown): asserts key is string {
  checkString(where, 'key', key)
  if (key === '') throw new TypeError(`${where}: key must be a non-empty string, got ""`)
}

function checkStore(store: unknown): asserts store is CacheStore {
  checkMethods('sharedCache()', 'options.store', 'a cache store (get, set, delete)', store, [
    'get',
    'set',
    'delete',
  ])
}

function isEnvelope<V>(found: unknown): found is Envelope<V> {
  return typeof found === 'object' && found !== null && typeof (found as Envelope<V>).freshUntil === 'number'
}
