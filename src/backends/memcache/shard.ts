import { AsyncLocalStorage } from 'node:async_hooks'
import { clock, type TimerHandle } from '../../core/clock.ts'
import {
  AbortError,
  type BackendError,
  BackendTimeout,
  DeadlineExceeded,
  isAbort,
  ProtocolError,
} from '../../core/errors.ts'
import { Cancellable, type Node } from '../../core/node.ts'
import { onAbort } from '../../core/on-abort.ts'
import type { Span, Trace } from '../../trace/span.ts'
import { type Command, RejectedReply } from './commands.ts'
import type { MemcacheShardStats, ShardState } from './memcache.ts'
import type { MetaReply, MetaRequest } from './protocol.ts'

/** Where a shard's batches go: a memcached server, or an in-process store. */
export interface Transport {
  readonly address: string
  readonly state: ShardState
  /** The error calls must fail with at once (the server is marked down), or undefined when it is usable. */
  unavailable(): BackendError | undefined
  /**
   * Sends a batch. The transport then hands each reply, in order, to `batch.reply`, ends with
   * `batch.end` (the `MN`), or gives up on the rest with `batch.fail`.
   */
  send(batch: Batch): void
  /** Closes once the batches sent are answered; no reconnecting after. */
  close(): Promise<void>
}

/** What bounds one call: what cancels it, its time budget, and the span it reports to. */
export interface CallBudget {
  /**
   * The caller's task or scope (the ambient node), whose cancellation reaches the call through the
   * cancellation tree, or the explicit signal given instead; undefined outside any scope (never
   * cancelled).
   */
  readonly canceller: Node | AbortSignal | undefined
  /** Milliseconds to wait for the reply; Infinity for no limit. */
  readonly timeout: number
  /** Set when the ambient deadline is what limits `timeout`: the call then fails with DeadlineExceeded. */
  readonly deadline: number | undefined
  /** The call's span; batch spans are opened beside it, under the caller's span. */
  readonly span: Span | undefined
  /**
   * Set when the call ends its span itself as it settles (a call of one key, whose span is its
   * own), after adding what its result says; unset when several calls share the span (`getMulti`)
   * and their caller ends it. Ending it here rather than in a reaction to the call's promise saves
   * every traced call a promise and a turn of the microtask queue.
   */
  readonly endSpan?: SpanEnd
}

/** Adds to a call's span what its result says (a hit, a size). */
export type SpanEnd = (span: Span, result: unknown) => void

/** Ends a call's span as `budget` says: with its result, or with the error it failed with. */
export function endCallSpan(budget: CallBudget, ok: boolean, outcome: unknown): void {
  const { span, endSpan } = budget
  if (span === undefined || endSpan === undefined) return
  if (ok) {
    endSpan(span, outcome)
    span.finish('ok')
  } else {
    span.finish(isAbort(outcome) ? 'cancelled' : 'error', outcome)
  }
}

type Counter = Exclude<keyof MemcacheShardStats, 'address' | 'state'>

// Batches are flushed, and connections opened, outside the context of whichever request happened to
// come first: sockets and timers made there would otherwise keep that request's scope, spans and
// signal alive (and ambient) for as long as the connection lives.
const detached = AsyncLocalStorage.snapshot()

/**
 * One shard: collects the calls made to it during a turn of the event loop and sends them as one
 * batch; enforces each call's signal and time budget; keeps the shard's counters.
 */
export class Shard {
  readonly address: string
  readonly #transport: Transport
  /** Requests of this turn, in call order, not yet sent. */
  #queue: Op[] = []
  /** The queued reads, by identity, so identical reads share a request. */
  readonly #shared = new Map<string, Op>()
  #scheduled = false
  #active = 0
  #drained: (() => void) | undefined
  readonly #counters: Record<Counter, number> = {
    roundTrips: 0,
    requests: 0,
    calls: 0,
    hits: 0,
    misses: 0,
    bytesOut: 0,
    bytesIn: 0,
    timeouts: 0,
    cancelled: 0,
    failures: 0,
    discarded: 0,
  }

  constructor(transport: Transport) {
    this.#transport = transport
    this.address = transport.address
  }

  /** Queues `command` for this turn's batch; settles with its decoded reply or the call's error. */
  call<T>(command: Command<T>, budget: CallBudget): Promise<T> {
    const { promise, resolve, reject } = Promise.withResolvers<T>()
    this.count('calls')
    const down = this.#transport.unavailable()
    if (down !== undefined) {
      this.count('failures')
      endCallSpan(budget, false, down)
      reject(down)
      return promise
    }
    let op = command.shareKey === undefined ? undefined : this.#shared.get(command.shareKey)
    if (op === undefined) {
      op = new Op(this, command)
      this.#queue.push(op)
      if (command.shareKey !== undefined) this.#shared.set(command.shareKey, op)
    }
    this.#active += 1
    new Call(this, op, budget, resolve as (value: unknown) => void, reject).start()
    if (!this.#scheduled) {
      this.#scheduled = true
      // At the check phase of this event-loop iteration rather than after the current promise jobs
      // (DataLoader's choice): the batch then also gathers the calls made by the other callbacks of
      // this iteration (several requests woken by one I/O poll), for no wait (an immediate pending
      // keeps the poll from blocking).
      detached(() => setImmediate(this.#flush))
    }
    return promise
  }

  /** A snapshot of the counters. */
  stats(): MemcacheShardStats {
    return { address: this.address, state: this.#transport.state, ...this.#counters }
  }

  /** Waits for every call under way to settle, then closes the transport. */
  async close(): Promise<void> {
    if (this.#active > 0) await new Promise<void>((resolve) => (this.#drained = resolve))
    await this.#transport.close()
  }

  /** @internal */
  count(counter: Counter, by = 1): void {
    this.#counters[counter] += by
  }

  /** @internal A call has settled. */
  settled(): void {
    this.#active -= 1
    if (this.#active === 0) this.#drained?.()
  }

  readonly #flush = (): void => {
    this.#scheduled = false
    // Requests whose every caller has gone (cancelled, timed out) are dropped here: never sent.
    const ops = this.#queue.filter((op) => op.calls.length > 0)
    this.#queue = []
    this.#shared.clear()
    if (ops.length === 0) return
    const down = this.#transport.unavailable()
    if (down !== undefined) {
      for (const op of ops) op.fail(down)
      return
    }
    this.count('roundTrips')
    this.count('requests', ops.length)
    this.#transport.send(new Batch(this, ops))
  }
}

/** One request on the wire, and the calls waiting for its reply (several when identical reads share it). */
class Op {
  readonly shard: Shard
  readonly command: Command<unknown>
  readonly calls: Call[] = []

  constructor(shard: Shard, command: Command<unknown>) {
    this.shard = shard
    this.command = command
  }

  settle(reply: MetaReply): void {
    if (this.calls.length === 0) {
      this.shard.count('discarded')
      return
    }
    let value: unknown
    try {
      value = this.command.decode(reply)
    } catch (error) {
      const message =
        error instanceof RejectedReply ? error.message : `cannot decode the reply: ${String(error)}`
      this.fail(
        new ProtocolError(`${this.command.name}: ${message}`, {
          backend: 'memcache',
          address: this.shard.address,
          cause: error,
        }),
      )
      return
    }
    for (const call of this.calls.splice(0)) call.resolve(value)
  }

  fail(error: Error): void {
    for (const call of this.calls.splice(0)) call.reject(error, 'failures')
  }
}

/**
 * One caller waiting on an op, with its own canceller and time budget. Cancelled by its caller's task
 * or scope, it is a leaf of the cancellation tree they belong to (as a load's waiter is): their
 * cancellation reaches it by a direct call, where an AbortSignal listener added and removed on every
 * call took ~2,800 instructions of it (and its caller's signal had to be made for it).
 */
class Call extends Cancellable {
  readonly #shard: Shard
  readonly #op: Op
  readonly #budget: CallBudget
  readonly #resolve: (value: unknown) => void
  readonly #reject: (error: unknown) => void
  #timer: TimerHandle | undefined
  #unwatch: (() => void) | undefined
  #done = false

  constructor(
    shard: Shard,
    op: Op,
    budget: CallBudget,
    resolve: (value: unknown) => void,
    reject: (error: unknown) => void,
  ) {
    super()
    this.#shard = shard
    this.#op = op
    this.#budget = budget
    this.#resolve = resolve
    this.#reject = reject
  }

  get span(): Span | undefined {
    return this.#budget.span
  }

  /** The call's span when it is the call's own (not shared with other calls, as a getMulti's is). */
  get ownSpan(): Span | undefined {
    return this.#budget.endSpan === undefined ? undefined : this.#budget.span
  }

  start(): void {
    const { canceller, timeout } = this.#budget
    this.#op.calls.push(this)
    if (canceller?.aborted === true) this.abort(canceller.reason)
    else if (timeout <= 0) this.#leave(this.#timeoutError(), 'timeouts')
    else {
      if (timeout !== Infinity) {
        this.#timer = clock().setTimeout(() => this.#leave(this.#timeoutError(), 'timeouts'), timeout)
      }
      if (canceller instanceof AbortSignal)
        this.#unwatch = onAbort(canceller, () => this.abort(canceller.reason))
      else canceller?.adopt(this)
    }
  }

  /** The caller was cancelled (with `reason`): it stops waiting. */
  abort(reason: unknown): void {
    this.#leave(new AbortError(this.#what(), reason), 'cancelled')
  }

  resolve(value: unknown): void {
    if (!this.#finish()) return
    endCallSpan(this.#budget, true, value)
    this.#resolve(value)
  }

  reject(error: unknown, counter: Counter): void {
    if (!this.#finish()) return
    this.#shard.count(counter)
    endCallSpan(this.#budget, false, error)
    this.#reject(error)
  }

  /** Gives up waiting: an unsent request loses this caller; a sent one's reply will be dropped. */
  #leave(error: Error, counter: Counter): void {
    const calls = this.#op.calls
    const index = calls.indexOf(this)
    if (index !== -1) calls.splice(index, 1)
    this.reject(error, counter)
  }

  #finish(): boolean {
    if (this.#done) return false
    this.#done = true
    if (this.#timer !== undefined) clock().clearTimeout(this.#timer)
    this.leave()
    this.#unwatch?.()
    this.#shard.settled()
    return true
  }

  #what(): string {
    return `memcache ${this.#op.command.name} on ${this.#shard.address}`
  }

  #timeoutError(): Error {
    const { deadline, timeout } = this.#budget
    if (deadline !== undefined) return new DeadlineExceeded(this.#what(), deadline)
    return new BackendTimeout(`${this.#op.command.name}: no reply within ${timeout} ms`, {
      backend: 'memcache',
      address: this.#shard.address,
    })
  }
}

/**
 * The requests of one flush, sent together and ended by `mn`. Replies come back in order; the batch
 * hands each to its op, counts hits, misses and bytes, and reports a span to every traced request
 * that has two or more calls in it.
 */
export class Batch {
  readonly requests: readonly MetaRequest[]
  readonly #shard: Shard
  readonly #ops: readonly Op[]
  /** The batch's span in each traced request with two or more calls in it; undefined when none has. */
  #spans: Span[] | undefined
  #answered = 0
  #hits = 0
  #misses = 0
  #bytesOut = 0
  #bytesIn = 0

  constructor(shard: Shard, ops: readonly Op[]) {
    this.#shard = shard
    this.#ops = ops
    this.requests = ops.map((op) => op.command.request)
    this.#openSpans()
  }

  /** True once every request has had its reply. */
  get complete(): boolean {
    return this.#answered === this.#ops.length
  }

  /** The transport wrote `bytes` for this batch. */
  wrote(bytes: number): void {
    this.#bytesOut += bytes
    this.#shard.count('bytesOut', bytes)
  }

  /** The reply to the next request. False when every request already had one: the stream is out of step. */
  reply(reply: MetaReply, bytes: number): boolean {
    const op = this.#ops[this.#answered]
    if (op === undefined) return false
    this.#answered += 1
    this.#read(bytes)
    if (op.command.request.command === 'mg') {
      if (reply.status === 'EN') this.#misses += 1
      else if (reply.status === 'VA' || reply.status === 'HD') this.#hits += 1
    }
    op.settle(reply)
    return true
  }

  /** The batch's `MN` arrived. False when replies are missing: the stream is out of step. */
  end(bytes: number): boolean {
    this.#read(bytes)
    if (!this.complete) return false
    this.#shard.count('hits', this.#hits)
    this.#shard.count('misses', this.#misses)
    this.#closeSpans()
    return true
  }

  /** The requests not yet answered fail with `error` (the connection was lost or went out of step). */
  fail(error: Error): void {
    for (const op of this.#ops.slice(this.#answered)) op.fail(error)
    this.#answered = this.#ops.length
    this.#closeSpans(error)
  }

  #read(bytes: number): void {
    this.#bytesIn += bytes
    this.#shard.count('bytesIn', bytes)
  }

  #openSpans(): void {
    // A batch span for each traced request with two or more calls in it, found by a search of the
    // few spans made so far (a batch holds the calls of a few requests at most) rather than through
    // a Map with an entry object per request. A request with one call in the batch (most of them)
    // gets none: the call's span, which says the batch's size, tells the same story for one span
    // (and two clock reads) less. Every call's own span says the size of the batch it went in.
    const size = this.#ops.length
    try {
      for (const op of this.#ops) for (const call of op.calls) this.#countCall(call, size)
    } finally {
      loneCalls.length = 0
    }
  }

  /** Counts `call`, one of the batch's (of `size` requests), in its request's batch span (see `#openSpans`). */
  #countCall(call: Call, size: number): void {
    const parent = call.span?.parent
    if (parent === undefined) return
    const own = call.ownSpan
    if (own !== undefined) own.attributes['memcache.batch.size'] = size
    const trace = parent.trace
    const span = this.#spans === undefined ? undefined : spanOfTrace(this.#spans, trace)
    if (span !== undefined) {
      const { attributes } = span
      attributes['memcache.batch.calls'] = (attributes['memcache.batch.calls'] as number) + 1
      return
    }
    const first = loneCalls.findIndex((lone) => lone.span?.trace === trace)
    if (first === -1) {
      loneCalls.push(call)
      return
    }
    // The request's second call in the batch: the batch gets a span in its trace, beside the first
    // call's.
    const [lone] = loneCalls.splice(first, 1)
    // Every attribute from the start, the counts filled in as they are known: the object keeps one
    // shape.
    const batchSpan = (lone?.span?.parent ?? parent).child('memcache.batch', 'batch').adoptAttributes({
      'db.system': 'memcached',
      'server.address': this.#shard.address,
      'memcache.batch.size': size,
      'memcache.batch.calls': 2,
      'memcache.bytes_out': 0,
      'memcache.bytes_in': 0,
      'memcache.hits': 0,
      'memcache.misses': 0,
    })
    // The list made with its first span rather than empty (see SpanColumns in weft's trace/).
    if (this.#spans === undefined) this.#spans = [batchSpan]
    else this.#spans.push(batchSpan)
  }

  #closeSpans(error?: Error): void {
    if (this.#spans === undefined) return
    for (const span of this.#spans) {
      const { attributes } = span
      attributes['memcache.bytes_out'] = this.#bytesOut
      attributes['memcache.bytes_in'] = this.#bytesIn
      attributes['memcache.hits'] = this.#hits
      attributes['memcache.misses'] = this.#misses
      if (error === undefined) span.finish('ok')
      else span.finish('error', error)
    }
  }
}

/**
 * The traced calls of the batch being opened that are, so far, the only ones of their request in it
 * (see `Batch.#openSpans`): one list for every batch, emptied after each, as a batch is opened in one
 * synchronous pass.
 */
const loneCalls: Call[] = []

/** The first of `spans` that belongs to `trace`, if any. */
function spanOfTrace(spans: readonly Span[], trace: Trace): Span | undefined {
  for (const span of spans) if (span.trace === trace) return span
  return undefined
}
