import {
  type AttributeValue,
  SPAN_KINDS,
  SPAN_STATUSES,
  type SpanData,
  type SpanKind,
  type SpanStatus,
} from './model.ts'

type Attributes = Record<string, AttributeValue>

/** Works out attributes of a span when they are read (see `SpanColumns.defer`): a new object each call. */
export type Deferred = () => Attributes

/**
 * The spans of one trace as columns, one entry per span in the order they started (serial 1, the
 * root, at index 0): what a trace records as it goes, and what it keeps once finished.
 *
 * Why columns rather than the span objects' own fields: a span's data is written here while it is
 * fresh in the processor's caches, so a finished trace is kept as a few arrays without walking its
 * spans again (walking the ~70 spans of a search, scattered over the heap, cost ~14 µs, nearly all
 * of it cache misses), and a span object is only a handle (its trace, parent and serial).
 */
export class SpanColumns {
  // Each column is made with its first span's entry rather than empty: V8 makes `[]` an array of
  // small integers, which changes kind at the first name or fractional time, and every push after
  // that met arrays of two kinds and went through the generic builtin (about 100 instructions a span
  // of the 1,340 recording one took, under callgrind).
  #names: string[]
  /** Each span's start and end, epoch ms; the end NaN while it is open. */
  #times: number[]
  /** Each span's parent's serial (0 for the root), kind and status, in one number (see {@link code}). */
  #codes: number[]
  /** Sparse: only spans with attributes have an entry; undefined while none has. */
  #attributes: (Attributes | undefined)[] | undefined
  /** Sparse: attributes still to be worked out, when first read (see {@link defer}). */
  #deferred: (Deferred | undefined)[] | undefined
  #errors: (string | undefined)[] | undefined
  /** How many spans are open. */
  #open: number

  /** Empty, or a copy of `from`. */
  constructor(from?: SpanColumns) {
    if (from === undefined) {
      this.#names = noNames
      this.#times = noNumbers
      this.#codes = noNumbers
      this.#attributes = undefined
      this.#deferred = undefined
      this.#errors = undefined
      this.#open = 0
      return
    }
    this.#names = from.#names.slice()
    this.#times = from.#times.slice()
    this.#codes = from.#codes.slice()
    this.#attributes = from.#attributes?.slice()
    this.#deferred = from.#deferred?.slice()
    this.#errors = from.#errors?.slice()
    this.#open = from.#open
  }

  /** How many spans there are. */
  get size(): number {
    return this.#names.length
  }

  /** Whether every span has ended. */
  get closed(): boolean {
    return this.#open === 0
  }

  /** Records a span opening now (`start`), under the span `parent` (a serial; 0 for none); returns its serial. */
  open(parent: number, name: string, kind: SpanKind, start: number): number {
    this.#open += 1
    const spanCode = code(parent, indexIn(SPAN_KINDS, kind), 0)
    if (this.#names.length === 0) {
      this.#names = [name]
      this.#times = [start, Number.NaN]
      this.#codes = [spanCode]
      return 1
    }
    this.#times.push(start, Number.NaN)
    this.#codes.push(spanCode)
    return this.#names.push(name)
  }

  /**
   * Records the end of span `serial` with `error` (an Error, or any reason) as its message; the first
   * end recorded wins: false when the span had ended already.
   */
  close(serial: number, status: Exclude<SpanStatus, 'unset'>, end: number, error: unknown): boolean {
    const i = serial - 1
    if (!Number.isNaN(this.#times[2 * i + 1])) return false
    this.#open -= 1
    this.#times[2 * i + 1] = end
    this.#codes[i] = (this.#codes[i] as number) + indexIn(SPAN_STATUSES, status)
    if (error !== undefined) {
      this.#errors ??= []
      this.#errors[i] = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
    }
    return true
  }

  name(serial: number): string {
    return this.#names[serial - 1] as string
  }

  kind(serial: number): SpanKind {
    return SPAN_KINDS[Math.floor((this.#codes[serial - 1] as number) / STATUSES) % KINDS] as SpanKind
  }

  /** The serial of the span's parent; 0 for the root. */
  parent(serial: number): number {
    return Math.floor((this.#codes[serial - 1] as number) / (KINDS * STATUSES))
  }

  status(serial: number): SpanStatus {
    return SPAN_STATUSES[(this.#codes[serial - 1] as number) % STATUSES] as SpanStatus
  }

  start(serial: number): number {
    return this.#times[2 * serial - 2] as number
  }

  /** Undefined while the span is open. */
  end(serial: number): number | undefined {
    const end = this.#times[2 * serial - 1] as number
    return Number.isNaN(end) ? undefined : end
  }

  error(serial: number): string | undefined {
    return this.#errors?.[serial - 1]
  }

  /** The span's attributes when it has any, without making an object when it has none. */
  attributesIfAny(serial: number): Attributes | undefined {
    if (this.#deferred !== undefined) this.#workOut(serial)
    return this.#attributes?.[serial - 1]
  }

  /** The span's attributes, made (empty) when it has none yet. */
  attributes(serial: number): Attributes {
    if (this.#deferred !== undefined) this.#workOut(serial)
    this.#attributes ??= []
    let own = this.#attributes[serial - 1]
    if (own === undefined) {
      own = {}
      this.#attributes[serial - 1] = own
    }
    return own
  }

  /**
   * Adds `attributes` to span `serial`'s. A span with none yet gets a copy of the object as it is:
   * one copy of a literal's shape, rather than a property added (and the object's shape changed) at
   * a time.
   */
  setAttributes(serial: number, attributes: Attributes): void {
    this.#add(serial, attributes, true)
  }

  /** As {@link setAttributes}, but a span with none yet takes `attributes` itself (see `Span.adoptAttributes`). */
  adoptAttributes(serial: number, attributes: Attributes): void {
    this.#add(serial, attributes, false)
  }

  /**
   * Adds the attributes `compute` returns to span `serial`'s when they are first read (once; a later
   * call replaces one not yet read). For what costs more to work out than most traces are worth: a
   * trace is usually dropped unread once its request has ended.
   */
  defer(serial: number, compute: Deferred): void {
    this.#deferred ??= []
    this.#deferred[serial - 1] = compute
  }

  #workOut(serial: number): void {
    const compute = (this.#deferred as (Deferred | undefined)[])[serial - 1]
    if (compute === undefined) return
    ;(this.#deferred as (Deferred | undefined)[])[serial - 1] = undefined
    this.#add(serial, compute(), false)
  }

  #add(serial: number, attributes: Attributes, copy: boolean): void {
    this.#attributes ??= []
    const own = this.#attributes[serial - 1]
    if (own === undefined) this.#attributes[serial - 1] = copy ? { ...attributes } : attributes
    else Object.assign(own, attributes)
  }

  /** Span `serial` as data, with the ids of `trace`. */
  data(serial: number, trace: TraceIds): SpanData {
    const parent = this.parent(serial)
    const data: SpanData = {
      traceId: trace.id,
      spanId: trace.spanIdOf(serial),
      parentId: parent === 0 ? trace.remoteParentId : trace.spanIdOf(parent),
      name: this.name(serial),
      kind: this.kind(serial),
      start: this.start(serial),
      end: this.end(serial),
      status: this.status(serial),
      attributes: { ...this.attributesIfAny(serial) },
    }
    const error = this.error(serial)
    if (error !== undefined) data.error = error
    return data
  }

  /** Every span as data, with the ids of `trace`. */
  toJSON(trace: TraceIds): SpanData[] {
    const spans: SpanData[] = []
    for (let serial = 1; serial <= this.size; serial++) spans.push(this.data(serial, trace))
    return spans
  }
}

/** What a span's data takes from its trace: the trace's id, the remote parent, the span ids. */
export interface TraceIds {
  readonly id: string
  readonly remoteParentId: string | undefined
  spanIdOf(serial: number): string
}

const KINDS = SPAN_KINDS.length
const STATUSES = SPAN_STATUSES.length

/**
 * The index of `value` in `list`: a loop the compiler inlines (the common kinds and statuses come
 * first). `indexOf` is a builtin call, and a lookup table was a megamorphic property read: either
 * cost about 40 instructions more a span.
 */
function indexIn<T>(list: readonly T[], value: T): number {
  for (let i = 0; i < list.length; i++) if (list[i] === value) return i
  return -1
}

/** The columns of a trace with no span yet (never written: `open` makes each with its first entry). */
const noNames: string[] = []
const noNumbers: number[] = []

/**
 * A span's parent, kind and status as one number. A double holds it exactly while the parent's
 * serial stays below 2^48: far beyond any trace a process can hold (that many spans would take
 * petabytes).
 */
function code(parent: number, kind: number, status: number): number {
  return (parent * KINDS + kind) * STATUSES + status
}
