/**
 * The thin driver interface every SQL backend implements: a way to open connections, and
 * connections that run one request at a time. Everything above it (pool, deadlines, transactions,
 * spans, errors, loaders) is shared, so the real server and the embedded one behave alike.
 */

/** One statement to run, with what the connection needs to run it safely. */
export interface SqlRequest {
  /** The SQL text. Without parameters it may hold several statements; the result is the last one's. */
  readonly text: string
  /** Values of `$1`, `$2`, ... */
  readonly params: readonly unknown[]
  /** Aborting it cancels the statement on the server, or drops its result where that is impossible. */
  readonly signal: AbortSignal
  /**
   * The server-side statement timeout this statement must run under, in ms (0: none), or undefined
   * when any will do (COMMIT, ROLLBACK).
   */
  readonly statementTimeout: number | undefined
}

/** What a statement returned. */
export interface SqlResponse {
  readonly rows: Record<string, unknown>[]
  /** Rows returned, or rows affected by INSERT, UPDATE, DELETE. */
  readonly rowCount: number
  /** The command tag's verb: `SELECT`, `INSERT`, `COMMIT`, `ROLLBACK`, ... */
  readonly command: string
  /** Bytes received from the server for this round trip, where the transport can count them. */
  readonly bytesReceived: number | undefined
  /** Bytes sent to the server for this round trip, where the transport can count them. */
  readonly bytesSent: number | undefined
}

/** A statement sent ahead of the next request, in the same round trip (see {@link SqlConnection.defer}). */
export interface Deferred {
  readonly text: string
}

/**
 * One session with the server. Requests run one at a time, in the order `run` was called.
 *
 * A request whose signal aborts rejects at once with an `AbortError`; the connection cancels the
 * statement on the server if it can, and stays busy until it knows that statement (and its cancel
 * request) are done, so that a late cancel can never hit the next request. {@link idle} tells when.
 */
export interface SqlConnection {
  run(request: SqlRequest): Promise<SqlResponse>
  /**
   * Queues a statement without parameters (`BEGIN`, `SAVEPOINT s1`) to be sent with the next request
   * that runs, in the same round trip, so opening a transaction costs no round trip of its own.
   */
  defer(text: string): Deferred
  /** Takes back a deferred statement; true when it had not been sent yet (and now never will be). */
  undefer(deferred: Deferred): boolean
  /** True once the connection cannot be used again: closed, failed, or a cancel went unacknowledged. */
  readonly broken: boolean
  /** True while a request is in flight or queued, or a cancel request is pending. */
  readonly busy: boolean
  /** Settles once no request is in flight or queued and no cancel request is pending. */
  idle(): Promise<void>
  /** Closes the session; requests still in flight fail. */
  close(): Promise<void>
}

/** Receives what drivers do on the wire, for `Database.stats()` and benchmarks. */
export interface DriverMetrics {
  /** A round trip carrying `statements` statements was completed (or abandoned). */
  roundTrip(statements: number): void
  /** A cancel request was sent to the server. */
  cancelRequest(): void
  /** A new connection was opened. */
  connectionOpened(): void
}

/** Opens connections to one database server. */
export interface SqlDriver {
  /** The kind of server, as errors name it: `'postgres'`, `'pglite'`. */
  readonly backend: string
  /** Where it is: `host:port`, a socket path, or the embedded database's data directory. */
  readonly address: string
  /** How many connections it can serve at once (1 for an in-process database). */
  readonly maxConnections: number
  /**
   * Opens a connection. `signal` aborts the attempt (the pool aborts it when it is closed); fails with
   * `BackendRefused` or `BackendTimeout` naming the backend and address.
   */
  connect(signal: AbortSignal, metrics: DriverMetrics): Promise<SqlConnection>
  /** Releases what the driver holds (an embedded database closes); connections are closed first. */
  close(): Promise<void>
}
