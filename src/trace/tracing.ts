import { Allowance } from '../core/allowance.ts'
import { ambient } from '../core/node.ts'
import { type AttributeValue, type Span, type SpanKind, Trace, type TraceListener } from './span.ts'

/** Process-wide tracing defaults, applied to every request (outermost scope) that does not say otherwise. */
export interface TracingOptions {
  /** Trace requests at all. Default false: a scope then records nothing and costs one check. */
  enabled?: boolean
  /** Fraction of requests traced, from 0 to 1. Default 1. */
  sampleRate?: number
  /**
   * At most this many new requests traced a second (of those `sampleRate` picks), on weft's clock: a
   * burst of that many, then that many a second. What bounds tracing's cost under load, where a
   * trace store keeps only a few requests a second anyway: below the bound every request is traced,
   * above it the others cost one check. Requests continuing a remote trace, and scopes given their
   * own `trace` option, are traced whatever it says. Default Infinity (no bound).
   */
  perSecond?: number
  /** Receives each finished trace (export it, keep it in a ring, print it). */
  onTrace?: TraceListener
}

interface TracingConfig {
  enabled: boolean
  sampleRate: number
  /** Undefined for no bound. */
  allowance: Allowance | undefined
  onTrace: TraceListener | undefined
}

let config: TracingConfig = { enabled: false, sampleRate: 1, allowance: undefined, onTrace: undefined }

/**
 * Sets the process-wide tracing defaults and returns a function that restores the previous ones.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { configureTracing, scope, type Trace } from 'weft'
 * const traces: Trace[] = []
 * const restore = configureTracing({ enabled: true, onTrace: (trace) => traces.push(trace) })
 * await scope({ name: 'request' }, async (s) => { await s.spawn('work', async () => 42) })
 * restore()
 * assert.deepEqual(traces[0]?.spans.map((span) => span.name), ['request', 'work'])
 * ```
 */
export function configureTracing(options: TracingOptions): () => void {
  const { sampleRate = 1, perSecond = Number.POSITIVE_INFINITY } = options
  if (typeof sampleRate !== 'number' || !(sampleRate >= 0 && sampleRate <= 1)) {
    throw new TypeError(
      `configureTracing(): options.sampleRate must be a number from 0 to 1, got ${String(sampleRate)}`,
    )
  }
  if (options.onTrace !== undefined && typeof options.onTrace !== 'function') {
    throw new TypeError(
      `configureTracing(): options.onTrace must be a function, got ${typeof options.onTrace}`,
    )
  }
  if (typeof perSecond !== 'number' || !(perSecond >= 0)) {
    throw new TypeError(
      `configureTracing(): options.perSecond must be a number, 0 or more (Infinity for no bound), got ${String(perSecond)}`,
    )
  }
  const previous = config
  config = {
    enabled: options.enabled ?? false,
    sampleRate,
    allowance: perSecond === Number.POSITIVE_INFINITY ? undefined : new Allowance(perSecond),
    onTrace: options.onTrace,
  }
  return () => {
    config = previous
  }
}

/** The caller's span when a request continues a trace begun in another process (W3C trace context). */
export interface RemoteParent {
  /** 32 lowercase hex digits. */
  traceId: string
  /** 16 lowercase hex digits: the caller's span, parent of this request's root span. */
  spanId: string
}

/**
 * Decides whether a new request is traced: `explicit` (a scope's `trace` option) wins over the
 * process-wide defaults, and a request that continues a remote trace is traced unless `explicit` is
 * false (the caller sampled it). Returns the new trace, or undefined when the request is not traced.
 */
export function startTrace(
  explicit: boolean | TraceListener | undefined,
  remote?: RemoteParent,
): Trace | undefined {
  if (explicit === false) return undefined
  const listener = typeof explicit === 'function' ? chain(explicit, config.onTrace) : config.onTrace
  const traced =
    explicit !== undefined ||
    remote !== undefined ||
    (config.enabled &&
      (config.sampleRate >= 1 || Math.random() < config.sampleRate) &&
      (config.allowance === undefined || config.allowance.take()))
  return traced ? new Trace(listener, remote?.traceId, remote?.spanId) : undefined
}

function chain(first: TraceListener, second: TraceListener | undefined): TraceListener {
  return second === undefined
    ? first
    : (trace) => {
        first(trace)
        second(trace)
      }
}

/**
 * Opens a span under the ambient one (the running task's or scope's) for an operation that is not a
 * task of its own, such as one backend call or one batch. Returns undefined when the request is not
 * traced, so the caller pays nothing: write `span?.finish('ok')`.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { scope, startSpan } from 'weft'
 * await scope({ trace: true }, async (s) => {
 *   const span = startSpan('memcache.get', 'client', { shard: '127.0.0.1:11211' })
 *   span?.finish('ok')
 *   assert.equal(span?.parent, s.span)
 * })
 * ```
 */
export function startSpan(
  name: string,
  kind: SpanKind = 'internal',
  attributes?: Record<string, AttributeValue>,
): Span | undefined {
  const span = ambient.getStore()?.span?.child(name, kind)
  if (span !== undefined && attributes !== undefined) span.setAttributes(attributes)
  return span
}
