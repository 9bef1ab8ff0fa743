import pg from 'pg'
import { BackendTimeout } from '../../core/errors.ts'
import { sendCancelRequest } from './cancel.ts'
import type { DriverMetrics, SqlConnection, SqlDriver } from './driver.ts'
import { cancelled, toSqlError } from './errors.ts'
import { PgSession } from './session.ts'
import { startTimer } from './timer.ts'

/** Options of {@link postgresDriver}. */
export interface PostgresDriverOptions {
  /** A `postgres://user:password@host:port/database` URL; libpq's environment variables fill the gaps. */
  url: string
  /** How long opening a connection may take, in ms. Default 10 000. */
  connectTimeout?: number
  /** Shown in `pg_stat_activity.application_name`. Default `'weft'`. */
  applicationName?: string
}

/** The fields of a connected node-postgres client that its type declarations leave out. */
interface ConnectedClient {
  processID: number
  secretKey: number
  connection: { stream: { bytesRead: number; bytesWritten: number; destroy(): void } }
}

/**
 * The driver for a PostgreSQL server, on node-postgres (`pg`): connections in pipeline mode, cancel
 * requests on abort, wire bytes counted per round trip.
 */
export function postgresDriver(options: PostgresDriverOptions): SqlDriver {
  return new PostgresDriver(options)
}

class PostgresDriver implements SqlDriver {
  readonly backend = 'postgres'
  readonly address: string
  readonly maxConnections = Number.POSITIVE_INFINITY
  readonly #config: pg.ClientConfig
  readonly #connectTimeout: number

  constructor(options: PostgresDriverOptions) {
    this.#config = {
      connectionString: options.url,
      application_name: options.applicationName ?? 'weft',
      keepAlive: true,
      pipeline: true,
    }
    this.#connectTimeout = options.connectTimeout ?? 10_000
    // node-postgres resolves the URL, environment and defaults when a client is made: ask one, so
    // errors name the address it will really connect to.
    const { host, port } = new pg.Client(this.#config)
    this.address = host.startsWith('/') ? `${host}/.s.PGSQL.${port}` : `${host}:${port}`
  }

  async connect(signal: AbortSignal, metrics: DriverMetrics): Promise<SqlConnection> {
    const endpoint = { backend: this.backend, address: this.address }
    if (signal.aborted) throw cancelled(endpoint, signal.reason)
    const client = new pg.Client(this.#config)
    // Until the session takes over, a failure is reported by connect() itself.
    client.on('error', () => {})
    const { promise: stopped, reject: stop } = Promise.withResolvers<never>()
    const onAbort = (): void => stop(cancelled(endpoint, signal.reason))
    signal.addEventListener('abort', onAbort, { once: true })
    const stopTimer = startTimer(
      () => stop(new BackendTimeout(`connect: no connection within ${this.#connectTimeout} ms`, endpoint)),
      this.#connectTimeout,
    )
    try {
      await Promise.race([client.connect(), stopped])
    } catch (error) {
      ;(client as unknown as ConnectedClient).connection.stream.destroy()
      void client.end().catch(() => {})
      throw toSqlError(error, endpoint, 'connect')
    } finally {
      stopTimer()
      signal.removeEventListener('abort', onAbort)
    }
    metrics.connectionOpened()
    const { processID, secretKey, connection } = client as unknown as ConnectedClient
    const target = { host: client.host, port: client.port, processId: processID, secretKey }
    return new PgSession(client, {
      endpoint,
      metrics,
      cancel: () => sendCancelRequest(target),
      statementTimeouts: true,
      socket: connection.stream,
    })
  }

  async close(): Promise<void> {}
}
