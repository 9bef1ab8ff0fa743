// npm run bench:pipeline — does the search pipeline run as fast as its shape allows?
//
// 1. Latency against the critical path. The pipeline on in-memory backends with a fixed latency per
//    backend (memcache 2 ms, database 10 ms, geocoder 20 ms, queue 5 ms, redis 2 ms), one request at a
//    time: p50 and p99 over 200 requests, next to the critical-path lower bound of its dependency
//    graph (service/pipeline-graph.ts), and the same pipeline with every call awaited in turn, next to
//    the sum of its calls' latencies; for a cold cache (a new visitor, nothing cached) and a warm one
//    (a returning visitor repeating a search). Timers overshoot: a bare sleep's overshoot is measured
//    and reported too.
// 2. Round trips per request per backend, on the embedded backends (PGlite, in-process memcache
//    shards and Redis, the in-process geocoder): with batching (the default), without (each SQL and
//    Redis lookup its own statement), and with the calls serialised.
// 3. HTTP load: autocannon, 50 connections for 20 s, on PostgreSQL (the complete data sets), Redis and
//    three memcached servers, against a bare fastify "hello" route in the same run for scale.
//
// Figures go to bench/results/pipeline.json. `--only=latency|roundtrips|http` runs one part.
import autocannon from 'autocannon'
import { scope, sleep, type Trace } from 'weft'
import { embeddedDatabase } from 'weft/sql'
import { countingCalls, sequential, withLatency } from '../service/backend-modes.ts'
import { type BackendName, type Backends, openBackends } from '../service/backends.ts'
import { loadConfig } from '../service/config.ts'
import { type City, citiesDataset } from '../service/data/cities.ts'
import type { IpNetworkRecord } from '../service/data/ip-networks.ts'
import { loadCities, loadIpNetworks } from '../service/data/load.ts'
import { migrate } from '../service/data/migrate.ts'
import { createGeocoder } from '../service/geocoder/geocoder.ts'
import { type MemoryData, memoryBackends } from '../service/memory-backends.ts'
import { type Exchange, type PipelineSettings, type SearchRequest, search } from '../service/pipeline.ts'
import { criticalPathBound, pipelineGraph, type Scenario, sequentialSum } from '../service/pipeline-graph.ts'
import { percentile, printTable, startProcess, stopProcess, withServers, writeResults } from './harness.ts'

const only = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length)
const REQUESTS = 200
const latencies = { memcache: 2, database: 10, geocoder: 20, queue: 5, redis: 2 } satisfies Record<
  BackendName,
  number
>
/** A visitor in Queluz, near Lisbon, on NOS (AS2860); Portuguese and English. */
const visitor = '94.132.0.1'
const languages = ['pt', 'en']
const nos: IpNetworkRecord = { start: 1585709056, end: 1585840127, asn: 2860, org: 'NOS COMUNICACOES, S.A.' }
const settings: PipelineSettings = {
  rateLimits: { limits: { ip: 1e9, network: 1e9, asn: 1e9, global: 1e9 }, window: 60 },
  resultLimit: 1e9,
}
const noExchange: Exchange = { setSessionCookie: () => {}, respond: () => {} }

const round = (value: number, digits = 2): number => Number(value.toFixed(digits))

let requests = 0
function searchRequest(text: string, sessionId?: string): SearchRequest {
  return { requestId: `bench ${++requests}`, ip: visitor, text, limit: 10, languages, sessionId }
}

/** The corpus: the places of Portugal, Spain and the United Kingdom (about 8,000). */
function corpus(): City[] {
  return [...citiesDataset().open().records].filter((city) => ['PT', 'ES', 'GB'].includes(city.country))
}

async function memoryData(cities: City[]): Promise<MemoryData> {
  const geocoder = await createGeocoder()
  return {
    cities,
    networks: [nos],
    locate(ip) {
      const found = geocoder.lookup(ip)
      return (
        found && {
          ip,
          city: found.city,
          region: found.region,
          country: found.country,
          lat: found.lat,
          lon: found.lon,
        }
      )
    },
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Latency against the critical path

interface LatencyFigures {
  p50: number
  p99: number
  mean: number
}

function summary(samples: readonly number[]): LatencyFigures {
  return {
    p50: round(percentile(samples, 50)),
    p99: round(percentile(samples, 99)),
    mean: round(samples.reduce((sum, value) => sum + value, 0) / samples.length),
  }
}

/** REQUESTS searches one at a time, each timed from the call to its settling (step 5 done). */
async function timeRequests(
  data: MemoryData,
  cache: Scenario['cache'],
  serialised: boolean,
): Promise<{ samples: number[]; calls: Record<BackendName, number> }> {
  const samples: number[] = []
  const warm = memoryBackends(data)
  const prepare = (backends: Backends) => {
    const counting = countingCalls(withLatency(backends, latencies))
    return { counting, backends: serialised ? sequential(counting.backends) : counting.backends }
  }
  // The warm visitor has searched before, and memcache holds everything its search needs.
  const first = await scope(() =>
    search(prepare(warm.backends).backends, searchRequest('lisb'), noExchange, settings),
  )
  let calls: Record<BackendName, number> | undefined
  for (let i = 0; i < REQUESTS; i++) {
    const memory = cache === 'cold' ? memoryBackends(data) : warm
    const { counting, backends } = prepare(memory.backends)
    const request = cache === 'cold' ? searchRequest('lisb') : searchRequest('lisb', first.session.id)
    const start = performance.now()
    await scope(() => search(backends, request, noExchange, settings))
    samples.push(performance.now() - start)
    calls ??= counting.counts()
    if (memory !== warm) await memory.close()
  }
  await warm.close()
  return { samples, calls: calls as Record<BackendName, number> }
}

async function latencyPart(data: MemoryData) {
  // What a timer costs beyond its delay: every call on the critical path pays it once.
  const overshoot: number[] = []
  for (let i = 0; i < REQUESTS; i++) {
    const start = performance.now()
    await sleep(2)
    overshoot.push(performance.now() - start - 2)
  }
  const figures = []
  for (const cache of ['cold', 'warm'] as const) {
    const scenario: Scenario = {
      cache,
      visitor: cache === 'cold' ? 'new' : 'returning',
      queries: 5,
      limiters: 4,
    }
    const graph = pipelineGraph(scenario)
    const bound = criticalPathBound(graph, latencies)
    const sum = sequentialSum(graph, latencies)
    const parallel = await timeRequests(data, cache, false)
    const serial = await timeRequests(data, cache, true)
    const p50 = percentile(parallel.samples, 50)
    const serialP50 = percentile(serial.samples, 50)
    const theoretical = sum / bound
    const measured = serialP50 / p50
    figures.push({
      cache,
      visitor: scenario.visitor,
      requests: REQUESTS,
      criticalPathBoundMs: bound,
      sumOfLatenciesMs: sum,
      pipeline: summary(parallel.samples),
      sequential: summary(serial.samples),
      p50OverBound: round(p50 / bound, 3),
      theoreticalRatio: round(theoretical, 3),
      measuredRatio: round(measured, 3),
      measuredShareOfTheoretical: round(measured / theoretical, 3),
      callsPerRequest: parallel.calls,
    })
  }
  printTable(
    figures.map((f) => ({
      cache: f.cache,
      'bound ms': f.criticalPathBoundMs,
      'p50 ms': f.pipeline.p50,
      'p99 ms': f.pipeline.p99,
      'p50/bound': f.p50OverBound,
      'sum ms': f.sumOfLatenciesMs,
      'seq p50 ms': f.sequential.p50,
      'seq p99 ms': f.sequential.p99,
      'ratio theory': f.theoreticalRatio,
      'ratio measured': f.measuredRatio,
    })),
  )
  const timer = {
    sleepMs: 2,
    overshootP50: round(percentile(overshoot, 50), 3),
    overshootP99: round(percentile(overshoot, 99), 3),
  }
  console.log(`a sleep(2) overshoots by ${timer.overshootP50} ms (p50), ${timer.overshootP99} ms (p99)`)
  return { latencies, timer, scenarios: figures }
}

// ---------------------------------------------------------------------------------------------
// 2. Round trips per request per backend

interface RoundTrips {
  memcache: number
  memcacheCalls: number
  database: number
  redis: number
  redisCommands: number
  geocoder: number
  queueEnqueues: number
  queueStatements: number
}

async function roundTripsPart(cities: City[]) {
  const db = embeddedDatabase()
  await migrate(db)
  await loadCities(db, { records: cities, version: 'bench' })
  await loadIpNetworks(db, { records: [nos], version: 'bench' })
  const config = loadConfig({ SESSION_SECRET: 'bench bench bench bench bench bench' })
  const figures: Record<string, Record<string, RoundTrips>> = {}
  for (const mode of ['batching', 'no batching', 'serialised'] as const) {
    const runtime = await openBackends(config, { db, batching: mode !== 'no batching' })
    const backends = mode === 'serialised' ? sequential(runtime.backends) : runtime.backends
    const { memcache } = runtime.resources
    const measure = async (text: string, sessionId?: string, ip = visitor) => {
      const memcacheBefore = memcache.stats()
      const dbBefore = db.stats().roundTrips
      let trace: Trace | undefined
      const answer = await scope({ trace: (finished) => (trace = finished) }, () =>
        search(backends, { ...searchRequest(text, sessionId), ip }, noExchange, settings),
      )
      const spans = (trace as Trace).toJSON().spans
      const memcacheAfter = memcache.stats()
      const sum = (stats: typeof memcacheAfter, key: 'roundTrips' | 'calls') =>
        stats.reduce((total, shard) => total + shard[key], 0)
      const clients = spans.filter((span) => span.kind === 'client')
      const byId = new Map(spans.map((span) => [span.spanId, span]))
      const enqueuing = (span: (typeof spans)[number]): boolean => {
        for (let at = byId.get(span.parentId ?? ''); at !== undefined; at = byId.get(at.parentId ?? '')) {
          if (at.name === 'queue.enqueue') return true
        }
        return false
      }
      const statements = clients.filter((span) => span.name === 'sql.query' && !enqueuing(span)).length
      const trips: RoundTrips = {
        memcache: sum(memcacheAfter, 'roundTrips') - sum(memcacheBefore, 'roundTrips'),
        memcacheCalls: sum(memcacheAfter, 'calls') - sum(memcacheBefore, 'calls'),
        database: statements,
        redis: round(
          clients
            .filter((span) => span.name.startsWith('redis.'))
            .reduce((total, span) => total + 1 / Number(span.attributes['db.operation.batch.size'] ?? 1), 0),
        ),
        redisCommands: clients.filter((span) => span.name.startsWith('redis.')).length,
        geocoder: clients.filter((span) => span.name.startsWith('rpc ')).length,
        queueEnqueues: spans.filter((span) => span.name === 'queue.enqueue' && span.kind === 'producer')
          .length,
        queueStatements: db.stats().roundTrips - dbBefore - statements,
      }
      return { answer, trips }
    }
    // Each mode has backends of its own: its memcache and Redis start empty. A first request (another
    // visitor, another search) warms what is not the request's own: the queue's table, connections.
    await measure('braga', undefined, '85.240.1.1')
    const cold = await measure('lisb')
    const warm = await measure('lisb', cold.answer.session.id)
    figures[mode] = { cold: cold.trips, warm: warm.trips }
    await runtime.close()
  }
  await db.close()
  const rows = Object.entries(figures).flatMap(([mode, byCache]) =>
    Object.entries(byCache).map(([cache, trips]) => ({ mode, cache, ...trips })),
  )
  printTable(rows)
  return figures
}

// ---------------------------------------------------------------------------------------------
// 3. HTTP load

async function load(url: string, requests: autocannon.Request[]) {
  const result = await autocannon({ url, connections: 50, duration: 20, requests })
  return {
    requestsPerSecond: round(result.requests.average, 0),
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    requests: result.requests.total,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
  }
}

const hello = `
import Fastify from 'fastify'
const app = Fastify()
app.get('/hello', async () => ({ hello: 'world' }))
console.log(await app.listen({ host: '127.0.0.1', port: 0 }))
process.once('SIGTERM', () => app.close().then(() => process.exit(0)))
`

function httpPart() {
  return withServers(async (servers) => {
    console.log('loading the complete data sets into PostgreSQL...')
    const service = await startProcess(['service/main.ts'], {
      ...servers,
      PORT: '0',
      GEOCODER_URL: '',
      TRUST_PROXY: '1',
      RATE_LIMITS: 'ip=1000000000,network=1000000000,asn=1000000000,global=1000000000',
      SESSION_SECRET: 'bench bench bench bench bench bench',
    })
    const url = /(http:\/\/\S+)/.exec(service.line)?.[1] as string
    const visitors = ['94.132.0.1', '85.240.1.1', '193.136.1.1', '213.22.0.1', '8.8.8.8']
    const first = await fetch(`${url}/search?q=lisb`, {
      headers: { 'x-forwarded-for': visitors[0] as string },
    })
    const cookie = first.headers.get('set-cookie')?.split(';')[0] as string
    const texts = [
      'lisb',
      'porto',
      'mad',
      'san',
      'lon',
      'bra',
      'coim',
      'sev',
      'fa',
      'new y',
      'par',
      'ber',
      'tok',
      'ro',
      'ams',
    ]
    const requests = texts.map((text, i) => ({
      method: 'GET' as const,
      path: `/search?q=${encodeURIComponent(text)}&limit=10`,
      headers: {
        'x-forwarded-for': visitors[i % visitors.length] as string,
        'accept-language': 'pt-PT,pt;q=0.9,en;q=0.8',
        cookie,
      },
    }))
    console.log('autocannon: 50 connections, 20 s, GET /search (returning visitor, 15 queries, 5 addresses)')
    const searchLoad = await load(url, requests)
    await stopProcess(service.child)

    const bare = await startProcess(['--input-type=module', '-e', hello], {})
    console.log('autocannon: 50 connections, 20 s, GET /hello (bare fastify)')
    const helloLoad = await load(bare.line, [{ method: 'GET', path: '/hello' }])
    await stopProcess(bare.child)
    printTable([
      { route: 'GET /search', ...searchLoad },
      { route: 'GET /hello (bare fastify)', ...helloLoad },
    ])
    return { connections: 50, durationSeconds: 20, search: searchLoad, hello: helloLoad }
  })
}

// ---------------------------------------------------------------------------------------------

const cities = corpus()
const results: Record<string, unknown> = {}
if (only === undefined || only === 'latency') {
  console.log(
    `\n1. latency against the critical path (${REQUESTS} requests each, latencies ${JSON.stringify(latencies)})`,
  )
  results.latency = await latencyPart(await memoryData(cities))
}
if (only === undefined || only === 'roundtrips') {
  console.log('\n2. round trips per request per backend (embedded backends)')
  results.roundTrips = await roundTripsPart(cities)
}
if (only === undefined || only === 'http') {
  console.log('\n3. HTTP load')
  results.http = await httpPart()
}
if (only === undefined) console.log(`\nwrote ${writeResults('pipeline', results)}`)
