import { ambient, Cancellable, type Node } from '../core/node.ts'
import type { Scope } from '../core/scope.ts'
import { Batch, type LoaderConfig } from './batch.ts'
import { cache, type Settled, unwrap } from './settled.ts'
import type { Counters } from './stats.ts'
import { cancelled, Shared, Waiter } from './waiter.ts'

/** One key of a request cache: the value being fetched, or fetched already. */
export class Entry<K, V> extends Shared<V> {
  // Declared for the type checker and assigned in the constructor, as Shared's are: V8 runs each
  // class's field declarations as an initializer of its own (about 10 ns per key).
  declare readonly key: K
  /** The batch fetching it (then the last one that did, until its value is in). */
  declare batch: Batch<K, V> | undefined
  /** Loads that asked for it while it was being fetched (for the batch's span). */
  declare loads: number

  constructor(key: K) {
    super()
    this.key = key
    this.batch = undefined
    this.loads = 0
  }

  /** A settled entry's outcome, in the form the cache keeps primed values. */
  settled(): Settled<V> {
    return this.fulfilled ? cache(this.result as V) : (this.result as Error)
  }

  // Only a pending entry has callers to cancel, and a pending entry has its batch.
  describe(): string {
    return this.batch?.what ?? 'load'
  }

  protected onWanted(): void {
    this.batch?.entryWanted()
  }

  protected onAbandoned(reason: unknown): void {
    this.batch?.entryAbandoned(this, reason)
  }
}

/**
 * What one loader holds for one request: the cache of its keys, the batch collecting this turn's
 * loads, the batches due to be sent and those in flight. Outside any scope there is a single one,
 * which forgets each key once its batch has answered.
 *
 * It is a leaf of the cancellation tree, adopted by the request's root, so that the request's
 * cancellation reaches the batches in flight, with one leaf per loader and request rather than one
 * per batch.
 */
export class RequestCache<K, V> extends Cancellable {
  readonly config: LoaderConfig<K, V>
  /** The request's outermost scope; undefined outside any scope. */
  readonly request: Scope | undefined
  readonly counters: Counters
  /** What the AbortError of a cancelled load says was cancelled. */
  readonly what: string
  /**
   * Each key's Entry, fetched or being fetched, or a primed value. A settled Entry stays: replacing
   * it with its value cost a second hash insert per key, more than keeping the entry saves.
   */
  readonly #entries = new Map<unknown, Entry<K, V> | Settled<V>>()
  /** Set when the request is cancelled: every batch of it is, in flight or to be sent. */
  #aborted = false
  #reason: unknown
  /** The batch new keys go to. */
  #open: Batch<K, V> | undefined
  /** Batches to send at the end of this turn, oldest first (linked through `nextDue`). */
  #firstDue: Batch<K, V> | undefined
  #lastDue: Batch<K, V> | undefined
  /** Batches in flight, newest first. */
  #flying: Batch<K, V> | undefined
  /** Whether the end of this turn's flush was scheduled from the request's own scope (see `#flush`). */
  #flushFromRequest = false

  constructor(config: LoaderConfig<K, V>, root: Scope | undefined, counters: Counters) {
    super()
    this.config = config
    this.request = root
    this.counters = counters
    this.what = `load of "${config.name}"`
    if (root !== undefined) {
      root.adopt(this)
      if (root.aborted) this.abort(root.reason)
    }
  }

  get aborted(): boolean {
    return this.#aborted
  }

  /** Why the request was cancelled; undefined while it is not. */
  get reason(): unknown {
    return this.#reason
  }

  /**
   * Loads `key` for a caller cancelled with `owner` (the ambient node) or with `signal` (an explicit
   * one), or for a caller that cannot be cancelled (neither).
   */
  load(key: K, owner: Node | undefined, signal: AbortSignal | undefined): Promise<V> {
    if (owner === undefined ? signal?.aborted : owner.aborted) {
      return cancelled(this.what, owner === undefined ? signal?.reason : owner.reason)
    }
    // The request's cancellation reaches its batches directly: a load made in the request's own
    // scope (rather than in a task or a nested scope) needs no waiter of its own.
    const caller = owner === this.request ? undefined : owner
    const fromRequest = caller === undefined && signal === undefined
    this.counters.load()
    const cacheKey = this.cacheKeyOf(key)
    const cached = this.#entries.get(cacheKey)
    if (cached === undefined) {
      const entry = new Entry<K, V>(key)
      this.#entries.set(cacheKey, entry)
      const batch = this.#batch(fromRequest)
      batch.add(entry)
      entry.loads = 1
      const promise = entry.join(caller, signal)
      if (this.config.waitMs > 0 && batch.full) batch.endWindow()
      return promise
    }
    if (cached instanceof Entry && cached.pending) {
      cached.loads += 1
      return cached.join(caller, signal)
    }
    // A hit settles together with this turn's batch, so that loads depending on it issue theirs in
    // lock-step with the other loads of the turn (DataLoader's documented behaviour).
    const settled = cached instanceof Entry ? cached.settled() : cached
    const batch = this.#batch(fromRequest)
    if (fromRequest) return batch.done().then(() => unwrap(settled))
    const waiter = new Waiter<V>(this.what, caller, signal)
    waiter.listen(caller, signal)
    batch.hit(waiter, settled)
    return waiter.promise
  }

  /**
   * What the cache and the batch compare `key` by: the loader's `cacheKey` of it, or the key itself.
   * Worked out again when needed (a key failed, cancelled or cleared; a batch answered with a Map)
   * rather than kept in the entry every new key makes: a field less there made such loads 1-2%
   * cheaper.
   */
  cacheKeyOf(key: K): unknown {
    const { cacheKey } = this.config
    return cacheKey === undefined ? key : cacheKey(key)
  }

  /** Caches `value` (an Error caches a failure) for `key`, unless the key is cached already. */
  prime(key: K, value: V | Error): void {
    if (this.request === undefined) return // nothing is cached outside a request
    const cacheKey = this.cacheKeyOf(key)
    if (!this.#entries.has(cacheKey)) this.#entries.set(cacheKey, cache(value))
  }

  /** Forgets `key`: the next load fetches it again. A fetch under way still answers its waiters. */
  clear(key: K): void {
    this.#entries.delete(this.cacheKeyOf(key))
  }

  clearAll(): void {
    this.#entries.clear()
  }

  /**
   * Drops `entry` if it is still the cached one for its key (not cleared, nor replaced since): a
   * lookup on a path most keys never take (outside a request, failed, cancelled), rather than a
   * flag in every entry.
   */
  forget(entry: Entry<K, V>): void {
    const cacheKey = this.cacheKeyOf(entry.key)
    if (this.#entries.get(cacheKey) === entry) this.#entries.delete(cacheKey)
  }

  /**
   * `batch` is to be sent at the end of this turn. `fromRequest`: this runs in the request's own
   * scope (not in a task, nor a timer's callback), which the flush then need not check.
   */
  due(batch: Batch<K, V>, fromRequest = false): void {
    if (this.#lastDue === undefined) {
      this.#firstDue = batch
      this.#flushFromRequest = fromRequest
      resolved.then(this.#tick)
    } else {
      this.#lastDue.nextDue = batch
    }
    this.#lastDue = batch
  }

  /** `batch` was sent: later loads go to a new one. */
  sent(batch: Batch<K, V>): void {
    if (this.#open === batch) this.#open = undefined
  }

  /** `batch` called its batch function: the request's cancellation must reach it until it lands. */
  flying(batch: Batch<K, V>): void {
    batch.nextSent = this.#flying
    if (this.#flying !== undefined) this.#flying.previousSent = batch
    this.#flying = batch
  }

  /** `batch` has its answer (or was cancelled). */
  landed(batch: Batch<K, V>): void {
    const { previousSent: previous, nextSent: next } = batch
    if (previous === undefined) {
      if (this.#flying === batch) this.#flying = next
    } else previous.nextSent = next
    if (next !== undefined) next.previousSent = previous
    batch.previousSent = batch.nextSent = undefined
  }

  /** The request was cancelled: so is every batch in flight (those not yet sent are, when sent). */
  abort(reason: unknown): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#reason = reason
    for (let batch = this.#flying; batch !== undefined; ) {
      const next = batch.nextSent
      batch.cancel(reason)
      batch = next
    }
  }

  /** The batch new keys go to; `fromRequest` as for {@link due}. */
  #batch(fromRequest: boolean): Batch<K, V> {
    let batch = this.#open
    if (batch === undefined) {
      batch = new Batch(this)
      this.#open = batch
      const { waitMs } = this.config
      if (waitMs > 0) batch.window(waitMs)
      else this.due(batch, fromRequest)
    }
    return batch
  }

  /** Runs in a promise job, and queues the flush after every promise job of the turn (as DataLoader does). */
  readonly #tick = (): void => {
    process.nextTick(this.#flush)
  }

  /**
   * Sends the batches due. They run in their request's context, not in that of whichever load came
   * first (whose cancellation must not reach the others): entering it is needed only when the first
   * load of the turn was made elsewhere than in the request's own scope. The flush runs in the
   * context that scheduled it: when that is known to be the request's, looking the ambient node up
   * again (two hash lookups) is saved, once a batch.
   */
  readonly #flush = (): void => {
    if (this.#flushFromRequest || ambient.getStore() === this.request) this.#sendDue()
    else if (this.request === undefined) ambient.exit(this.#sendDue)
    else ambient.run(this.request, this.#sendDue)
  }

  readonly #sendDue = (): void => {
    // The list is taken whole: batches made due while these are sent (by a batch function that
    // loads) start a new one, sent at the end of the next turn.
    let batch = this.#firstDue
    this.#firstDue = this.#lastDue = undefined
    while (batch !== undefined) {
      const next = batch.nextDue
      batch.nextDue = undefined
      batch.send()
      batch = next
    }
  }
}

const resolved = Promise.resolve()
