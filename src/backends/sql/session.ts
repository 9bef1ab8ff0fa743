import type pg from 'pg'
import { cancelUntilSettled } from './cancel.ts'
import type { Deferred, DriverMetrics, SqlConnection, SqlRequest, SqlResponse } from './driver.ts'
import { cancelled, type Endpoint, endsConnection, toSqlError } from './errors.ts'

/** What a {@link PgSession} needs besides its connected node-postgres client. */
export interface SessionOptions {
  readonly endpoint: Endpoint
  readonly metrics: DriverMetrics
  /**
   * Sends one cancel request for this session's server process and resolves once the server
   * acknowledged it. Undefined when the server cannot cancel (an in-process database).
   */
  readonly cancel: (() => Promise<void>) | undefined
  /** False when `statement_timeout` has no effect (PGlite): the session then never sets it. */
  readonly statementTimeouts: boolean
  /** The socket whose byte counters measure each round trip, when there is one. */
  readonly socket: { readonly bytesRead: number; readonly bytesWritten: number } | undefined
}

interface Job {
  readonly request: SqlRequest
  readonly result: PromiseWithResolvers<SqlResponse>
  /** Set once its statements are on the wire. */
  sent: Promise<unknown> | undefined
  /** Set once every reply came back: too late to cancel anything. */
  replied: boolean
  /** Set when its signal aborted after it was sent: resolves once the cancel is acknowledged. */
  cancelling: Promise<void> | undefined
  detach: () => void
}

type PgResult = pg.QueryResult<Record<string, unknown>>

/**
 * A {@link SqlConnection} over a connected node-postgres client (in pipeline mode): over TCP to a
 * real server, or in process to PGlite through its node-postgres adapter. Both therefore share the
 * same parameter serialization, type parsing and error fields.
 *
 * Requests run one at a time. The statements weft adds (a deferred `BEGIN`, a `SET statement_timeout`
 * when the deadline calls for another value than the one in force) are pipelined ahead of the
 * request, so a request is one round trip whatever it carries.
 */
export class PgSession implements SqlConnection {
  readonly #client: pg.Client
  readonly #options: SessionOptions
  readonly #queue: Job[] = []
  #running: Job | undefined
  #deferred: Deferred[] = []
  #broken = false
  #quiet: PromiseWithResolvers<void> | undefined
  /** The session's `statement_timeout` in ms (0: none), or undefined when it is not known for sure. */
  #timeout: number | undefined = 0
  /** A SET ran inside a transaction, which a rollback would undo: forget the value when it ends. */
  #timeoutInTransaction = false

  constructor(client: pg.Client, options: SessionOptions) {
    this.#client = client
    this.#options = options
    // An idle client reports a lost connection through 'error': without a listener it would crash
    // the process. The request in flight, if any, fails on its own.
    client.on('error', () => {
      this.#broken = true
    })
    client.on('end', () => {
      this.#broken = true
    })
  }

  get broken(): boolean {
    return this.#broken
  }

  get busy(): boolean {
    return this.#running !== undefined || this.#queue.length > 0
  }

  run(request: SqlRequest): Promise<SqlResponse> {
    const { signal } = request
    if (signal.aborted) return Promise.reject(cancelled(this.#options.endpoint, signal.reason))
    if (this.#broken) {
      return Promise.reject(toSqlError(new Error('Connection ended'), this.#options.endpoint, 'query'))
    }
    const onAbort = (): void => this.#abort(job)
    const job: Job = {
      request,
      result: Promise.withResolvers<SqlResponse>(),
      sent: undefined,
      replied: false,
      cancelling: undefined,
      detach: () => signal.removeEventListener('abort', onAbort),
    }
    signal.addEventListener('abort', onAbort, { once: true })
    this.#queue.push(job)
    this.#next()
    return job.result.promise
  }

  defer(text: string): Deferred {
    const deferred = { text }
    this.#deferred.push(deferred)
    return deferred
  }

  undefer(deferred: Deferred): boolean {
    const index = this.#deferred.indexOf(deferred)
    if (index === -1) return false
    this.#deferred.splice(index, 1)
    return true
  }

  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve()
    this.#quiet ??= Promise.withResolvers<void>()
    return this.#quiet.promise
  }

  async close(): Promise<void> {
    this.#broken = true
    try {
      await this.#client.end()
    } catch {
      // Closing a connection that already failed: nothing left to release.
    }
  }

  #abort(job: Job): void {
    job.result.reject(cancelled(this.#options.endpoint, job.request.signal.reason))
    if (job.sent === undefined) {
      const index = this.#queue.indexOf(job)
      if (index !== -1) this.#queue.splice(index, 1)
      this.#settleIfQuiet()
      return
    }
    const { cancel } = this.#options
    // In process there is nothing to cancel: the result is dropped when it comes. After the replies,
    // a cancel request could only hit the next statement.
    if (cancel === undefined || job.replied) return
    const sent = job.sent
    job.cancelling = cancelUntilSettled(sent, () => {
      this.#options.metrics.cancelRequest()
      return cancel()
    }).then((acknowledged) => {
      if (acknowledged) return
      // A cancel request may still be on its way, or the statement ignores them: the connection can
      // never be trusted with another statement.
      this.#broken = true
      this.#destroy()
    })
  }

  #next(): void {
    if (this.#running !== undefined) return
    const job = this.#queue.shift()
    if (job === undefined) {
      this.#settleIfQuiet()
      return
    }
    this.#running = job
    void this.#execute(job).then((deliver) => {
      job.detach()
      // Idle before the caller hears back, so that it can hand the connection on at once.
      this.#running = undefined
      deliver()
      this.#next()
    })
  }

  /** Sends the job's statements and waits for every reply; returns how to settle the job's promise. */
  async #execute(job: Job): Promise<() => void> {
    const { request, result } = job
    try {
      const prelude = this.#prelude(request)
      const socket = this.#options.socket
      const readBefore = socket?.bytesRead ?? 0
      const writtenBefore = socket?.bytesWritten ?? 0
      // Pipeline mode: every statement goes on the wire now, the replies come back in order.
      const replies = prelude.map((statement) => this.#client.query(statement.text))
      const main: Promise<PgResult | PgResult[]> =
        request.params.length === 0
          ? this.#client.query(request.text)
          : this.#client.query({ text: request.text, values: request.params as unknown[] })
      const all = Promise.allSettled([...replies, main])
      job.sent = all
      const outcomes = await all
      job.replied = true
      this.#options.metrics.roundTrip(outcomes.length)
      prelude.forEach((statement, index) => {
        statement.settled(outcomes[index]?.status === 'fulfilled')
      })
      this.#afterRoundTrip()
      await job.cancelling
      const failure = outcomes.find((outcome) => outcome.status === 'rejected')
      if (failure !== undefined) {
        // The driver's own events may come later: mark it now, before the caller hands it back.
        if (endsConnection(failure.reason)) this.#broken = true
        return () => result.reject(failure.reason)
      }
      const settled = outcomes.at(-1) as PromiseFulfilledResult<PgResult | PgResult[]>
      const last = Array.isArray(settled.value) ? settled.value.at(-1) : settled.value
      const response: SqlResponse = {
        rows: last?.rows ?? [],
        rowCount: last?.rowCount ?? last?.rows.length ?? 0,
        command: last?.command ?? '',
        bytesReceived: socket === undefined ? undefined : socket.bytesRead - readBefore,
        bytesSent: socket === undefined ? undefined : socket.bytesWritten - writtenBefore,
      }
      return () => result.resolve(response)
    } catch (error) {
      return () => result.reject(error)
    }
  }

  /** The statements to pipeline ahead of `request`: deferred ones, then a SET if the timeout must change. */
  #prelude(request: SqlRequest): { text: string; settled: (ok: boolean) => void }[] {
    const statements = this.#deferred.map((deferred) => ({
      text: deferred.text,
      settled: (_ok: boolean) => {},
    }))
    this.#deferred = []
    const wanted = request.statementTimeout
    const status = this.#client.getTransactionStatus()
    // In a failed transaction ('E') a SET would fail too; the request will fail anyway.
    if (
      !this.#options.statementTimeouts ||
      wanted === undefined ||
      wanted === this.#timeout ||
      status === 'E'
    ) {
      return statements
    }
    const inTransaction = statements.length > 0 || status === 'T'
    statements.push({
      text: `SET statement_timeout = ${wanted}`,
      settled: (ok) => {
        this.#timeout = ok ? wanted : undefined
        if (inTransaction) this.#timeoutInTransaction = true
      },
    })
    return statements
  }

  #afterRoundTrip(): void {
    if (this.#timeoutInTransaction && this.#client.getTransactionStatus() === 'I') {
      this.#timeoutInTransaction = false
      this.#timeout = undefined
    }
  }

  #settleIfQuiet(): void {
    if (this.busy || this.#quiet === undefined) return
    const quiet = this.#quiet
    this.#quiet = undefined
    quiet.resolve()
  }

  #destroy(): void {
    const stream = (this.#client as unknown as { connection: { stream: { destroy(): void } } }).connection
      .stream
    stream.destroy()
  }
}
