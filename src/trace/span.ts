import { clock } from '../core/clock.ts'
import type { AttributeValue, SpanData, SpanKind, SpanStatus, TraceData } from './model.ts'
import { SpanColumns } from './span-columns.ts'
import { randomTraceId, SpanIds } from './span-ids.ts'

export {
  type AttributeValue,
  SPAN_KINDS,
  type SpanData,
  type SpanKind,
  type SpanStatus,
  type TraceData,
} from './model.ts'

/**
 * One timed operation of a traced request: a scope, a task, a backend call, a batch. Spans are
 * created by weft itself (scopes and tasks) and by backend adapters through `startSpan`.
 *
 * A traced request records a span for every task (about sixty for a search), so a span costs as
 * little as it can: it is a handle (its trace, parent and place in the trace) on what its trace
 * records of it in columns (see `SpanColumns`); its id is formatted only when read, and its
 * attributes object is made only when written.
 */
export class Span {
  readonly trace: Trace
  readonly parent: Span | undefined
  /** This span's place in its trace, from 1 (the root): its id is the trace's base plus this. */
  readonly serial: number

  /**
   * The handle on `trace`'s `serial`th span. Spans are opened with {@link Trace.startRoot},
   * {@link Span.child} or `startSpan`.
   */
  constructor(trace: Trace, parent: Span | undefined, serial: number) {
    this.trace = trace
    this.parent = parent
    this.serial = serial
  }

  get name(): string {
    return this.trace.recorded.name(this.serial)
  }

  get kind(): SpanKind {
    return this.trace.recorded.kind(this.serial)
  }

  /** Epoch milliseconds, fractional. */
  get start(): number {
    return this.trace.recorded.start(this.serial)
  }

  /** Epoch milliseconds, fractional; undefined while the span is open. */
  get end(): number | undefined {
    return this.trace.recorded.end(this.serial)
  }

  get status(): SpanStatus {
    return this.trace.recorded.status(this.serial)
  }

  /** The error message when the span ended with `error` or `cancelled` and a reason. */
  get error(): string | undefined {
    return this.trace.recorded.error(this.serial)
  }

  /** 16 hex digits, unique within the trace; for the spans of one process, in the order they started. */
  get spanId(): string {
    return this.trace.spanIdOf(this.serial)
  }

  /** The span's attributes, to read or to set (`span.attributes['db.hits'] = 1`). */
  get attributes(): Record<string, AttributeValue> {
    return this.trace.recorded.attributes(this.serial)
  }

  /** The attributes when any were ever asked for, without making an object when none were. */
  get attributesIfAny(): Record<string, AttributeValue> | undefined {
    return this.trace.recorded.attributesIfAny(this.serial)
  }

  /**
   * Opens a span nested in this one, started now, or at `start` (epoch ms, as weft's clock reads):
   * a caller that has just read the clock for something else (a deadline) passes its reading rather
   * than the span reading it again. A read of the real clock costs tens of nanoseconds, and a traced
   * request makes a few hundred.
   */
  child(name: string, kind: SpanKind, start?: number): Span {
    return this.trace.open(this, name, kind, start)
  }

  setAttribute(key: string, value: AttributeValue): this {
    this.attributes[key] = value
    return this
  }

  /** Sets several attributes at once (cheaper than one by one for a span that has none yet); returns the span. */
  setAttributes(attributes: Readonly<Record<string, AttributeValue>>): this {
    this.trace.recorded.setAttributes(this.serial, attributes)
    return this
  }

  /**
   * @internal Takes `attributes`, an object made for this span alone, as its attributes (added to
   * any it has); returns the span. What weft's adapters open their spans with: `setAttributes` must
   * copy an object its caller may use again, and a traced search opens dozens of such spans.
   */
  adoptAttributes(attributes: Record<string, AttributeValue>): this {
    this.trace.recorded.adoptAttributes(this.serial, attributes)
    return this
  }

  /**
   * @internal Adds the attributes `compute` returns (a new object) when the span's attributes are
   * first read, rather than now; returns the span. What weft's adapters record with what takes work
   * to measure (the UTF-8 bytes of a Redis call's strings): most traces are dropped unread (the
   * service's trace store keeps a few a second), and then it is never worked out. Reading (or writing
   * through) `attributes` works them out, so defer after the span's other writes. `compute` must not
   * depend on what changes later (it keeps what it closes over alive until then, or until the trace
   * is let go).
   */
  deferAttributes(compute: () => Record<string, AttributeValue>): this {
    this.trace.recorded.defer(this.serial, compute)
    return this
  }

  /** Closes the span; later calls are ignored, so the first outcome recorded wins. */
  finish(status: Exclude<SpanStatus, 'unset'>, error?: unknown): void {
    if (!this.trace.recorded.close(this.serial, status, clock().now(), error)) return
    if (this.parent === undefined) this.trace.finish()
  }

  toJSON(): SpanData {
    return this.trace.recorded.data(this.serial, this.trace)
  }
}

/** Receives each trace once its root span has ended. */
export type TraceListener = (trace: Trace) => void

/**
 * The spans of one request, rooted in its outermost scope.
 *
 * A trace holds what its spans recorded (see `SpanColumns`) and its root span, not the other span
 * objects: `spans` reads them back as handles, equal in every field to those the request used. Why:
 * a trace outlives a young-generation collection whenever its request is under way during one, and
 * every object it holds is copied then, and again at the next collection; holding its spans, it
 * kept each one alive as long as itself, where most (a backend call's, a task's) are done with long
 * before (in the search service tracing every request: finished traces holding theirs, each young
 * collection promoted 4.2 MB rather than 2.4; traces in flight holding theirs, a search served
 * eight at a time cost the collector 5% more). Once its listener has seen it, a finished trace is
 * also kept compactly (see {@link compact}).
 */
export class Trace {
  /** 32 hex digits, as in W3C trace context. */
  readonly id: string
  /** The caller's span in another process, when this trace continues a remote one. */
  readonly remoteParentId: string | undefined
  readonly #onFinish: TraceListener | undefined
  readonly #spanIds: SpanIds
  /** What the spans recorded; shared with `#compacted` once the trace has ended. */
  #recorded = new SpanColumns()
  /** The root span, once opened: the one span a trace holds (see the class comment). */
  #root: Span | undefined = undefined
  #compacted: CompactTrace | undefined = undefined
  /** The spans read back once the trace was compacted (they change no more then), once asked for. */
  #readBack: Span[] | undefined = undefined

  constructor(onFinish?: TraceListener, id?: string, remoteParentId?: string) {
    this.id = id ?? randomTraceId()
    this.#spanIds = SpanIds.random()
    this.remoteParentId = remoteParentId
    this.#onFinish = onFinish
  }

  /**
   * Every span, in the order they started: the root first. Read back from what the spans recorded:
   * each a handle equal in every field to the one the request used, the root the same object; new
   * handles at each read while the trace is recorded.
   */
  get spans(): readonly Span[] {
    if (this.#compacted === undefined) return this.#handles()
    this.#readBack ??= this.#handles()
    return this.#readBack
  }

  /** The span with no parent: the request's outermost scope. */
  get root(): Span | undefined {
    return this.#root
  }

  /** What the spans recorded, which each {@link Span} reads its fields from. */
  get recorded(): SpanColumns {
    return this.#recorded
  }

  /** Opens the trace's root span (the request's outermost scope). */
  startRoot(name: string, kind: SpanKind = 'scope'): Span {
    return this.open(undefined, name, kind)
  }

  /**
   * Opens a span under `parent` (one of this trace's, or none for the root), started at `start` or
   * now: `Span.child` and `startRoot` call this.
   */
  open(parent: Span | undefined, name: string, kind: SpanKind, start?: number): Span {
    if (this.#compacted !== undefined) {
      // Work the request left behind opened a span after the trace ended (rare: a request waits
      // for its tasks): the trace is recorded live again, on a copy of its columns, so that the
      // compacted form handed out stays as it was.
      this.#recorded = new SpanColumns(this.#recorded)
      this.#compacted = undefined
      this.#readBack = undefined
    }
    const serial = this.#recorded.open(parent?.serial ?? 0, name, kind, start ?? clock().now())
    const span = new Span(this, parent, serial)
    if (serial === 1) this.#root = span
    return span
  }

  /** The id of the trace's `serial`th span (from 1): 16 hex digits, the base plus `serial`. */
  spanIdOf(serial: number): string {
    return this.#spanIds.of(serial)
  }

  /** The spans as handles on what they recorded, the root span's own. */
  #handles(): Span[] {
    const spans: Span[] = []
    for (let serial = 1; serial <= this.#recorded.size; serial++) {
      const parent = this.#recorded.parent(serial)
      spans.push(
        serial === 1
          ? (this.#root as Span)
          : new Span(this, parent === 0 ? undefined : spans[parent - 1], serial),
      )
    }
    return spans
  }

  /**
   * The trace, once every span has ended, in a form that costs the garbage collector far less to keep
   * (a few arrays rather than an object per span): what a store of many recent traces holds, and
   * what the trace keeps itself once its listener has seen it (the same object). Its `toJSON()` is
   * this trace's. A trace with a span still open stays as it is (its end is still to come), so this
   * returns the trace itself then.
   */
  compact(): CompactTrace | Trace {
    if (!this.#recorded.closed) return this
    // Every span has ended: only a late span could change the columns, and it copies them first.
    this.#compacted ??= new CompactTrace(this.id, this.remoteParentId, this.#spanIds, this.#recorded)
    return this.#compacted
  }

  /** Called as the root span ends: hands the trace to its listener, then compacts it (see the class comment). */
  finish(): void {
    try {
      this.#onFinish?.(this)
    } catch (error) {
      // A listener observes the request; its bug must not fail or hang the request it observed.
      process.emitWarning(
        `weft: a trace listener threw: ${error instanceof Error ? error.stack : String(error)}`,
      )
    }
    // A span still open (work the request left behind) records its end later: the trace stays live.
    this.compact()
  }

  toJSON(): TraceData {
    return { traceId: this.id, spans: this.#recorded.toJSON(this) }
  }
}

/**
 * A finished trace kept compactly (see {@link Trace.compact}): its spans as data, on demand.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { CompactTrace, scope, type Trace } from 'weft'
 * let trace: Trace | undefined
 * await scope({ name: 'request', trace: (finished) => { trace = finished } }, async (s) => {
 *   await s.spawn('work', async () => 42)
 * })
 * const kept = trace!.compact()
 * assert.ok(kept instanceof CompactTrace)
 * assert.equal(kept.size, 2)
 * assert.deepEqual(kept.toJSON(), trace!.toJSON())
 * ```
 */
export class CompactTrace {
  /** The trace id, 32 hex digits. */
  readonly id: string
  readonly remoteParentId: string | undefined
  readonly #spanIds: SpanIds
  readonly #recorded: SpanColumns

  constructor(id: string, remoteParentId: string | undefined, spanIds: SpanIds, recorded: SpanColumns) {
    this.id = id
    this.remoteParentId = remoteParentId
    this.#spanIds = spanIds
    this.#recorded = recorded
  }

  /** How many spans the trace has. */
  get size(): number {
    return this.#recorded.size
  }

  /** The id of the trace's `serial`th span (from 1). */
  spanIdOf(serial: number): string {
    return this.#spanIds.of(serial)
  }

  toJSON(): TraceData {
    return { traceId: this.id, spans: this.#recorded.toJSON(this) }
  }
}
