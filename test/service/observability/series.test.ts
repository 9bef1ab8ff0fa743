// The request path's counters and histograms: the same exposition text as prom-client's own metrics
// given the same observations, since that is what /metrics promises its scrapers.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Counter, Histogram, Registry } from 'prom-client'
import { CounterSeries, HistogramSeries } from '../../../service/observability/series.ts'

const buckets = [0.001, 0.01, 0.1, 1]

test('a histogram reads as prom-client’s own: cumulative buckets, +Inf, sum and count, per label set', async () => {
  const ours = new Registry()
  const theirs = new Registry()
  const series = new HistogramSeries({
    name: 'call_seconds',
    help: 'Calls',
    labelNames: ['backend', 'outcome'],
    buckets,
    registry: ours,
  })
  const reference = new Histogram({
    name: 'call_seconds',
    help: 'Calls',
    labelNames: ['backend', 'outcome'],
    buckets,
    registers: [theirs],
  })
  const observations: [string, string, number][] = [
    ['sql', 'ok', 0.0004],
    ['sql', 'ok', 0.001], // on a bound: counted in it (le is "less than or equal")
    ['sql', 'ok', 0.05],
    ['sql', 'error', 2],
    ['memcache', 'ok', 0.0002],
    ['memcache', 'ok', 7],
  ]
  for (const [backend, outcome, seconds] of observations) {
    series.labels(backend, outcome).observe(seconds)
    reference.labels(backend, outcome).observe(seconds)
  }
  assert.equal(await ours.metrics(), await theirs.metrics())
})

test('a counter reads as prom-client’s own', async () => {
  const ours = new Registry()
  const theirs = new Registry()
  const series = new CounterSeries({
    name: 'lookups_total',
    help: 'Lookups',
    labelNames: ['cache', 'result'],
    registry: ours,
  })
  const reference = new Counter({
    name: 'lookups_total',
    help: 'Lookups',
    labelNames: ['cache', 'result'],
    registers: [theirs],
  })
  for (const [cache, result, by] of [
    ['session', 'hit', 1],
    ['session', 'miss', 1],
    ['session', 'hit', 3],
  ] as const) {
    series.labels(cache, result).inc(by)
    reference.labels(cache, result).inc(by)
  }
  assert.equal(await ours.metrics(), await theirs.metrics())
})

test('a label set resolves to the same child every time, and labels read back as given', async () => {
  const registry = new Registry()
  const series = new CounterSeries({ name: 'n_total', help: 'N', labelNames: ['a', 'b'], registry })
  assert.equal(series.labels('x', 'y'), series.labels('x', 'y'))
  assert.notEqual(series.labels('x', 'y'), series.labels('xy', ''))
  series.labels('quote"back\\slash', 'new\nline').inc()
  assert.match(await registry.metrics(), /^n_total\{a="quote\\"back\\\\slash",b="new\\nline"\} 1$/m)
})

test('reset zeroes every label set, and the children handed out go on counting', async () => {
  const registry = new Registry()
  const series = new HistogramSeries({ name: 'h_seconds', help: 'H', labelNames: ['a'], buckets, registry })
  const child = series.labels('x')
  child.observe(0.5)
  registry.resetMetrics()
  assert.match(await registry.metrics(), /^h_seconds_count\{a="x"\} 0$/m)
  child.observe(0.05)
  const text = await registry.metrics()
  assert.match(text, /^h_seconds_count\{a="x"\} 1$/m)
  assert.match(text, /^h_seconds_bucket\{le="0.1",a="x"\} 1$/m)
  assert.match(text, /^h_seconds_sum\{a="x"\} 0.05$/m)
})

test('a series nobody counted in shows only its help and type', async () => {
  const registry = new Registry()
  new CounterSeries({ name: 'c_total', help: 'C', labelNames: ['a'], registry })
  assert.equal(await registry.metrics(), '# HELP c_total C\n# TYPE c_total counter\n')
})

test('misuse: a wrong number of label values, and buckets that are not distinct finite numbers', () => {
  const registry = new Registry()
  const series = new CounterSeries({ name: 'c_total', help: 'C', labelNames: ['a'], registry })
  assert.throws(() => series.labels('x', 'y'), /c_total: 1 label values wanted, got 2/)
  assert.throws(
    () => new HistogramSeries({ name: 'h', help: 'H', labelNames: [], buckets: [1, 1], registry }),
    /h: buckets must be distinct finite numbers/,
  )
  assert.throws(
    () => new HistogramSeries({ name: 'h2', help: 'H', labelNames: [], buckets: [Number.NaN], registry }),
    /h2: buckets must be distinct finite numbers/,
  )
  assert.deepEqual(
    registry.getMetricsAsArray().map((metric) => metric.name),
    ['c_total'],
    'the refused histograms are not left registered',
  )
})
