// The search service as bench/observability.ts measures it, on the in-memory backends
// (service/memory-backends.ts: weft's in-process memcache shards and Redis, the corpus in memory, the
// test data), so that a request costs only the service's own CPU and the overhead of observing it
// shows whole; or on real servers, as in production. `parts` says what is observed:
//   trace    weft tracing into the trace store as `npm start` does it: at most 50 searches traced
//            a second (TRACE_RECORD_PER_SECOND's default), the others not recorded at all (a failed
//            or slow one kept as its request alone);
//   traceall with `trace`, every search traced (TRACE_RECORD_PER_SECOND=1000000), as before session 24;
//   metrics  /metrics (observability/metrics.ts);
//   logs     one pino line per request at info, written to /dev/null (the cost of the line, not a disk);
//   otlp     every trace exported over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT;
//   otlp10   a tenth of them (the SDK's OTEL_TRACES_SAMPLER=traceidratio, OTEL_TRACES_SAMPLER_ARG=0.1).
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import type { TraceListener, TracingOptions } from 'weft'
import type { Backends } from '../service/backend-calls.ts'
import { openBackends } from '../service/backends.ts'
import { type Config, defaultTraceRecordPerSecond, loadConfig } from '../service/config.ts'
import { memoryBackends } from '../service/memory-backends.ts'
import { type MetricsSources, ServiceMetrics, serviceLogger } from '../service/observability/index.ts'
import { type OtlpExport, otlpFromEnv } from '../service/observability/otlp.ts'
import { createServer } from '../service/server.ts'
import { traceStoreFor } from '../service/traces.ts'
import { memoryData } from '../test/service/fixtures.ts'

/** What can be observed; see the module comment. */
export type Part = 'trace' | 'traceall' | 'metrics' | 'logs' | 'otlp' | 'otlp10'

/** The parts named by `text`: `off`, `on` (trace, metrics, logs), or a comma-separated list. */
export function partsOf(text: string): Set<Part> {
  if (text === 'off') return new Set()
  return new Set(text.split(',').flatMap((part) => expansions[part] ?? [part]) as Part[])
}

/** The parts a name stands for: `on` for three, `traceall` for `trace` of every search. */
const expansions: Record<string, Part[]> = {
  on: ['trace', 'metrics', 'logs'],
  traceall: ['trace', 'traceall'],
}

/**
 * The process-wide tracing `parts` asks for, traces handed to `onTrace`: for a caller that sets it
 * itself (several servers in one process, each measured in its turn) rather than through the server.
 */
export function tracingOf(parts: Set<Part>, onTrace: TraceListener): TracingOptions {
  if (!parts.has('trace')) return { enabled: false }
  const perSecond = parts.has('traceall') ? Number.POSITIVE_INFINITY : defaultTraceRecordPerSecond
  return { enabled: true, onTrace, perSecond }
}

/**
 * The service with `parts` observed, not listening, and the trace listener of this server alone.
 * Tracing is the process's setting, which the server turns on, handing each trace to every server of
 * the process: a caller measuring without `trace` turns it off (`configureTracing({ enabled: false })`),
 * and one running several servers in a process gives each its own `onTrace` while it measures it.
 */
export async function observedServer(
  parts: Set<Part>,
  on: 'memory' | 'servers' = 'memory',
  forgetting: 'timer' | 'manual' = 'timer',
): Promise<{ app: FastifyInstance; otlp?: OtlpExport; onTrace: TraceListener; forget: () => void }> {
  const benchEnv = {
    PORT: '0',
    TRUST_PROXY: '1',
    SESSION_SECRET: 'bench bench bench bench bench bench',
    RATE_LIMITS: 'ip=1000000000,network=1000000000,asn=1000000000,global=1000000000',
    ...(parts.has('traceall') && { TRACE_RECORD_PER_SECOND: '1000000' }),
  }
  const { config, backends, sources, close, forget } =
    on === 'memory'
      ? await onMemory(loadConfig(benchEnv), forgetting)
      : await onServers(loadConfig({ ...process.env, ...benchEnv }))
  const otlp = parts.has('otlp') || parts.has('otlp10') ? sampledOtlp(parts.has('otlp10')) : undefined
  const traces = traceStoreFor(config)
  const app = await createServer({
    backends,
    config,
    traces,
    metrics: parts.has('metrics') ? new ServiceMetrics(sources) : false,
    logger: parts.has('logs')
      ? serviceLogger({ level: 'info', destination: pino.destination({ dest: '/dev/null', sync: false }) })
      : false,
    ...(otlp !== undefined && { onTrace: otlp.onTrace }),
  })
  app.addHook('onClose', async () => {
    await otlp?.shutdown()
    await close()
  })
  const onTrace: TraceListener = (trace) => {
    traces.add(trace)
    otlp?.onTrace(trace)
  }
  return otlp === undefined ? { app, onTrace, forget } : { app, otlp, onTrace, forget }
}

interface Serving {
  config: Config
  backends: Backends
  sources: MetricsSources
  close: () => Promise<void>
  /** Empties the in-memory queue and sessions (nothing, on servers). */
  forget: () => void
}

/**
 * The in-memory backends. Their queue keeps every task and its dedupe key: forgotten as it goes
 * (every 250 ms, or, `manual`, whenever the caller says), so that the process's memory stays flat
 * over a long run.
 */
async function onMemory(config: Config, forgetting: 'timer' | 'manual'): Promise<Serving> {
  const memory = memoryBackends(await memoryData())
  const emptying = forgetting === 'timer' ? setInterval(memory.forget, 250) : undefined
  return {
    config,
    backends: memory.backends,
    sources: {},
    close: async () => clearInterval(emptying),
    forget: memory.forget,
  }
}

/**
 * The servers named in the environment, as `npm start` opens them (DATABASE_URL, loaded already,
 * MEMCACHE_SERVERS, REDIS_URL), and the geocoder in process. No worker: the tasks wait in the queue
 * (in PostgreSQL), so that each server's CPU is its requests' alone.
 */
async function onServers(config: Config): Promise<Serving> {
  const runtime = await openBackends(config)
  return {
    config,
    backends: runtime.backends,
    sources: runtime.resources,
    close: () => runtime.close(),
    forget: () => {},
  }
}

/**
 * The searches of a returning visitor whose session a first search opened: `search` sends that one
 * (`path`, `headers`) and resolves with its answer's `set-cookie` header.
 */
async function returningVisitor(
  search: (path: string, headers: Record<string, string>) => Promise<string | undefined>,
): Promise<ReturnType<typeof searches>> {
  const cookie = (await search('/search?q=lisb', { 'x-forwarded-for': '94.132.0.1' }))?.split(
    ';',
  )[0] as string
  return searches(cookie)
}

/** The searches of a returning visitor of `app`, sent through fastify's inject. */
export function returningVisitorOf(app: FastifyInstance): Promise<ReturnType<typeof searches>> {
  return returningVisitor(async (path, headers) => {
    const response = await app.inject({ url: path, headers })
    return String(response.headers['set-cookie'] ?? '')
  })
}

/** The searches of a returning visitor of the service listening at `url`, over HTTP. */
export function returningVisitorAt(url: string): Promise<ReturnType<typeof searches>> {
  return returningVisitor(async (path, headers) => (await searchOverHttp(url, path, headers)).cookie)
}

/** Sends one search to the service listening at `url`; its answer's status, body and `set-cookie`. */
export async function searchOverHttp(
  url: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string; cookie: string | undefined }> {
  const response = await fetch(`${url}${path}`, { headers })
  const body = await response.text()
  return { status: response.status, body, cookie: response.headers.get('set-cookie') ?? undefined }
}

/** The searches of a returning visitor (a session, warm caches): 10 queries from 3 addresses. */
export function searches(cookie: string): { path: string; headers: Record<string, string> }[] {
  const visitors = ['94.132.0.1', '85.240.1.1', '8.8.8.8']
  const texts = ['lisb', 'porto', 'braga', 'coimbra', 'faro', 'sintra', 'lis', 'por', 'evora', 'serpa']
  return texts.map((text, i) => ({
    path: `/search?q=${encodeURIComponent(text)}&limit=10`,
    headers: {
      'x-forwarded-for': visitors[i % visitors.length] as string,
      'accept-language': 'pt-PT,pt;q=0.9,en;q=0.8',
      cookie,
    },
  }))
}

/** The OTLP export, of a tenth of the traces when `tenth` (the SDK reads its sampler from the environment). */
function sampledOtlp(tenth: boolean): OtlpExport | undefined {
  if (!tenth) return otlpFromEnv('weft-bench')
  process.env.OTEL_TRACES_SAMPLER = 'traceidratio'
  process.env.OTEL_TRACES_SAMPLER_ARG = '0.1'
  try {
    return otlpFromEnv('weft-bench')
  } finally {
    delete process.env.OTEL_TRACES_SAMPLER
    delete process.env.OTEL_TRACES_SAMPLER_ARG
  }
}
