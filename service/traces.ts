/**
 * The recent traces of this process, for `/_weft/traces` (the list) and `/_weft/traces/:id` (what the
 * `X-Trace-Id` header of an answer points to): a bounded ring, the oldest forgotten first.
 *
 * One request's trace arrives in parts: the request itself, the geocoder's side of its RPC when the
 * geocoder runs in this process, and later the worker's deliveries of the tasks it enqueued (each
 * continues the request's trace). The parts are kept together under the trace id.
 *
 * Sampling is decided at the tail, once the request has finished, because only then is it known
 * whether it failed or was slow: errors, cancellations and requests of `slowMs` or more are always
 * kept, the others with probability `sampleRate` and at most `perSecond` a second. That bound is what
 * keeps tracing cheap under load: a kept trace is compacted and outlives many young-generation
 * collections (about 90 µs a search at 1,300 a second, against 0 for a trace let go at once), and a
 * ring of the last 200 of 1,300 a second would show a human only the last 150 ms anyway; at 10 a
 * second it shows the last 20 s. A dropped trace's late parts are dropped too: a
 * part continuing a request is kept only with its request. When the ring is full, the oldest trace
 * goes, but the notable ones (failed, cancelled, slow) are passed over while they hold no more than
 * half of it.
 *
 * Recording every request costs it its spans, whether it is kept or not (a search in memory, eight
 * at a time: about a tenth of its CPU). `TRACE_RECORD_PER_SECOND` bounds how many are recorded at all
 * (head sampling, before the request runs); a search not recorded that fails, is cancelled or is
 * slow is still kept, as a trace of its one span ({@link TraceStore.untraced}).
 */
import { Allowance, type CompactTrace, clock, isAbort, type SpanData, Trace } from 'weft'
import type { Config } from './config.ts'

/** How a request ended, as its root span says. */
export type TraceOutcome = 'ok' | 'error' | 'cancelled'

/** The outcomes `list` can filter on. */
export const traceOutcomes: readonly TraceOutcome[] = ['ok', 'error', 'cancelled']

/** Why a trace was kept. */
export type KeptBecause = 'error' | 'cancelled' | 'slow' | 'sampled'

/** One recent request, as the list of traces shows it. */
export interface TraceSummary {
  traceId: string
  /** The root span's name: the request's method and route, `GET /search`. */
  name: string
  /** The request's query string, decoded (`q=lisb&limit=10`), when its root span recorded `url.query`. */
  query?: string
  status: TraceOutcome
  /** The request's duration in milliseconds (its root span's). */
  duration: number
  /** When it started, epoch milliseconds. */
  start: number
  /** The spans of every part recorded so far (the worker's deliveries may add more later). */
  spans: number
  kept: KeptBecause
}

/** Options of {@link TraceStore}; see the module comment. */
export interface TraceStoreOptions {
  /**
   * How many traces to keep. Default 200. Requests under way (announced by `begin`) are held apart,
   * at most as many again: they never push a kept trace out.
   */
  capacity?: number
  /** The fraction of ordinary requests kept, from 0 to 1. Default 1 (all). */
  sampleRate?: number
  /**
   * Ordinary requests kept at most this many a second, on weft's clock: a burst of that many, then
   * that many a second. Default 10; Infinity for no bound.
   */
  perSecond?: number
  /** A request taking this many milliseconds or more is kept whatever the sampling says. Default 500. */
  slowMs?: number
  /** Uniform in [0, 1): the sampling's coin. Default Math.random (tests inject their own). */
  random?: () => number
  /**
   * Requests whose trace is never kept, by their root span's name. Default: the trace pages' own
   * (`/_weft/...`) and the probes (`/healthz`, `/metrics`), which would otherwise crowd out the
   * requests one comes to look at.
   */
  ignore?: (name: string) => boolean
}

const unrecorded = /^[A-Z]+ \/(?:_weft\/|healthz$|metrics$)/

/** The parts of one trace id so far; `request` once the request (the part that began it) has finished. */
interface Entry {
  /**
   * Kept compactly (`Trace.compact()`: a few arrays, not an object per span, so that keeping the
   * last `capacity` requests costs the garbage collector little), and turned into data only when
   * asked for: most traces never are.
   */
  parts: (CompactTrace | Trace)[]
  request: Kept | undefined
  waiters: (() => void)[] | undefined
}

/** What the list shows of a request kept, but its query still as recorded (decoded when listed). */
type Kept = Omit<TraceSummary, 'spans' | 'query'> & { rawQuery: string | undefined }

/** The store `TRACE_CAPACITY`, `TRACE_SAMPLE_RATE`, `TRACE_KEEP_PER_SECOND` and `TRACE_SLOW_MS` ask for. */
export function traceStoreFor(
  config: Pick<Config, 'traceCapacity' | 'traceSampleRate' | 'traceKeepPerSecond' | 'traceSlowMs'>,
) {
  return new TraceStore({
    capacity: config.traceCapacity,
    sampleRate: config.traceSampleRate,
    perSecond: config.traceKeepPerSecond,
    slowMs: config.traceSlowMs,
  })
}

/** A bounded, sampled store of recent traces; see the module comment. */
export class TraceStore {
  readonly #capacity: number
  readonly #sampleRate: number
  readonly #slowMs: number
  readonly #random: () => number
  readonly #ignore: (name: string) => boolean
  /** The requests kept, oldest first. */
  readonly #entries = new Map<string, Entry>()
  /**
   * The requests under way that `begin` announced, oldest first, with the parts of their traces that
   * came first (the geocoder's side of an RPC served in this process). Apart from the kept ones:
   * counted with them, a request announced while the store was full pushed out a kept trace, though
   * most are not kept once they end, so that a burst of N requests under way at once cost the store
   * its N oldest kept traces (as many requests as `capacity` at once, all of them).
   */
  readonly #underWay = new Map<string, Entry>()
  /** How many of the entries are notable (see {@link notable}). */
  #notable = 0
  /** The ordinary requests that may still be kept (see `perSecond`). */
  readonly #allowance: Allowance

  constructor(options: TraceStoreOptions = {}) {
    checkOptions(options)
    const {
      capacity = 200,
      sampleRate = 1,
      perSecond = 10,
      slowMs = 500,
      random = Math.random,
      ignore = (name) => unrecorded.test(name),
    } = options
    this.#capacity = capacity
    this.#sampleRate = sampleRate
    this.#allowance = new Allowance(perSecond)
    this.#slowMs = slowMs
    this.#random = random
    this.#ignore = ignore
  }

  /** A trace listener (`configureTracing({ onTrace })`) that stores each trace part. */
  readonly add = (trace: Trace): void => {
    if (trace.remoteParentId !== undefined) {
      // A part continuing a request (an RPC served here, a task delivered): it belongs with its
      // request, if that is kept or still running; alone it is not a request to list.
      ;(this.#entries.get(trace.id) ?? this.#underWay.get(trace.id))?.parts.push(trace.compact())
      return
    }
    // A request's own trace id was drawn in this process (one that continues a remote trace has a
    // remote parent, above): the only entry it can have is the one `begin` made.
    const request = this.#keep(trace)
    if (request === undefined) {
      this.#forget(trace.id, this.#underWay)
      return
    }
    const begun = this.#underWay.get(trace.id)
    if (begun !== undefined) this.#underWay.delete(trace.id)
    const entry = this.#entry(trace.id, begun)
    entry.parts.push(trace.compact())
    this.#notable += Number(notable(request)) - Number(notable(entry.request))
    entry.request = request
    wakeAll(entry)
  }

  /**
   * Runs `serve`, a request that tracing does not record (over `TRACE_RECORD_PER_SECOND`: see
   * `configureTracing`'s `perSecond`), named `name` (`GET /search`), for `url`. When it fails,
   * is cancelled or is slow, it is kept all the same, as a trace of its one span (no backend calls:
   * nothing recorded them), from when `serve` began to when it settled, with `weft.recorded` false;
   * otherwise it costs little more than two clock reads.
   */
  async untraced<T>(name: string, url: string, serve: () => Promise<T>): Promise<T> {
    const start = clock().now()
    let failed = false
    let error: unknown
    try {
      return await serve()
    } catch (thrown) {
      failed = true
      error = thrown
      throw thrown
    } finally {
      if (failed || clock().now() - start >= this.#slowMs) {
        const trace = new Trace()
        const root = trace.open(undefined, name, 'server', start)
        root.setAttributes({ 'url.query': queryOf(url), 'weft.recorded': false })
        if (failed) root.finish(isAbort(error) ? 'cancelled' : 'error', error)
        else root.finish('ok')
        this.add(trace)
      }
    }
  }

  /** Announces a request under way, so that `get` waits for its trace rather than answering none. */
  begin(id: string): void {
    if (this.#entries.has(id) || this.#underWay.has(id)) return
    this.#underWay.set(id, { parts: [], request: undefined, waiters: undefined })
    // A request whose trace never came (its listener was not this store): the oldest goes.
    if (this.#underWay.size > this.#capacity)
      this.#forget(this.#underWay.keys().next().value as string, this.#underWay)
  }

  /**
   * The spans recorded under `id` once the request that began the trace has finished (waiting up to
   * `waitMs` for a request announced by `begin`), or undefined when there are none.
   */
  async get(id: string, waitMs = 0): Promise<SpanData[] | undefined> {
    let entry = this.#entries.get(id) ?? this.#underWay.get(id)
    if (entry !== undefined && entry.request === undefined && waitMs > 0) {
      const waiting = entry
      await new Promise<void>((resolve) => {
        const timer = clock().setTimeout(resolve, waitMs)
        waiting.waiters ??= []
        waiting.waiters.push(() => {
          clock().clearTimeout(timer)
          resolve()
        })
      })
      entry = this.#entries.get(id)
    }
    const spans = entry?.parts.flatMap((part) => part.toJSON().spans) ?? []
    return spans.length === 0 ? undefined : spans
  }

  /**
   * The finished requests kept, slowest first (the latest first among equals), only those that ended
   * with `status` when given, at most `limit` of them.
   */
  list(filter: { status?: TraceOutcome | undefined; limit?: number | undefined } = {}): TraceSummary[] {
    const { status, limit = Infinity } = filter
    const found: TraceSummary[] = []
    for (const { request, parts } of this.#entries.values()) {
      if (request === undefined || (status !== undefined && request.status !== status)) continue
      const { traceId, name, rawQuery, duration, start, kept } = request
      found.push({
        traceId,
        name,
        ...(rawQuery !== undefined && { query: decodeQuery(rawQuery) }),
        status: request.status,
        duration,
        start,
        spans: parts.reduce((sum, part) => sum + ('size' in part ? part.size : part.spans.length), 0),
        kept,
      })
    }
    return found.sort((a, b) => b.duration - a.duration || b.start - a.start).slice(0, limit)
  }

  /** What the store keeps: see {@link TraceStoreOptions}. */
  get settings(): { capacity: number; sampleRate: number; perSecond: number; slowMs: number } {
    return {
      capacity: this.#capacity,
      sampleRate: this.#sampleRate,
      perSecond: this.#allowance.perSecond,
      slowMs: this.#slowMs,
    }
  }

  /** How many traces the store holds, requests under way included. */
  get size(): number {
    return this.#entries.size + this.#underWay.size
  }

  /** What the list shows of a finished request, or undefined when it is not kept (ignored, or not sampled). */
  #keep(trace: Trace): Kept | undefined {
    const root = trace.root
    if (root === undefined || this.#ignore(root.name)) return undefined
    const status: TraceOutcome = root.status === 'error' || root.status === 'cancelled' ? root.status : 'ok'
    const duration = (root.end ?? clock().now()) - root.start
    const kept: KeptBecause | undefined =
      status !== 'ok'
        ? status
        : duration >= this.#slowMs
          ? 'slow'
          : this.#sampleRate > 0 && this.#random() < this.#sampleRate && this.#allowance.take()
            ? 'sampled'
            : undefined
    if (kept === undefined) return undefined
    const query = root.attributes['url.query']
    return {
      traceId: trace.id,
      name: root.name,
      rawQuery: typeof query === 'string' && query !== '' ? query : undefined,
      status,
      duration,
      start: root.start,
      kept,
    }
  }

  /**
   * Drops what `held` (the kept requests, or those under way) holds under `id`, waking whoever waits
   * for it (they then find nothing).
   */
  #forget(id: string, held: Map<string, Entry>): void {
    const entry = held.get(id)
    if (entry === undefined) return
    held.delete(id)
    this.#notable -= Number(notable(entry.request))
    wakeAll(entry)
  }

  /** The kept entry of `id`, made (from `begun`, the request's entry while under way, if any) if need be. */
  #entry(id: string, begun: Entry | undefined): Entry {
    let entry = this.#entries.get(id)
    if (entry === undefined) {
      entry = begun ?? { parts: [], request: undefined, waiters: undefined }
      this.#entries.set(id, entry)
      if (this.#entries.size > this.#capacity) this.#forget(this.#victim(), this.#entries)
    }
    return entry
  }

  /**
   * The trace to forget when the store is full: the oldest, but passing over failed, cancelled and
   * slow requests while they fill no more than half of it, so that a burst of ordinary requests
   * does not wash away the ones worth looking at (nor can they crowd out everything else).
   */
  #victim(): string {
    const oldest = this.#entries.keys().next().value as string
    if (this.#notable > this.#capacity / 2) return oldest
    for (const [id, entry] of this.#entries) if (!notable(entry.request)) return id
    return oldest
  }
}

function wakeAll(entry: Entry): void {
  const waiters = entry.waiters
  entry.waiters = undefined
  for (const wake of waiters ?? []) wake()
}

/** A request kept whatever the sampling: failed, cancelled or slow. */
function notable(request: Entry['request']): boolean {
  return request !== undefined && request.kept !== 'sampled'
}

function checkOptions(options: TraceStoreOptions): void {
  const fail = (what: string, expected: string, value: unknown): never => {
    throw new TypeError(`TraceStore: options.${what} must be ${expected}, got ${String(value)}`)
  }
  const { capacity, sampleRate, perSecond, slowMs, random, ignore } = options
  if (capacity !== undefined && !(Number.isInteger(capacity) && capacity >= 1))
    fail('capacity', 'a whole number of at least 1', capacity)
  if (sampleRate !== undefined && !(typeof sampleRate === 'number' && sampleRate >= 0 && sampleRate <= 1))
    fail('sampleRate', 'a number from 0 to 1', sampleRate)
  if (perSecond !== undefined && !(typeof perSecond === 'number' && perSecond >= 0))
    fail('perSecond', 'a number, 0 or more (Infinity for no bound)', perSecond)
  if (slowMs !== undefined && !(typeof slowMs === 'number' && slowMs >= 0))
    fail('slowMs', 'a number of milliseconds, 0 or more', slowMs)
  if (random !== undefined && typeof random !== 'function') fail('random', 'a function', random)
  if (ignore !== undefined && typeof ignore !== 'function') fail('ignore', 'a function', ignore)
}

/** The query string of a request's `url` (`/search?q=lisb` → `q=lisb`), as traces record it; '' for none. */
export function queryOf(url: string): string {
  return url.split('?')[1] ?? ''
}

/** `q=s%C3%A3o+p&limit=10` as `q=são p&limit=10`: how the list shows what was asked. */
export function decodeQuery(query: string): string {
  return [...new URLSearchParams(query)].map(([key, value]) => `${key}=${value}`).join('&')
}
