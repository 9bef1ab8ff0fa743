import { clock, type TimerHandle } from '../../core/clock.ts'
import { type BackendError, BackendUnavailable } from '../../core/errors.ts'
import type { Address } from './address.ts'
import { type Backoff, backoffDelay } from './backoff.ts'
import { Connection, ping } from './connection.ts'
import type { ShardState } from './memcache.ts'
import type { Batch, Transport } from './shard.ts'

/**
 * A memcached server as a shard's transport: one pipelined connection, opened on first use and
 * reopened after an idle close, and the server's up/down state.
 *
 * When the server cannot be reached (refused, reset with requests in flight, unresponsive), it is
 * marked down: calls to it fail at once with `BackendUnavailable` instead of each waiting out a
 * timeout, and a reconnection is attempted in the background after an exponential backoff (on weft's
 * clock). An attempt succeeds when the server answers an `mn`, not merely when it accepts the
 * connection: a server that accepts and then stays silent would otherwise be put back in use at
 * every attempt, costing its callers a full timeout each time.
 */
export class ServerTransport implements Transport {
  readonly address: string
  readonly #target: Address
  readonly #timeout: number
  readonly #backoff: Backoff
  #connection: Connection | undefined
  #state: ShardState = 'idle'
  /** Why the server is down, and when the next attempt is due. */
  #down: { error: BackendError; retryAt: number } | undefined
  #attempts = 0
  #retry: TimerHandle | undefined
  #closed = false

  constructor(target: Address, timeout: number, backoff: Backoff) {
    this.#target = target
    this.address = target.text
    this.#timeout = timeout
    this.#backoff = backoff
  }

  get state(): ShardState {
    return this.#state
  }

  unavailable(): BackendError | undefined {
    const details = { backend: 'memcache', address: this.address }
    if (this.#closed) return new BackendUnavailable('the client is closed', details)
    const down = this.#down
    if (down === undefined) return undefined
    const wait = Math.ceil(down.retryAt - clock().now())
    const next = wait > 0 ? `next reconnection attempt in ${wait} ms` : 'reconnecting'
    return new BackendUnavailable(`server marked down (${down.error.message}); ${next}`, {
      ...details,
      cause: down.error,
    })
  }

  send(batch: Batch): void {
    if (this.#connection === undefined) {
      this.#state = 'connecting'
      this.#connection = this.#open(false)
    }
    this.#connection.send(batch)
  }

  async close(): Promise<void> {
    this.#closed = true
    if (this.#retry !== undefined) clock().clearTimeout(this.#retry)
    this.#retry = undefined
    const connection = this.#connection
    this.#connection = undefined
    this.#state = 'closed'
    await connection?.end()
  }

  /** Opens a connection; a `probe` only counts as the server being back once it answers. */
  #open(probe: boolean): Connection {
    return new Connection(this.#target, this.#timeout, {
      connected: (connection) => {
        if (connection !== this.#connection) return
        if (!probe) return this.#up()
        connection.send(
          ping(() => {
            if (connection === this.#connection) this.#up()
          }),
        )
      },
      lost: (connection, error, down) => {
        if (connection !== this.#connection || this.#closed) return
        this.#connection = undefined
        if (down) this.#markDown(error)
        else this.#state = 'idle'
      },
    })
  }

  #up(): void {
    this.#state = 'up'
    this.#down = undefined
    this.#attempts = 0
  }

  #markDown(error: BackendError): void {
    const delay = backoffDelay(this.#attempts, this.#backoff)
    this.#attempts += 1
    this.#state = 'down'
    this.#down = { error, retryAt: clock().now() + delay }
    this.#retry = clock().setTimeout(() => {
      this.#retry = undefined
      // While the attempt is under way the server stays down: calls keep failing fast.
      this.#connection = this.#open(true)
    }, delay)
  }
}
