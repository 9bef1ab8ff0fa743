import { connect, type Socket } from 'node:net'
import { clock, type TimerHandle } from '../../core/clock.ts'
import { type BackendError, BackendRefused, BackendTimeout, ProtocolError } from '../../core/errors.ts'
import type { Address } from './address.ts'
import {
  encodeRequest,
  MalformedReply,
  type MetaReply,
  type MetaRequest,
  noop,
  ReplyParser,
} from './protocol.ts'

/**
 * What a connection sends and matches replies to: a shard's batch, or a bare `mn` probing whether
 * the server answers at all. Each is written followed by `mn`.
 */
export interface Exchange {
  readonly requests: readonly MetaRequest[]
  /** `bytes` were written for it. */
  wrote(bytes: number): void
  /** The reply to its next request; false when every request already had one. */
  reply(reply: MetaReply, bytes: number): boolean
  /** Its `MN` arrived; false when replies are missing. */
  end(bytes: number): boolean
  /** The connection was lost before it was fully answered. */
  fail(error: Error): void
}

/** An exchange of nothing but `mn`: calls `answered` when the server answers it. */
export function ping(answered: () => void): Exchange {
  return {
    requests: [],
    wrote: () => {},
    reply: () => false,
    end: () => {
      answered()
      return true
    },
    fail: () => {},
  }
}

/** What a connection tells its server about. */
export interface ConnectionEvents {
  /** The socket is connected. */
  connected(connection: Connection): void
  /**
   * The connection is gone, with why. `down` is true when the server itself looks unreachable (it
   * could not be reached, went silent, or dropped requests it was answering), false when only this
   * connection is lost (closed while idle, out of step): the next call may simply reconnect.
   */
  lost(connection: Connection, error: BackendError, down: boolean): void
}

/**
 * One TCP connection to a memcached server, pipelined: batches are written as soon as they are
 * flushed, each ended by `mn`, and replies are matched to requests in order (the meta protocol
 * answers in order; `q` mode is never used because its error lines could not be attributed). The
 * `MN` closing each batch checks that the stream is still in step: a reply too many or too few is
 * caught by the batch's end at the latest, and the connection is replaced. (memcached only gets out
 * of step after a malformed command, which this client never sends: keys and sizes are checked
 * first. Opaque tokens would catch it one reply sooner, for bytes on every request.)
 *
 * A watchdog measures how long the oldest unanswered request has gone without the server sending a
 * byte: past `timeout` the server is unresponsive and the connection is dropped. A caller's own,
 * shorter deadline never drops it: its reply is simply discarded when it comes.
 */
export class Connection {
  readonly #address: Address
  readonly #timeout: number
  readonly #events: ConnectionEvents
  readonly #socket: Socket
  readonly #parser = new ReplyParser()
  /** Exchanges written and not yet fully answered, oldest first, with when they were written. */
  readonly #inflight: { exchange: Exchange; sentAt: number }[] = []
  #connected = false
  #gone = false
  #ending = false
  #lastRead = 0
  #watchdog: TimerHandle | undefined
  #connectTimer: TimerHandle | undefined
  readonly #closed: Promise<void>

  constructor(address: Address, timeout: number, events: ConnectionEvents) {
    this.#address = address
    this.#timeout = timeout
    this.#events = events
    this.#socket = connect({ host: address.host, port: address.port, noDelay: true, keepAlive: true })
    this.#closed = new Promise((resolve) => this.#socket.once('close', () => resolve()))
    this.#socket.on('connect', this.#onConnect)
    this.#socket.on('data', this.#onData)
    this.#socket.on('error', this.#onError)
    this.#socket.on('close', this.#onClose)
    if (timeout !== Infinity) {
      this.#connectTimer = clock().setTimeout(
        () => this.#destroy(this.#error(BackendTimeout, `could not connect within ${timeout} ms`), true),
        timeout,
      )
    }
  }

  /** Writes `exchange` (queued by the socket until it is connected). */
  send(exchange: Exchange): void {
    const chunks = exchange.requests.flatMap(encodeRequest)
    chunks.push(noop)
    // One buffer, one write: a batch of small commands leaves in one packet, and copying a few hundred
    // bytes costs less than a writev of one small chunk per command.
    const batch = Buffer.concat(chunks)
    exchange.wrote(batch.length)
    this.#inflight.push({ exchange, sentAt: clock().now() })
    if (this.#inflight.length === 1) this.#socket.ref()
    this.#socket.write(batch)
    if (this.#watchdog === undefined && this.#timeout !== Infinity) {
      this.#watchdog = clock().setTimeout(this.#checkSilence, this.#timeout)
    }
  }

  /** Closes once every batch written is answered. */
  end(): Promise<void> {
    this.#ending = true
    if (this.#inflight.length === 0) this.#socket.end()
    return this.#closed
  }

  readonly #onConnect = (): void => {
    this.#connected = true
    this.#clearTimer('connect')
    this.#events.connected(this)
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#lastRead = clock().now()
    let replies: ReturnType<ReplyParser['push']>
    try {
      replies = this.#parser.push(chunk)
    } catch (error) {
      const message = error instanceof MalformedReply ? error.message : String(error)
      this.#destroy(this.#error(ProtocolError, `malformed reply: ${message}`, error), false)
      return
    }
    for (const { reply, bytes } of replies) {
      const problem = this.#dispatch(reply, bytes)
      if (problem !== undefined) {
        this.#destroy(this.#error(ProtocolError, `replies out of step with requests: ${problem}`), false)
        return
      }
    }
    if (this.#inflight.length === 0) {
      this.#clearTimer('watchdog')
      // An idle connection does not keep the process alive; only requests in flight do.
      this.#socket.unref()
      if (this.#ending) this.#socket.end()
    }
  }

  /** Hands a reply to the batch it answers; returns what is wrong when it answers none. */
  #dispatch(reply: MetaReply, bytes: number): string | undefined {
    const head = this.#inflight[0]
    if (head === undefined) return `"${reply.status}" arrived with no request waiting`
    if (reply.status !== 'MN') {
      return head.exchange.reply(reply, bytes)
        ? undefined
        : `"${reply.status}" arrived after every reply of its batch`
    }
    if (!head.exchange.end(bytes)) return '"MN" arrived before every reply of its batch'
    this.#inflight.shift()
    return undefined
  }

  readonly #onError = (error: NodeJS.ErrnoException): void => {
    const failure = socketFailure(error.code)
    this.#destroy(
      this.#error(failure.type, failure.message ?? `connection failed: ${error.message}`, error),
      true,
    )
  }

  readonly #onClose = (): void => {
    if (this.#ending && this.#inflight.length === 0) {
      this.#gone = true
      return
    }
    const error = this.#connected
      ? this.#error(BackendRefused, 'connection closed by the server')
      : this.#error(BackendRefused, 'connection closed before it was established')
    // A server closing an idle connection (an idle timeout, a restart) is not down: reconnect lazily.
    this.#destroy(error, !this.#connected || this.#inflight.length > 0)
  }

  /** The server has said nothing for the oldest unanswered request for `timeout` ms: it is unresponsive. */
  readonly #checkSilence = (): void => {
    this.#watchdog = undefined
    // Read what has arrived first: after a stall of this process, replies may be waiting in the socket
    // buffer, and a server that answered is not unresponsive.
    setImmediate(() => {
      const head = this.#inflight[0]
      if (head === undefined || this.#gone) return
      const left = Math.max(head.sentAt, this.#lastRead) + this.#timeout - clock().now()
      if (left > 0) this.#watchdog = clock().setTimeout(this.#checkSilence, left)
      else
        this.#destroy(
          this.#error(BackendTimeout, `no reply for ${this.#timeout} ms: server unresponsive`),
          true,
        )
    })
  }

  /**
   * Ends the connection now, failing what is in flight with `error`. The server hears of it at once,
   * not at the socket's later `close`, so no batch is sent on a connection already given up.
   */
  #destroy(error: BackendError, down: boolean): void {
    if (this.#gone) return
    this.#gone = true
    this.#clearTimer('connect')
    this.#clearTimer('watchdog')
    this.#socket.destroy()
    for (const { exchange } of this.#inflight.splice(0)) exchange.fail(error)
    this.#events.lost(this, error, down)
  }

  #clearTimer(which: 'connect' | 'watchdog'): void {
    const timer = which === 'connect' ? this.#connectTimer : this.#watchdog
    if (timer !== undefined) clock().clearTimeout(timer)
    if (which === 'connect') this.#connectTimer = undefined
    else this.#watchdog = undefined
  }

  #error(
    type: new (
      message: string,
      details: { backend: string; address: string; cause?: unknown },
    ) => BackendError,
    message: string,
    cause?: unknown,
  ): BackendError {
    return new type(message, { backend: 'memcache', address: this.#address.text, cause })
  }
}

function socketFailure(code: string | undefined): {
  type: typeof BackendRefused | typeof BackendTimeout
  message?: string
} {
  switch (code) {
    case 'ECONNREFUSED':
      return { type: BackendRefused, message: 'connection refused' }
    case 'ECONNRESET':
    case 'EPIPE':
      return { type: BackendRefused, message: 'connection reset by the server' }
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { type: BackendRefused, message: 'cannot resolve the host name' }
    case 'ETIMEDOUT':
      return { type: BackendTimeout, message: 'connection timed out' }
    default:
      return { type: BackendRefused }
  }
}
