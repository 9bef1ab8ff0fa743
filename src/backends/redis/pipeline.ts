import { clock } from '../../core/clock.ts'
import { msUntil } from '../../core/context.ts'
import { AbortError, BackendTimeout, DeadlineExceeded } from '../../core/errors.ts'
import { ambient, Cancellable } from '../../core/node.ts'
import type { Span } from '../../trace/span.ts'
import { NotConnected } from './errors.ts'
import { type Expirable, TimeoutQueue } from './timeouts.ts'
import type { Transport, Wire } from './transport.ts'

/** One call of a client method, as the client hands it to the pipeline. */
export interface Operation<T> {
  /** The client method (`get`, `incr`): names the span (`redis.get`) and the errors. */
  readonly name: string
  /** The command to send. */
  readonly wire: Wire
  /** Turns the raw reply into the value; throws `UnexpectedReply` on a reply of another shape. */
  readonly decode: (reply: unknown) => T
  /** Records what the value says (hits, misses) on the call's span; called only when it is traced. */
  readonly annotate?: ((span: Span, value: T) => void) | undefined
}

/**
 * Auto-pipelining with cancellation that reaches the socket.
 *
 * Calls made in one turn of the event loop are queued and written together at the next `setImmediate`
 * (or, when the connection is not ready, as soon as it is). Until that write, a call is only an entry
 * in this queue, so one whose caller is cancelled (or whose time runs out) is simply skipped: it never
 * reaches the server. After the write, the call's promise still settles at once on cancellation or
 * timeout, and the reply, which the server sends in order on the same connection, is dropped when it
 * arrives: the connection stays in step, with no need to reconnect.
 *
 * ioredis's own `enableAutoPipelining` is not used: it commits a command to its pipeline at the call,
 * with no way to take it back, and gives no handle on when the write happens.
 */
export class AutoPipeline {
  readonly #transport: Transport
  readonly #timeout: number
  /** The calls whose own timeout comes before the ambient deadline; undefined without a timeout. */
  readonly #timeouts: TimeoutQueue | undefined
  #queue: Call<unknown>[] = []
  #scheduled = false
  #waiting = false
  #closed = false
  #closing: Promise<void> | undefined
  #drained: (() => void) | undefined

  /** `timeout`: the most a call may take, in ms (Infinity for no limit besides the ambient deadline). */
  constructor(transport: Transport, timeout: number) {
    this.#transport = transport
    this.#timeout = timeout
    this.#timeouts = timeout === Infinity ? undefined : new TimeoutQueue(timeout)
  }

  get transport(): Transport {
    return this.#transport
  }

  /** The most a call may take, in ms. */
  get timeout(): number {
    return this.#timeout
  }

  /** Queues `operation` for the next write and resolves with its decoded reply. */
  run<T>(operation: Operation<T>): Promise<T> {
    // The ambient task or scope, looked up once: the call's span, cancellation and deadline; and the
    // clock read once, for the span's start, the deadline and the timeout.
    const caller = ambient.getStore()
    const now = clock().now()
    const span = caller?.span?.child(spanNameOf(operation.name), 'client', now).adoptAttributes({
      ...this.#transport.attributes,
      'db.operation.name': commandNameOf(operation.wire[0] ?? ''),
    })
    const left = msUntil(caller?.deadline, now)
    let refusal: Error | undefined
    if (this.#closed) {
      refusal = this.#transport.toError(new NotConnected('closed'), operation.name)
    } else if (caller?.aborted === true) {
      refusal = new AbortError(this.describe(operation.name), caller.reason)
    } else if (left === 0) {
      // The scope's own deadline timer may not have run yet; the deadline has passed all the same.
      const what = this.describe(operation.name)
      refusal = new AbortError(what, new DeadlineExceeded(what, caller?.deadline ?? now))
    }
    if (refusal !== undefined) {
      span?.finish(refusal instanceof AbortError ? 'cancelled' : 'error', refusal)
      return Promise.reject(refusal)
    }
    // At the ambient deadline the scope cancels the call itself; a timeout is needed only when the
    // client's own comes first.
    const timeouts = this.#timeout < left ? this.#timeouts : undefined
    const call = new Call(this, operation, span, timeouts)
    caller?.adopt(call)
    timeouts?.add(call, now)
    this.#queue.push(call as Call<unknown>)
    if (!this.#scheduled && !this.#waiting) {
      this.#scheduled = true
      setImmediate(() => this.#flush())
    }
    return call.promise
  }

  /** Writes what is queued, then closes the transport. Later calls fail with `BackendUnavailable`. */
  close(): Promise<void> {
    this.#closed = true
    this.#closing ??= this.#drain().then(() => this.#transport.close())
    return this.#closing
  }

  /** Resolves once every queued call was written or settled. */
  #drain(): Promise<void> {
    if (this.#queue.length === 0) return Promise.resolve()
    const { promise, resolve } = Promise.withResolvers<void>()
    this.#drained = resolve
    return promise
  }

  /** @internal How errors name a call: `redis 127.0.0.1:6379 get`. */
  describe(name: string): string {
    return `redis ${this.#transport.address} ${name}`
  }

  #flush(): void {
    this.#scheduled = false
    this.#write()
    if (this.#queue.length === 0) this.#drained?.()
  }

  #write(): void {
    if (this.#queue.length === 0) return
    const wait = this.#transport.ready()
    if (wait !== undefined) {
      // Calls made meanwhile join the queue and go out in the first write once connected.
      this.#waiting = true
      wait.then(
        () => {
          this.#waiting = false
          this.#flush()
        },
        (reason: unknown) => {
          this.#waiting = false
          const queue = this.#queue
          this.#queue = []
          for (const call of queue) call.fail(this.#transport.toError(reason, call.operation.name))
          this.#drained?.()
        },
      )
      return
    }
    const batch = this.#queue.filter((call) => call.state === 'queued')
    this.#queue = []
    if (batch.length === 0) return
    const wires: Wire[] = new Array(batch.length)
    for (let i = 0; i < batch.length; i++) {
      const call = batch[i] as Call<unknown>
      call.sent(batch.length)
      wires[i] = call.operation.wire
    }
    this.#transport.write(wires, (index, error, reply) => {
      const call = batch[index] as Call<unknown>
      if (error === undefined) call.succeed(reply)
      else call.fail(this.#transport.toError(error, call.operation.name))
    })
  }
}

/**
 * A call from the method to its settlement: queued, then sent, then settled (or settled while queued).
 * A leaf of the cancellation tree of the task or scope that made it (as a load's waiter is): their
 * cancellation reaches it by a direct call, where an AbortSignal listener added and removed on every
 * call took ~2,800 instructions of it (and its caller's signal had to be made for it).
 */
class Call<T> extends Cancellable implements Expirable {
  state: 'queued' | 'sent' | 'settled' = 'queued'
  readonly operation: Operation<T>
  readonly promise: Promise<T>
  readonly #pipeline: AutoPipeline
  readonly #span: Span | undefined
  readonly #resolve: (value: T) => void
  readonly #reject: (error: unknown) => void
  readonly #timeouts: TimeoutQueue | undefined

  constructor(
    pipeline: AutoPipeline,
    operation: Operation<T>,
    span: Span | undefined,
    timeouts: TimeoutQueue | undefined,
  ) {
    super()
    const { promise, resolve, reject } = Promise.withResolvers<T>()
    this.promise = promise
    this.#resolve = resolve
    this.#reject = reject
    this.operation = operation
    this.#pipeline = pipeline
    this.#span = span
    this.#timeouts = timeouts
  }

  get done(): boolean {
    return this.state === 'settled'
  }

  /** The client's timeout ran out before the reply. */
  expire(): void {
    const { address } = this.#pipeline.transport
    const where = this.state === 'queued' ? ' (still waiting for a connection)' : ''
    const ms = this.#pipeline.timeout
    this.fail(
      new BackendTimeout(`${this.operation.name} timed out after ${ms} ms${where}`, {
        backend: 'redis',
        address,
      }),
    )
  }

  /** Its caller was cancelled (with `reason`). */
  abort(reason: unknown): void {
    this.fail(new AbortError(this.#pipeline.describe(this.operation.name), reason))
  }

  sent(batchSize: number): void {
    this.state = 'sent'
    if (this.#span !== undefined) this.#span.attributes['db.operation.batch.size'] = batchSize
  }

  succeed(reply: unknown): void {
    if (this.state === 'settled') return // cancelled or timed out: the reply is dropped
    let value: T
    try {
      value = this.operation.decode(reply)
    } catch (error) {
      this.fail(this.#pipeline.transport.toError(error, this.operation.name))
      return
    }
    this.#settle()
    if (this.#span !== undefined) {
      const { wire } = this.operation
      this.operation.annotate?.(this.#span, value)
      // Counting UTF-8 bytes walks every string: done only if the trace is read (see deferAttributes;
      // after `annotate`, whose writes would work them out at once).
      this.#span.deferAttributes(() => ({
        'db.bytes_sent': wireBytes(wire),
        'db.bytes_received': replyBytes(reply),
      }))
      this.#span.finish('ok')
    }
    this.#resolve(value)
  }

  fail(error: Error): void {
    if (this.state === 'settled') return
    if (this.state === 'sent' && this.#span !== undefined) {
      const { wire } = this.operation
      this.#span.deferAttributes(() => ({ 'db.bytes_sent': wireBytes(wire) }))
    }
    this.#settle()
    this.#span?.finish(error instanceof AbortError ? 'cancelled' : 'error', error)
    this.#reject(error)
  }

  #settle(): void {
    this.state = 'settled'
    this.leave()
    this.#timeouts?.settled()
  }
}

// A traced call's span name and command name, made once per method and command rather than per
// call (a template string and an upper-casing each, a few dozen times a traced search). Both sets
// are bounded: the client's methods, and the commands they send.
const spanNames = new Map<string, string>()
const commandNames = new Map<string, string>()

function spanNameOf(method: string): string {
  return madeOnce(spanNames, method, (name) => `redis.${name}`)
}

function commandNameOf(command: string): string {
  return madeOnce(commandNames, command, (name) => name.toUpperCase())
}

function madeOnce(made: Map<string, string>, key: string, make: (key: string) => string): string {
  let value = made.get(key)
  if (value === undefined) {
    value = make(key)
    made.set(key, value)
  }
  return value
}

function wireBytes(wire: Wire): number {
  let bytes = 0
  for (const part of wire) bytes += Buffer.byteLength(part)
  return bytes
}

function replyBytes(reply: unknown): number {
  if (typeof reply === 'string') return Buffer.byteLength(reply)
  if (Array.isArray(reply)) return reply.reduce((sum: number, item) => sum + replyBytes(item), 0)
  if (reply !== null && typeof reply === 'object') {
    return Object.entries(reply).reduce(
      (sum, [key, value]) => sum + Buffer.byteLength(key) + replyBytes(value),
      0,
    )
  }
  return 0
}
