import { randomFillSync } from 'node:crypto'
import { clock } from '../core/clock.ts'

/** Every kind of span, in the order they are listed in messages. */
export const SPAN_KINDS = [
  'scope',
  'task',
  'client',
  'batch',
  'server',
  'producer',
  'consumer',
  'internal',
] as const

/** What a span stands for. */
export type SpanKind = (typeof SPAN_KINDS)[number]

/** How a span ended: `unset` while it runs. */
export type SpanStatus = 'unset' | 'ok' | 'error' | 'cancelled'

/** Values a span attribute may hold (the OpenTelemetry attribute types). */
export type AttributeValue = string | number | boolean | readonly string[] | readonly number[]

/** A finished span as plain data: what JSON export, the critical path and the waterfall work on. */
export interface SpanData {
  traceId: string
  spanId: string
  /** The enclosing span; undefined for the root of a trace (or the remote caller's span, when continued). */
  parentId: string | undefined
  name: string
  kind: SpanKind
  /** Epoch milliseconds, fractional. */
  start: number
  /** Epoch milliseconds, fractional; undefined while the span is still open. */
  end: number | undefined
  status: SpanStatus
  /** The error message when `status` is `error` or `cancelled`. */
  error?: string
  attributes: Record<string, AttributeValue>
}

/** A trace exported as JSON: the spans of one request. */
export interface TraceData {
  traceId: string
  spans: SpanData[]
}

/**
 * One timed operation of a traced request: a scope, a task, a backend call, a batch. Spans are
 * created by weft itself (scopes and tasks) and by backend adapters through `startSpan`.
 *
 * A traced request records a span for every task (about a hundred for a search), so a span costs as
 * little as it can: its id is formatted only when read, and its attributes object is made only when
 * written.
 */
export class Span {
  readonly trace: Trace
  readonly parent: Span | undefined
  readonly name: string
  readonly kind: SpanKind
  readonly start: number
  end: number | undefined = undefined
  status: SpanStatus = 'unset'
  error: string | undefined = undefined
  /** This span's place in its trace, from 1 (the root): its id is the trace's base plus this. */
  readonly serial: number
  #spanId: string | undefined = undefined
  #attributes: Record<string, AttributeValue> | undefined = undefined

  /** Opens a span; `recorded` is for the trace's own use, a span of a finished trace read back. */
  constructor(trace: Trace, parent: Span | undefined, name: string, kind: SpanKind, recorded?: RecordedSpan) {
    this.trace = trace
    this.parent = parent
    this.name = name
    this.kind = kind
    if (recorded === undefined) {
      this.start = clock().now()
      this.serial = trace.open(this)
      return
    }
    this.start = recorded.start
    this.end = recorded.end
    this.status = recorded.status
    this.error = recorded.error
    this.serial = recorded.serial
    this.#attributes = recorded.attributes
  }

  /** 16 hex digits, unique within the trace; for the spans of one process, in the order they started. */
  get spanId(): string {
    this.#spanId ??= this.trace.spanIdOf(this.serial)
    return this.#spanId
  }

  /** The span's attributes, to read or to set (`span.attributes['db.hits'] = 1`). */
  get attributes(): Record<string, AttributeValue> {
    this.#attributes ??= {}
    return this.#attributes
  }

  /** The attributes when any were ever asked for, without making an object when none were. */
  get attributesIfAny(): Record<string, AttributeValue> | undefined {
    return this.#attributes
  }

  /** Opens a span nested in this one. */
  child(name: string, kind: SpanKind): Span {
    return new Span(this.trace, this, name, kind)
  }

  setAttribute(key: string, value: AttributeValue): this {
    this.attributes[key] = value
    return this
  }

  /** Closes the span; later calls are ignored, so the first outcome recorded wins. */
  finish(status: Exclude<SpanStatus, 'unset'>, error?: unknown): void {
    if (this.end !== undefined) return
    this.end = clock().now()
    this.status = status
    if (error !== undefined)
      this.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
    if (this.parent === undefined) this.trace.finish()
  }

  toJSON(): SpanData {
    const data: SpanData = {
      traceId: this.trace.id,
      spanId: this.spanId,
      parentId: this.parent === undefined ? this.trace.remoteParentId : this.parent.spanId,
      name: this.name,
      kind: this.kind,
      start: this.start,
      end: this.end,
      status: this.status,
      attributes: { ...this.#attributes },
    }
    if (this.error !== undefined) data.error = this.error
    return data
  }
}

/** A finished span as a compacted trace holds it, to be read back as a {@link Span}. */
interface RecordedSpan {
  serial: number
  start: number
  end: number
  status: SpanStatus
  error: string | undefined
  attributes: Record<string, AttributeValue> | undefined
}

/** Receives each trace once its root span has ended. */
export type TraceListener = (trace: Trace) => void

/**
 * The spans of one request, rooted in its outermost scope.
 *
 * Once its listener has seen it, a finished trace keeps its spans compactly (see {@link compact})
 * and lets go of the span objects: `spans` then reads them back as new objects, equal in every
 * field. Why: a trace outlives a young-generation collection whenever its request is under way
 * during one, and such an old trace kept every span created after it alive through the next
 * collections too, long after the request ended (a fifth more garbage collection time for a
 * search service tracing every request). Compacted, it holds a few arrays instead. So a span's
 * attributes are written before its trace ends: a trace that has ended may no longer see them.
 */
export class Trace {
  /** 32 hex digits, as in W3C trace context. */
  readonly id: string
  /** The spans while the trace is recorded; undefined once compacted at its end. */
  #spans: Span[] | undefined = []
  #compacted: CompactTrace | undefined = undefined
  /** The spans read back from `#compacted`, once asked for. */
  #readBack: Span[] | undefined = undefined
  readonly #onFinish: TraceListener | undefined
  /**
   * Span ids only need to be unique within their trace: a random base plus a counter is as good as
   * 8 random bytes per span, and much cheaper. The base is random in its upper 40 bits and zero in
   * its lower 24, where the counter goes: the upper 40 bits as a number, their hex once needed.
   */
  readonly #spanIds: SpanIds

  /** The caller's span in another process, when this trace continues a remote one. */
  readonly remoteParentId: string | undefined

  constructor(onFinish?: TraceListener, id?: string, remoteParentId?: string) {
    const random = takeRandom(id === undefined ? 21 : 5)
    this.id = id ?? randomPool.toString('hex', random + 5, random + 21)
    this.#spanIds = new SpanIds(randomPool.readUIntBE(random, 5))
    this.remoteParentId = remoteParentId
    this.#onFinish = onFinish
  }

  /** Every span, in the order they started: the root first. */
  get spans(): readonly Span[] {
    if (this.#spans !== undefined) return this.#spans
    this.#readBack ??= (this.#compacted as CompactTrace).readBack(this)
    return this.#readBack
  }

  /** The span with no parent: the request's outermost scope. */
  get root(): Span | undefined {
    return this.spans[0]
  }

  /** Adds a span just opened (its constructor calls this) and returns its serial, from 1. */
  open(span: Span): number {
    if (this.#spans === undefined) {
      // Work the request left behind opened a span after the trace ended (rare: a request waits
      // for its tasks): the trace is recorded live again, as it was before it was compacted.
      this.#spans = [...this.spans]
      this.#compacted = undefined
      this.#readBack = undefined
    }
    return this.#spans.push(span)
  }

  /** Opens the trace's root span (the request's outermost scope). */
  startRoot(name: string, kind: SpanKind = 'scope'): Span {
    return new Span(this, undefined, name, kind)
  }

  /** The id of the trace's `serial`th span (from 1): 16 hex digits, the base plus `serial`. */
  spanIdOf(serial: number): string {
    return this.#spanIds.of(serial)
  }

  /**
   * The trace as it is now, in a form that costs the garbage collector far less to keep (a few
   * arrays rather than an object per span): what a store of many recent traces holds. Its
   * `toJSON()` is this trace's. A trace with a span still open stays as it is (its end is still to
   * come), so this returns the trace itself then.
   */
  compact(): CompactTrace | Trace {
    if (this.#compacted !== undefined) return this.#compacted
    const spans = this.#spans as Span[]
    const count = spans.length
    if (count >= MAX_COMPACT) return this
    const names: string[] = new Array(count)
    const times: number[] = new Array(2 * count)
    const codes: number[] = new Array(count)
    let attributes: (Record<string, AttributeValue> | undefined)[] | undefined
    let errors: (string | undefined)[] | undefined
    for (let i = 0; i < count; i++) {
      const span = spans[i] as Span
      if (span.end === undefined) return this
      names[i] = span.name
      times[2 * i] = span.start
      times[2 * i + 1] = span.end
      codes[i] =
        ((span.parent?.serial ?? 0) * KINDS + kindCodes[span.kind]) * STATUSES + statusCodes[span.status]
      const own = span.attributesIfAny
      if (own !== undefined) {
        attributes ??= new Array(count)
        attributes[i] = own
      }
      if (span.error !== undefined) {
        errors ??= new Array(count)
        errors[i] = span.error
      }
    }
    return new CompactTrace(
      this.id,
      this.remoteParentId,
      this.#spanIds,
      names,
      times,
      codes,
      attributes,
      errors,
    )
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
    const compacted = this.compact()
    if (compacted === this) return
    this.#compacted = compacted as CompactTrace
    this.#spans = undefined
  }

  toJSON(): TraceData {
    return this.#compacted?.toJSON() ?? { traceId: this.id, spans: this.spans.map((span) => span.toJSON()) }
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
  readonly #names: readonly string[]
  /** Each span's start and end. */
  readonly #times: readonly number[]
  /** Each span's parent's serial (0 for the root), kind and status, in one number. */
  readonly #codes: readonly number[]
  /** Sparse: only spans with attributes, errors have an entry; undefined when none has. */
  readonly #attributes: readonly (Record<string, AttributeValue> | undefined)[] | undefined
  readonly #errors: readonly (string | undefined)[] | undefined

  constructor(
    id: string,
    remoteParentId: string | undefined,
    spanIds: SpanIds,
    names: readonly string[],
    times: readonly number[],
    codes: readonly number[],
    attributes: readonly (Record<string, AttributeValue> | undefined)[] | undefined,
    errors: readonly (string | undefined)[] | undefined,
  ) {
    this.id = id
    this.remoteParentId = remoteParentId
    this.#spanIds = spanIds
    this.#names = names
    this.#times = times
    this.#codes = codes
    this.#attributes = attributes
    this.#errors = errors
  }

  /** How many spans the trace has. */
  get size(): number {
    return this.#names.length
  }

  /** The spans as {@link Span} objects of `trace` (the trace this was compacted from). */
  readBack(trace: Trace): Span[] {
    const spans: Span[] = []
    for (let i = 0; i < this.#names.length; i++) {
      const recorded = this.#recorded(i)
      const parent = recorded.parent === 0 ? undefined : spans[recorded.parent - 1]
      spans.push(new Span(trace, parent, recorded.name, recorded.kind, recorded))
    }
    return spans
  }

  toJSON(): TraceData {
    const spans: SpanData[] = []
    for (let i = 0; i < this.#names.length; i++) {
      const { serial, parent, name, kind, start, end, status, error, attributes } = this.#recorded(i)
      const data: SpanData = {
        traceId: this.id,
        spanId: this.#spanIds.of(serial),
        parentId: parent === 0 ? this.remoteParentId : this.#spanIds.of(parent),
        name,
        kind,
        start,
        end,
        status,
        attributes: { ...attributes },
      }
      if (error !== undefined) data.error = error
      spans.push(data)
    }
    return { traceId: this.id, spans }
  }

  /** The `i`th span (from 0), its parent by serial (0 for the root). */
  #recorded(i: number): RecordedSpan & { parent: number; name: string; kind: SpanKind } {
    const code = this.#codes[i] as number
    return {
      serial: i + 1,
      parent: Math.floor(code / (KINDS * STATUSES)),
      name: this.#names[i] as string,
      kind: SPAN_KINDS[Math.floor(code / STATUSES) % KINDS] as SpanKind,
      start: this.#times[2 * i] as number,
      end: this.#times[2 * i + 1] as number,
      status: SPAN_STATUSES[code % STATUSES] as SpanStatus,
      error: this.#errors?.[i],
      attributes: this.#attributes?.[i],
    }
  }
}

const SPAN_STATUSES: readonly SpanStatus[] = ['unset', 'ok', 'error', 'cancelled']
const KINDS = SPAN_KINDS.length
const STATUSES = SPAN_STATUSES.length
const kindCodes = Object.fromEntries(SPAN_KINDS.map((kind, i) => [kind, i])) as Record<SpanKind, number>
const statusCodes = Object.fromEntries(SPAN_STATUSES.map((status, i) => [status, i])) as Record<
  SpanStatus,
  number
>
/** A parent's serial times KINDS * STATUSES must stay a whole number that a double holds exactly. */
const MAX_COMPACT = 2 ** 40

/** The span ids of one trace: a random base, its upper 40 bits as a number, plus each span's serial. */
class SpanIds {
  readonly #high: number
  /** The hex of the upper 40 bits, once needed. */
  #prefix: string | undefined = undefined

  constructor(high: number) {
    this.#high = high
  }

  of(serial: number): string {
    if (serial < COUNTER_RANGE) {
      this.#prefix ??= hex(this.#high, 10)
      return this.#prefix + hex(serial, 6)
    }
    // Past 2^24 spans the counter carries into the upper bits, wrapping at 64 bits as a sum would.
    const high = (this.#high + Math.floor(serial / COUNTER_RANGE)) % 2 ** 40
    return hex(high, 10) + hex(serial % COUNTER_RANGE, 6)
  }
}

/** The span ids' counter: their lower 24 bits. */
const COUNTER_RANGE = 2 ** 24

function hex(value: number, digits: number): string {
  return value.toString(16).padStart(digits, '0')
}

/**
 * Random bytes for trace ids and span id bases, drawn from the CSPRNG a block at a time (as node's
 * own `randomUUID` does): one call into it per 195 traces rather than two per trace, each of which
 * also made a buffer.
 */
const randomPool = Buffer.allocUnsafe(4096)
let randomOffset = randomPool.length

/** The offset in `randomPool` of `bytes` fresh random bytes. */
function takeRandom(bytes: number): number {
  if (randomOffset + bytes > randomPool.length) {
    randomFillSync(randomPool)
    randomOffset = 0
  }
  randomOffset += bytes
  return randomOffset - bytes
}
