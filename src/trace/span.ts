import { randomBytes } from 'node:crypto'
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
 */
export class Span {
  readonly trace: Trace
  readonly spanId: string
  readonly parent: Span | undefined
  readonly name: string
  readonly kind: SpanKind
  readonly start: number
  end: number | undefined
  status: SpanStatus = 'unset'
  error: string | undefined
  readonly attributes: Record<string, AttributeValue> = {}

  constructor(trace: Trace, parent: Span | undefined, name: string, kind: SpanKind) {
    this.trace = trace
    this.parent = parent
    this.name = name
    this.kind = kind
    this.spanId = trace.nextSpanId()
    this.start = clock().now()
    trace.spans.push(this)
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
      attributes: { ...this.attributes },
    }
    if (this.error !== undefined) data.error = this.error
    return data
  }
}

/** Receives each trace once its root span has ended. */
export type TraceListener = (trace: Trace) => void

/** The spans of one request, rooted in its outermost scope. */
export class Trace {
  /** 32 hex digits, as in W3C trace context. */
  readonly id: string
  readonly spans: Span[] = []
  readonly #onFinish: TraceListener | undefined
  readonly #spanIdBase: bigint
  #nextSpan = 0n

  /** The caller's span in another process, when this trace continues a remote one. */
  readonly remoteParentId: string | undefined

  constructor(
    onFinish?: TraceListener,
    id: string = randomBytes(16).toString('hex'),
    remoteParentId?: string,
  ) {
    this.id = id
    this.remoteParentId = remoteParentId
    this.#onFinish = onFinish
    // Span ids only need to be unique within their trace: a random base plus a counter is as good
    // as 8 random bytes per span, and much cheaper.
    this.#spanIdBase = randomBytes(8).readBigUInt64BE() & 0xffff_ffff_ff00_0000n
  }

  /** The span with no parent: the request's outermost scope. */
  get root(): Span | undefined {
    return this.spans[0]
  }

  /** Opens the trace's root span (the request's outermost scope). */
  startRoot(name: string, kind: SpanKind = 'scope'): Span {
    return new Span(this, undefined, name, kind)
  }

  nextSpanId(): string {
    this.#nextSpan += 1n
    return ((this.#spanIdBase + this.#nextSpan) & 0xffff_ffff_ffff_ffffn).toString(16).padStart(16, '0')
  }

  finish(): void {
    try {
      this.#onFinish?.(this)
    } catch (error) {
      // A listener observes the request; its bug must not fail or hang the request it observed.
      process.emitWarning(
        `weft: a trace listener threw: ${error instanceof Error ? error.stack : String(error)}`,
      )
    }
  }

  toJSON(): TraceData {
    return { traceId: this.id, spans: this.spans.map((span) => span.toJSON()) }
  }
}
