/**
 * The service's Prometheus metrics, on a prom-client registry of each server's own (tests run several
 * servers in one process); those counted on the request path are series.ts's, which cost a request
 * far less than prom-client's own.
 *
 * Every figure counts every request, whatever fraction of them is traced: they come from where each
 * event happens once, never from traces (a sampled-out request has none). Request latency comes from
 * fastify's `onResponse` hook, labelled by route pattern (`/search`, never the raw URL: label values
 * must stay few); backend calls from a wrapper around the pipeline's {@link Backends} calls (one
 * timing per call, ok / error / cancelled); the loaders' batching from weft's per-request
 * `loaderStats`; memcache's per-shard batches and hits and the database's round trips from the
 * clients' own cumulative counters, read at scrape time (they cost the requests nothing); the queue's
 * depth and age from the queue, at scrape time.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client'
import { isAbort, systemClock } from 'weft'
import { loaderStats } from 'weft/batch'
import type { Memcache } from 'weft/memcache'
import type { TaskQueue } from 'weft/queue'
import type { Database } from 'weft/sql'
import { type BackendName, type Backends, type Call, mapCalls } from '../backend-calls.ts'
import { OverLimit } from '../errors.ts'
import { type CounterChild, CounterSeries, HistogramSeries } from './series.ts'

/** What the metrics read at scrape time; each is optional (a test server may have none). */
export interface MetricsSources {
  /** Its shards' batches, hits and misses. */
  memcache?: Pick<Memcache, 'stats'>
  /** Its round trips and statements. */
  db?: Pick<Database, 'stats'>
  /** Its tasks by name and state, and how long the oldest due task has waited. */
  queue?: Pick<TaskQueue, 'stats' | 'lag'>
  /**
   * The process's own figures too: prom-client's default metrics (CPU, memory, heap, garbage
   * collection, and the event loop's delay: `nodejs_eventloop_lag_max_seconds` is the longest interval
   * between the 10 ms samples of a timer since the last scrape, 10 ms more than the longest it ran
   * late; the first sample after a scrape is not counted). For the service's one server per process:
   * they start monitors that run as long as the process does.
   */
  process?: boolean
}

/** Seconds; from a cached memcache read to a search near its 2 s budget. */
const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

/**
 * The memcache key kinds of the pipeline (`session:<id>`, `network:<ip>`, `aq:<query>`), and `other`
 * for any other key (last): bounded labels.
 */
const cacheKinds = ['session', 'network', 'aq', 'other']

/** The metrics of one server; see the module comment. */
export class ServiceMetrics {
  readonly registry = new Registry()
  // The request path's metrics are series.ts's, whose label sets resolve once: see there why.
  readonly #requests: HistogramSeries<'method' | 'route' | 'status_code'>
  readonly #calls: HistogramSeries<'backend' | 'call' | 'outcome'>
  readonly #callErrors: CounterSeries<'backend' | 'call' | 'error'>
  readonly #cacheLookups: CounterSeries<'cache' | 'result'>
  readonly #loads: CounterChild
  readonly #batches: CounterChild
  readonly #keys: CounterChild
  readonly #rejections: CounterSeries<'limiter'>

  constructor(sources: MetricsSources = {}) {
    const registry = this.registry
    this.#requests = new HistogramSeries({
      name: 'http_request_duration_seconds',
      help: 'HTTP requests by method, route pattern and status, from arrival to the last byte sent',
      labelNames: ['method', 'route', 'status_code'],
      buckets: latencyBuckets,
      registry,
    })
    this.#calls = new HistogramSeries({
      name: 'weft_backend_call_duration_seconds',
      help: "The pipeline's backend calls by backend, call and outcome (ok, error, cancelled)",
      labelNames: ['backend', 'call', 'outcome'],
      buckets: latencyBuckets,
      registry,
    })
    this.#callErrors = new CounterSeries({
      name: 'weft_backend_call_errors_total',
      help: 'Backend calls that failed, by backend, call and error (BackendTimeout, BackendRefused, ...)',
      labelNames: ['backend', 'call', 'error'],
      registry,
    })
    this.#cacheLookups = new CounterSeries({
      name: 'weft_cache_lookups_total',
      help: "The pipeline's memcache reads by what they cache (session, network, aq: attribute queries) and result (hit, miss)",
      labelNames: ['cache', 'result'],
      registry,
    })
    const loader = new CounterSeries({
      name: 'weft_loader_total',
      help: "The loaders' work (count: loads asked for, batches sent, keys in them): keys / batches is the mean batch size",
      labelNames: ['count'],
      registry,
    })
    this.#loads = loader.labels('loads')
    this.#batches = loader.labels('batches')
    this.#keys = loader.labels('keys')
    this.#rejections = new CounterSeries({
      name: 'weft_rate_limit_rejections_total',
      help: 'Searches refused with 503 by a rate limiter, by limiter',
      labelNames: ['limiter'],
      registry,
    })
    if (sources.memcache !== undefined) this.#memcacheCounters(sources.memcache)
    if (sources.db !== undefined) this.#databaseCounters(sources.db)
    if (sources.queue !== undefined) this.#queueGauges(sources.queue)
    // 10 ms, as fine as the deadlines and timeouts the service is judged by.
    if (sources.process === true)
      collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 })
  }

  /** `backends` with every call timed, and memcache reads counted as hits or misses. */
  instrument(backends: Backends): Backends {
    // Every kind's two series exist from the start (at 0, as Prometheus advises for known label
    // sets), so that counting a read is an addition, in the reaction that times it.
    // A key's kind is found by its prefix: no substring made (and hashed) per read.
    const lookups = cacheKinds.map((kind) => ({
      prefix: `${kind}:`,
      hit: this.#cacheLookups.labels(kind, 'hit'),
      miss: this.#cacheLookups.labels(kind, 'miss'),
    }))
    const other = lookups.at(-1) as { hit: CounterChild; miss: CounterChild }
    const countLookup = ([key]: readonly unknown[], value: unknown) => {
      let counters = other
      for (const kind of lookups) {
        if ((key as string).startsWith(kind.prefix)) {
          counters = kind
          break
        }
      }
      ;(value === undefined ? counters.miss : counters.hit).inc()
    }
    return mapCalls(backends, (backend, name, call) =>
      this.#timed(backend, name, call, backend === 'memcache' && name === 'get' ? countLookup : undefined),
    )
  }

  /** Counts a finished request: its latency, its loaders' batching, a rate limiter's refusal. */
  observeRequest(request: FastifyRequest, reply: FastifyReply): void {
    // `routeOptions.url` is the pattern matched; a request no route matched gets one label value.
    const route = request.routeOptions.url ?? 'unmatched'
    this.#requests.labels(request.method, route, String(reply.statusCode)).observe(reply.elapsedTime / 1000)
    const scope = request.scope
    if (scope !== null && scope !== undefined) {
      const stats = loaderStats(scope)
      if (stats.loads > 0) {
        this.#loads.inc(stats.loads)
        this.#batches.inc(stats.batches)
        this.#keys.inc(stats.keys)
      }
    }
  }

  /** Counts a request's failure (fastify's `onError`): a rate limiter's refusal. */
  observeError(error: unknown): void {
    if (error instanceof OverLimit) this.#rejections.labels(error.limiter).inc()
  }

  /** The exposition text, and its content type. */
  async scrape(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() }
  }

  /** `call` timed, and `onValue(args, value)` told each value it answers with. */
  #timed(
    backend: BackendName,
    name: string,
    call: Call,
    onValue?: (args: readonly unknown[], value: unknown) => void,
  ): Call {
    // Resolved once per call site; the outcomes other than ok, the first time they happen.
    const ok = this.#calls.labels(backend, name, 'ok')
    // `.then` with two closures rather than an async function: a search makes ~25 such calls, and an
    // async function's frame and await took ~170 bytes a call more (a micro-benchmark: 464 against 295
    // bytes a call more than the bare call), for no fewer instructions (callgrind, the search in
    // process: 1,603k vs 1,602k a search with metrics, 1,687k vs 1,682k with tracing too). Timed by
    // the real clock whatever clock weft runs on: a latency is the process's own.
    return ((...args: never[]) => {
      const start = systemClock.now()
      let settled: Promise<unknown>
      try {
        settled = call(...args)
      } catch (error) {
        settled = Promise.reject(error) // counted as the rejection it is for an awaiting caller
      }
      return settled.then(
        (value) => {
          ok.observe((systemClock.now() - start) / 1000)
          onValue?.(args, value)
          return value
        },
        (error: unknown) => {
          const cancelled = isAbort(error)
          this.#calls
            .labels(backend, name, cancelled ? 'cancelled' : 'error')
            .observe((systemClock.now() - start) / 1000)
          if (!cancelled) {
            const type = error instanceof Error ? error.name : 'unknown'
            this.#callErrors.labels(backend, name, type).inc()
          }
          throw error
        },
      )
    }) as Call
  }

  #memcacheCounters(memcache: Pick<Memcache, 'stats'>): void {
    // The clients count for themselves; at scrape time their totals are copied (reset, then set).
    const fields = {
      round_trips: 'roundTrips',
      requests: 'requests',
      hits: 'hits',
      misses: 'misses',
    } as const
    new Counter({
      name: 'weft_memcache_total',
      help: 'Per memcache shard (count: round_trips = batches sent, requests = commands in them, hits, misses): requests / round_trips is the mean batch size',
      labelNames: ['shard', 'count'],
      registers: [this.registry],
      collect() {
        this.reset()
        for (const shard of memcache.stats()) {
          for (const [label, field] of Object.entries(fields)) {
            this.labels(shard.address, label).inc(shard[field])
          }
        }
      },
    })
  }

  #databaseCounters(db: Pick<Database, 'stats'>): void {
    new Counter({
      name: 'weft_sql_total',
      help: 'The database client (count: round_trips, statements): statements / round_trips is the mean pipeline size',
      labelNames: ['count'],
      registers: [this.registry],
      collect() {
        this.reset()
        const stats = db.stats()
        this.labels('round_trips').inc(stats.roundTrips)
        this.labels('statements').inc(stats.statements)
      },
    })
  }

  #queueGauges(queue: Pick<TaskQueue, 'stats' | 'lag'>): void {
    new Gauge({
      name: 'weft_queue_tasks',
      help: 'Tasks in the queue by task name and state (queued, active, done, dead)',
      labelNames: ['task', 'state'],
      registers: [this.registry],
      async collect() {
        this.reset()
        for (const [task, counts] of Object.entries(await queue.stats())) {
          for (const [state, count] of Object.entries(counts)) this.labels(task, state).set(count)
        }
      },
    })
    new Gauge({
      name: 'weft_queue_oldest_due_seconds',
      help: 'How long the oldest task due to run has waited for a worker, by task name (0: none waiting)',
      labelNames: ['task'],
      registers: [this.registry],
      async collect() {
        this.reset()
        for (const [task, ms] of Object.entries(await queue.lag())) this.labels(task).set(ms / 1000)
      },
    })
  }
}

/**
 * Registers `GET /metrics` and the hooks feeding `metrics` on `app` (apply to every route: register
 * it on the root instance, before or after the routes).
 */
export function metricsRoutes(app: FastifyInstance, metrics: ServiceMetrics): void {
  app.addHook('onResponse', (request, reply, done) => {
    metrics.observeRequest(request, reply)
    done()
  })
  app.addHook('onError', (_request, _reply, error, done) => {
    metrics.observeError(error)
    done()
  })
  app.get('/metrics', async (_request, reply) => {
    const { contentType, text } = await metrics.scrape()
    return reply.type(contentType).send(text)
  })
}
