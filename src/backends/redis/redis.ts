/** Options of {@link Redis.set}. */
export interface SetOptions {
  /** Expire the key this many milliseconds from now (`PX`). Without it, `set` removes any expiry the key had. */
  px?: number
  /** Write only if the key does not exist (`NX`); `set` then resolves false when it did. */
  nx?: boolean
  /** Write only if the key already exists (`XX`); `set` then resolves false when it did not. */
  xx?: boolean
}

/** Options of {@link Redis.incr}. */
export interface IncrOptions {
  /** The increment, a whole number (negative decrements). Default 1. */
  by?: number
  /**
   * When the key has no expiry after the increment (it was just created), expire it this many
   * milliseconds from now. An expiry the key already has is kept: this is a fixed-window counter, whose
   * window starts at its first hit, which is what rate limits need.
   */
  px?: number
}

/**
 * The Redis commands weft offers, with the same behaviour over a real server ({@link redisClient}) and
 * in-process ({@link embeddedRedis}); the contract tests hold both to it.
 *
 * Every call honours the ambient cancellation signal and deadline (see `weft`'s `scope`): a call
 * cancelled before its command was written to the socket is never sent; one cancelled after has its
 * promise rejected at once with an `AbortError` and its reply discarded when it arrives, the connection
 * staying in step. Calls made in the same turn of the event loop go out in one write (auto-pipelining).
 * Failures are `BackendError`s naming the backend and the address: `BackendRefused` (cannot connect,
 * connection lost before the reply), `BackendTimeout` (the client's own `timeout`), `BackendUnavailable`
 * (closed, or reconnecting after a failed attempt: fails fast), `ProtocolError` (the server answered
 * with an error, such as `WRONGTYPE`).
 *
 * Each call is traced (when its request is) as a `client` span `redis.<method>` with `db.system`,
 * `server.address`, `server.port`, `db.operation.name`, `db.operation.batch.size` (the commands in the
 * write it went out in), `db.bytes_sent` and `db.bytes_received` (the bytes of the strings, protocol
 * framing not counted, for a call that was sent; worked out only when the span's attributes are
 * read) and, for reads, `db.hits` and `db.misses`.
 *
 * Keys and values are strings (UTF-8). Every key is prefixed with the client's `keyPrefix`.
 */
export interface Redis {
  /** Where the commands go: `host:port`, or `embedded`. Errors and spans name it. */
  readonly address: string
  /** The string stored at `key`, or undefined when there is none (`GET`). */
  get(key: string): Promise<string | undefined>
  /** The strings stored at `keys`, in order, undefined where there is none (`MGET`). */
  mget(keys: readonly string[]): Promise<(string | undefined)[]>
  /** Stores `value` at `key` (`SET`); resolves false when `nx` or `xx` prevented the write. */
  set(key: string, value: string, options?: SetOptions): Promise<boolean>
  /** Deletes the keys; resolves with how many existed (`DEL`). */
  del(...keys: string[]): Promise<number>
  /**
   * Adds `by` (default 1) to the integer at `key`, a missing key counting as 0, and resolves with the
   * new value (`INCRBY`; with `px`, one atomic script that also sets the expiry of a new key).
   */
  incr(key: string, options?: IncrOptions): Promise<number>
  /** Expires `key` in `ms` milliseconds (0 deletes it); resolves false when there is no such key (`PEXPIRE`). */
  pexpire(key: string, ms: number): Promise<boolean>
  /**
   * Milliseconds before `key` expires (`PTTL`): `Infinity` when it never does, undefined when there is
   * no such key.
   */
  pttl(key: string): Promise<number | undefined>
  /** The value of `field` in the hash at `key`, or undefined (`HGET`). */
  hget(key: string, field: string): Promise<string | undefined>
  /** Sets fields of the hash at `key`; resolves with how many were new (`HSET`). */
  hset(key: string, fields: Readonly<Record<string, string>>): Promise<number>
  /** Every field of the hash at `key`; `{}` when there is none (`HGETALL`). */
  hgetall(key: string): Promise<Record<string, string>>
  /** Deletes fields of the hash at `key` (the key goes with its last field); resolves with how many existed (`HDEL`). */
  hdel(key: string, ...fields: string[]): Promise<number>
  /** Resolves once the server answered (`PING`): a health check. */
  ping(): Promise<void>
  /**
   * Sends what was already called, waits for its replies, then closes the connection. Later calls fail
   * with `BackendUnavailable`. Closing twice is harmless.
   */
  close(): Promise<void>
  /** {@link Redis.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>
}
