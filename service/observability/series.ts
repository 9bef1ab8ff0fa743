/**
 * Prometheus counters and histograms for the request path, read by a prom-client registry.
 *
 * Why not prom-client's own: its `labels(...)` children validate and hash their label values again
 * on every `inc` and `observe` (about a microsecond each), and a search makes dozens of backend
 * calls. Here a label set is resolved once, to a {@link CounterChild} or {@link HistogramChild} that
 * the caller keeps: counting is then an addition, observing a search through the buckets. The
 * registry reads them through `get()`, the interface its own metrics implement, so the exposition
 * text is prom-client's.
 */
import type { Metric, Registry } from 'prom-client'

/** What both kinds are configured with. */
export interface SeriesConfiguration<L extends string> {
  name: string
  help: string
  labelNames: readonly L[]
  /** The registry that exposes it. */
  registry: Registry
}

/** One label set of a {@link CounterSeries}. */
export class CounterChild {
  value = 0

  inc(by = 1): void {
    this.value += by
  }

  reset(): void {
    this.value = 0
  }
}

/** One label set of a {@link HistogramSeries}: a count per bucket (the last for +Inf), a sum, a count. */
export class HistogramChild {
  readonly counts: Float64Array
  sum = 0
  count = 0
  readonly #bounds: readonly number[]

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds
    this.counts = new Float64Array(bounds.length + 1)
  }

  observe(value: number): void {
    const bounds = this.#bounds
    let bucket = 0
    while (bucket < bounds.length && value > (bounds[bucket] as number)) bucket++
    this.counts[bucket] = (this.counts[bucket] as number) + 1
    this.sum += value
    this.count += 1
  }

  reset(): void {
    this.counts.fill(0)
    this.sum = 0
    this.count = 0
  }
}

interface Sample {
  metricName?: string
  labels: Record<string, string | number>
  value: number
}

/** What the series have in common: label sets resolved once, kept by their values. */
abstract class Series<L extends string, Child extends { reset(): void }> {
  readonly name: string
  readonly help: string
  readonly aggregator = 'sum'
  readonly #labelNames: readonly L[]
  /**
   * Children by their label values: a Map per label, nested in the order of `labelNames`, so that
   * finding a child builds no key (a string joined from the values, then hashed, on every request).
   */
  readonly #byValues = new Map<string, unknown>()
  readonly #children: { labels: Record<string, string>; child: Child }[] = []

  constructor({ name, help, labelNames, registry }: SeriesConfiguration<L>) {
    this.name = name
    this.help = help
    this.#labelNames = labelNames
    registry.registerMetric(this as unknown as Metric)
  }

  abstract readonly type: 'counter' | 'histogram'

  /** The child of these label values (in the order of `labelNames`): keep it, and count with it. */
  labels(...values: string[]): Child {
    if (values.length !== this.#labelNames.length) {
      throw new TypeError(
        `${this.name}: ${this.#labelNames.length} label values wanted, got ${values.length}`,
      )
    }
    let level = this.#byValues
    for (let i = 0; i < values.length - 1; i++) {
      const value = values[i] as string
      let next = level.get(value) as Map<string, unknown> | undefined
      if (next === undefined) {
        next = new Map()
        level.set(value, next)
      }
      level = next
    }
    const last = values[values.length - 1] ?? ''
    let child = level.get(last) as Child | undefined
    if (child === undefined) {
      child = this.newChild()
      const labels = Object.fromEntries(this.#labelNames.map((name, i) => [name, values[i] as string]))
      this.#children.push({ labels, child })
      level.set(last, child)
    }
    return child
  }

  /**
   * Zeroes every label set (the registry's `resetMetrics`). Unlike prom-client's, which forgets them,
   * so that the children handed out keep counting where the registry reads.
   */
  reset(): void {
    for (const { child } of this.#children) child.reset()
  }

  /** The samples, as prom-client's registry reads them from its own metrics. */
  get(): { name: string; help: string; type: string; aggregator: string; values: Sample[] } {
    const values: Sample[] = []
    for (const { labels, child } of this.#children) this.samples(labels, child, values)
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  protected abstract newChild(): Child
  protected abstract samples(labels: Record<string, string>, child: Child, into: Sample[]): void
}

/** A counter (see the module comment). */
export class CounterSeries<L extends string> extends Series<L, CounterChild> {
  readonly type = 'counter'

  protected newChild(): CounterChild {
    return new CounterChild()
  }

  protected samples(labels: Record<string, string>, child: CounterChild, into: Sample[]): void {
    into.push({ labels, value: child.value })
  }
}

/** A histogram (see the module comment): cumulative `_bucket` samples, `_sum` and `_count`. */
export class HistogramSeries<L extends string> extends Series<L, HistogramChild> {
  readonly type = 'histogram'
  readonly #bounds: readonly number[]

  constructor(configuration: SeriesConfiguration<L> & { buckets: readonly number[] }) {
    // Checked before the registry sees it: a refused histogram must not stay registered.
    const bounds = [...configuration.buckets].sort((a, b) => a - b)
    if (bounds.some((bound, i) => !Number.isFinite(bound) || bound === bounds[i - 1])) {
      throw new TypeError(
        `${configuration.name}: buckets must be distinct finite numbers, got ${configuration.buckets}`,
      )
    }
    super(configuration)
    this.#bounds = bounds
  }

  protected newChild(): HistogramChild {
    return new HistogramChild(this.#bounds)
  }

  protected samples(labels: Record<string, string>, child: HistogramChild, into: Sample[]): void {
    let cumulative = 0
    const bucketName = `${this.name}_bucket`
    this.#bounds.forEach((bound, i) => {
      cumulative += child.counts[i] as number
      into.push({ metricName: bucketName, labels: { le: bound, ...labels }, value: cumulative })
    })
    cumulative += child.counts[this.#bounds.length] as number
    into.push({ metricName: bucketName, labels: { le: '+Inf', ...labels }, value: cumulative })
    into.push({ metricName: `${this.name}_sum`, labels, value: child.sum })
    into.push({ metricName: `${this.name}_count`, labels, value: child.count })
  }
}
