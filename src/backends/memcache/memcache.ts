import type { MemcacheItem } from './commands.ts'
import type { KeyEncoding } from './keys.ts'

export type { MemcacheItem } from './commands.ts'
export type { KeyEncoding } from './keys.ts'

/** A value to store: bytes as they are, or a string stored as UTF-8. */
export type MemcacheValue = string | Uint8Array

/** Options every call takes. */
export interface CallOptions {
  /** Cancels the call. Default: the ambient task or scope (the call is cancelled with it). */
  signal?: AbortSignal
  /**
   * The longest wait for the reply, in ms. Default: the client's `timeout`. The ambient deadline
   * wins when it is sooner.
   */
  timeout?: number
}

/** Options of the calls that store a value. */
export interface StoreOptions extends CallOptions {
  /**
   * Seconds until the item expires (memcached counts whole seconds); 0, the default, keeps it until
   * evicted. TTLs over 30 days work too (they are sent as a Unix time, as memcached requires).
   */
  ttl?: number
  /** A 32-bit number stored with the value, read back by `gets`. Default 0. */
  flags?: number
}

/** Options of `incr` and `decr`. */
export interface CounterOptions extends CallOptions {
  /**
   * Create the counter with this value when it does not exist (the delta is then not applied), in one
   * round trip. Without it, a missing counter stays missing and the call returns undefined.
   */
  initial?: number | bigint
  /** Seconds until a counter created by this call expires (with `initial`). Default 0: never. */
  ttl?: number
}

/** Options shared by both clients. */
export interface MemcacheOptions {
  /** A call's default time budget in ms (the ambient deadline wins when sooner). Default 1000. */
  timeout?: number
  /**
   * `'text'` (default): keys are sent as they are, so they must be 1 to 250 bytes without spaces or
   * control characters. `'base64'`: any string up to 187 bytes, sent base64-encoded (meta `b` flag).
   * Every client sharing a cluster must use the same encoding.
   */
  keyEncoding?: KeyEncoding
}

/** Where a shard's connection is. Embedded shards are always `'up'` until closed. */
export type ShardState = 'idle' | 'connecting' | 'up' | 'down' | 'closed'

/** Client-side counters of one shard, since the client was created. */
export interface MemcacheShardStats {
  /** The server's `host:port`, or `embedded:<n>` for an in-process shard. */
  readonly address: string
  readonly state: ShardState
  /** Batches sent: each is one write, ended by `mn`, answered by one read of replies. */
  readonly roundTrips: number
  /** Commands sent (a batch holds one or more). */
  readonly requests: number
  /** Calls made (more than `requests` when identical reads in one turn shared a request). */
  readonly calls: number
  /** Reads that found the item. */
  readonly hits: number
  /** Reads that did not. */
  readonly misses: number
  /** Bytes written (for an embedded shard: bytes of the values stored). */
  readonly bytesOut: number
  /** Bytes read (for an embedded shard: bytes of the values returned). */
  readonly bytesIn: number
  /** Calls that ran out of time. */
  readonly timeouts: number
  /** Calls cancelled by their signal. */
  readonly cancelled: number
  /** Calls that failed with a backend error (refused, unavailable, protocol error). */
  readonly failures: number
  /** Replies read and dropped because their callers had gone (cancelled or timed out). */
  readonly discarded: number
}

/**
 * The memcache contract: what `memcacheClient` (memcached servers) and `embeddedMemcache`
 * (in-process shards) both implement, with the same behaviour, checked by one test suite run
 * against each.
 *
 * Keys are spread over the shards by consistent hashing (ketama). Calls made in the same turn of the
 * event loop go to each shard as one batch: one write and one round trip however many calls, so a
 * hundred independent `get`s to three shards cost three round trips (this is the loader of this
 * backend: no batching code is needed on top); identical reads in a batch share one request (and
 * its result: the same Buffer, so copy one before changing it). Every call is cancelled with the
 * ambient task or scope (a leaf of its cancellation tree, with no AbortSignal listener of its own) and
 * bounded by the ambient deadline, or by an explicit signal and timeout: a call cancelled before its
 * batch is sent is never sent; one cancelled or timed out after is answered at once, and its reply is
 * read and dropped when it comes, leaving the connection in step. Errors name the backend and the shard:
 * `BackendRefused`, `BackendTimeout`, `ProtocolError`, `BackendUnavailable` (shard marked down: fails
 * fast), `AbortError`, `DeadlineExceeded`. Traced requests get a span per call (`memcache.<op>`: shard,
 * hit, size of its batch) and, for a batch that carries two or more of their calls, one for the batch
 * (`memcache.batch`: shard, size, calls, bytes, hits and misses).
 */
export interface Memcache {
  /** The shards' addresses, in ring order of listing. */
  readonly servers: readonly string[]
  /** The address of the shard `key` belongs to. */
  serverFor(key: string): string
  /** The value stored under `key`, or undefined on a miss. */
  get(key: string, options?: CallOptions): Promise<Buffer | undefined>
  /**
   * The values of the keys found (missing keys are absent from the map), in one batch per shard.
   * Rejects with the first error if a shard fails (call `get` per key for errors per key: the gets
   * of one turn are batched just the same).
   */
  getMulti(keys: Iterable<string>, options?: CallOptions): Promise<Map<string, Buffer>>
  /** The value with its flags and CAS token (for `cas`), or undefined on a miss. */
  gets(key: string, options?: CallOptions): Promise<MemcacheItem | undefined>
  /** The value parsed as JSON, or undefined on a miss. */
  getJson<T = unknown>(key: string, options?: CallOptions): Promise<T | undefined>
  /** Stores `value` under `key`, replacing any value. */
  set(key: string, value: MemcacheValue, options?: StoreOptions): Promise<void>
  /** Stores `JSON.stringify(value)`. */
  setJson(key: string, value: unknown, options?: StoreOptions): Promise<void>
  /** Stores `value` only if `key` holds nothing; true when stored. */
  add(key: string, value: MemcacheValue, options?: StoreOptions): Promise<boolean>
  /** Stores `value` only if `key` already holds a value; true when stored. */
  replace(key: string, value: MemcacheValue, options?: StoreOptions): Promise<boolean>
  /** Stores `value` only if the item is unchanged since `gets` returned `cas`; true when stored. */
  cas(key: string, value: MemcacheValue, cas: bigint, options?: StoreOptions): Promise<boolean>
  /**
   * Adds `delta` (default 1) to the unsigned 64-bit counter under `key`, wrapping at 2^64, and returns
   * its new value; undefined when there is no counter (unless `initial` creates it).
   */
  incr(key: string, delta?: number | bigint, options?: CounterOptions): Promise<bigint | undefined>
  /** Subtracts `delta` (default 1), stopping at 0. Otherwise like `incr`. */
  decr(key: string, delta?: number | bigint, options?: CounterOptions): Promise<bigint | undefined>
  /** Removes the item; true when there was one. */
  delete(key: string, options?: CallOptions): Promise<boolean>
  /** Gives the item a new TTL in seconds; true when there was an item. */
  touch(key: string, ttl: number, options?: CallOptions): Promise<boolean>
  /** Client-side counters per shard (round trips, hits, bytes, ...): a snapshot. */
  stats(): MemcacheShardStats[]
  /**
   * Refuses new calls, waits for those under way, then closes the connections and stops reconnecting.
   * Idempotent.
   */
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}
