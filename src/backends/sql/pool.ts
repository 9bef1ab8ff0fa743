import { startTimer } from './timer.ts'

/** What the pool needs of a connection. */
export interface Poolable {
  /** True once it must not be handed out again. */
  readonly broken: boolean
  /** True while something is in flight or a cancel request is pending. */
  readonly busy: boolean
  /** Settles once it is safe to hand to someone else (nothing in flight, no cancel pending). */
  idle(): Promise<void>
  close(): Promise<void>
}

/** Options of {@link Pool}. */
export interface PoolOptions<C extends Poolable> {
  /** Opens a connection; the signal aborts when the pool closes. */
  create: (signal: AbortSignal) => Promise<C>
  /** Connections open at most, counting those being opened. */
  max: number
  /** Close a connection left unused this long, in ms; Infinity keeps it. */
  idleTimeout: number
  /** The error for acquiring from a closed pool. */
  closedError: () => Error
  /** The error for an acquire whose signal aborted. */
  cancelledError: (reason: unknown) => Error
}

interface Waiter<C> {
  readonly resolve: (connection: C) => void
  readonly reject: (error: unknown) => void
  readonly signal: AbortSignal
  readonly onAbort: () => void
}

interface Idle<C> {
  readonly connection: C
  readonly stopTimer: (() => void) | undefined
}

/**
 * A connection pool whose waits are cancellable. A connection is opened for the pool, not for the
 * caller who asked: if that caller gives up, the connection serves the next one. A connection given
 * back while a cancelled statement is still winding down rejoins the pool only once it is idle.
 */
export class Pool<C extends Poolable> {
  readonly #options: PoolOptions<C>
  readonly #idle: Idle<C>[] = []
  readonly #waiters: Waiter<C>[] = []
  /** Connections that exist or are being opened. */
  #size = 0
  /** Connections being opened. */
  #opening = 0
  #closed = false
  readonly #lifetime = new AbortController()
  readonly #closing = new Set<Promise<void>>()
  #emptied: PromiseWithResolvers<void> | undefined

  constructor(options: PoolOptions<C>) {
    this.#options = options
  }

  /** How many connections exist, sit idle, and how many callers wait for one. */
  get state(): { open: number; idle: number; waiting: number } {
    return { open: this.#size, idle: this.#idle.length, waiting: this.#waiters.length }
  }

  /** A connection for the caller's exclusive use until {@link release}; cancelled by `signal`. */
  acquire(signal: AbortSignal): Promise<C> {
    if (this.#closed) return Promise.reject(this.#options.closedError())
    if (signal.aborted) return Promise.reject(this.#options.cancelledError(signal.reason))
    const connection = this.#takeIdle()
    if (connection !== undefined) return Promise.resolve(connection)
    const { promise, resolve, reject } = Promise.withResolvers<C>()
    const waiter: Waiter<C> = {
      resolve,
      reject,
      signal,
      onAbort: () => {
        this.#removeWaiter(waiter)
        reject(this.#options.cancelledError(signal.reason))
      },
    }
    signal.addEventListener('abort', waiter.onAbort, { once: true })
    this.#waiters.push(waiter)
    this.#openForWaiters()
    return promise
  }

  /** Gives a connection back. It serves again once idle, unless it broke. */
  release(connection: C): void {
    if (connection.broken || this.#closed) {
      this.#discard(connection)
      return
    }
    if (!connection.busy) {
      this.#recycle(connection)
      return
    }
    void connection.idle().then(() => {
      if (connection.broken || this.#closed) this.#discard(connection)
      else this.#recycle(connection)
    })
  }

  /**
   * Refuses new callers, fails the waiting ones, closes idle connections now and busy ones as they
   * are released; resolves once every connection is closed.
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true
      this.#lifetime.abort(this.#options.closedError())
      for (const waiter of this.#waiters.splice(0)) this.#fail(waiter, this.#options.closedError())
      for (const { connection, stopTimer } of this.#idle.splice(0)) {
        stopTimer?.()
        this.#discard(connection)
      }
    }
    if (this.#size > 0) {
      this.#emptied ??= Promise.withResolvers<void>()
      await this.#emptied.promise
    }
    await Promise.all(this.#closing)
  }

  #takeIdle(): C | undefined {
    for (let entry = this.#idle.pop(); entry !== undefined; entry = this.#idle.pop()) {
      entry.stopTimer?.()
      if (!entry.connection.broken) return entry.connection
      this.#discard(entry.connection)
    }
    return undefined
  }

  /** Opens connections for the waiters that no connection being opened will serve, within `max`. */
  #openForWaiters(): void {
    while (!this.#closed && this.#waiters.length > this.#opening && this.#size < this.#options.max) {
      this.#open()
    }
  }

  #open(): void {
    this.#size += 1
    this.#opening += 1
    this.#options.create(this.#lifetime.signal).then(
      (connection) => {
        this.#opening -= 1
        if (this.#closed) this.#discard(connection)
        else this.#recycle(connection)
      },
      (error: unknown) => {
        this.#opening -= 1
        this.#size -= 1
        // The longest waiter gets the error; the others keep waiting for an attempt of their own.
        const waiter = this.#waiters.shift()
        if (waiter !== undefined) this.#fail(waiter, error)
        this.#openForWaiters()
        this.#checkEmptied()
      },
    )
  }

  #recycle(connection: C): void {
    const waiter = this.#waiters.shift()
    if (waiter !== undefined) {
      waiter.signal.removeEventListener('abort', waiter.onAbort)
      waiter.resolve(connection)
      return
    }
    const { idleTimeout } = this.#options
    const stopTimer = Number.isFinite(idleTimeout)
      ? startTimer(() => this.#expire(connection), idleTimeout)
      : undefined
    this.#idle.push({ connection, stopTimer })
  }

  #expire(connection: C): void {
    const index = this.#idle.findIndex((entry) => entry.connection === connection)
    if (index === -1) return
    this.#idle.splice(index, 1)
    this.#discard(connection)
  }

  #discard(connection: C): void {
    this.#size -= 1
    const closing = connection.close().catch(() => {})
    this.#closing.add(closing)
    void closing.finally(() => this.#closing.delete(closing))
    // The slot it held can serve a waiter.
    this.#openForWaiters()
    this.#checkEmptied()
  }

  #removeWaiter(waiter: Waiter<C>): void {
    const index = this.#waiters.indexOf(waiter)
    if (index !== -1) this.#waiters.splice(index, 1)
  }

  #fail(waiter: Waiter<C>, error: unknown): void {
    waiter.signal.removeEventListener('abort', waiter.onAbort)
    waiter.reject(error)
  }

  #checkEmptied(): void {
    if (this.#size > 0 || this.#emptied === undefined) return
    this.#emptied.resolve()
    this.#emptied = undefined
  }
}
