// npm run bench:observability — what tracing, metrics and logs cost the search service.
//
// The service on the in-memory backends (observability-app.ts: only the service's own CPU, where the
// overhead shows whole) and on real servers (2. below), returning visitors repeating searches, in
// variants: `off` (nothing observed), each part alone, `on` (weft tracing of every request into the
// trace store, /metrics, a log line per request: what `npm start` does), `traceall,metrics` (tracing
// of every search, TRACE_RECORD_PER_SECOND=1000000, and metrics), `on,otlp` (on, plus
// every trace exported over OTLP/HTTP to a receiver process that reads and drops them) and
// `on,otlp10` (a tenth of the traces exported).
// Variants run interleaved, round after round, the order rotating, so that noise on the machine (2
// cores shared with other work) falls on every variant alike; each figure vs off is the median over
// rounds of its ratio to `off` in the same round.
//
// 0. HTTP in turns: each variant two server processes (observability-server.ts), all of them pinned
//    to one CPU; this process sends TURN_CONCURRENCY searches at a time to each in turn, so that the
//    servers share the CPU's speed of the moment (which moves by +-30% from second to second on
//    these machines) and none ever competes with another. A variant's CPU time (all threads of its
//    servers, in ns, from /proc/<pid>/task/*/schedstat) per request, over TURN_REQUESTS requests a
//    round; "vs off" is the median over all rounds of the same round's ratio, and
//    `mainThreadVsOff` the same of the servers' main threads alone (without V8's compiler and
//    collector threads). TURN_SERVER_SETS sets of servers, each started afresh for TURN_ROUNDS
//    rounds, since a server process keeps a bias of its own (see turnsPart); `cpuVsOffBySet` is each
//    set's own median. Run one at a time and 8 at a time (the second closer to a loaded server:
//    its searches, each of a visitor of its own, share memcache batches and turns of the event
//    loop). A server's throughput, when its CPU is what bounds it, is the inverse of this. Variants
//    `off`, `trace,metrics` (what the 10% target is about), `traceall,metrics` (the same with every
//    search traced: TRACE_RECORD_PER_SECOND=1000000) and `on`; not OTLP's, whose exporter
//    works in the background, on the CPU the others share. Two servers of the same variant
//    (`off;off#2`) measure 0.97-0.99 apart one at a time; one set against another, the same
//    variant's median moved by up to 0.12 (session 25): the method's own error.
// 1. HTTP: each variant a server process of its own (observability-server.ts), driven by autocannon:
//    per round, after a second of unmeasured load, the server's CPU time per request (from /proc)
//    under the same fixed load for every variant (RATE requests/s: a server that keeps up does the
//    same work per request whatever else runs on the machine, where a saturated one batches more per
//    turn as it falls behind), then its throughput unbounded (the figure that moves most with the
//    machine's other work). `trace,metrics` among them: the throughput the 10% target is about.
// 2. HTTP over real servers, as in production (PostgreSQL with the complete data sets, three memcached
//    servers, Redis, the geocoder in process): in turns as 0. (the servers on one CPU, the backends
//    and this process on the others), then as 1., `off`, `trace,metrics`, `metrics,logs` and `on`, at
//    SERVER_RATE requests/s. A request then also costs its backends' protocols, as it does for a user.
// 3. In process: the same servers in this process, driven by fastify's inject one search at a time
//    (no sockets, no autocannon), CPU time per request from process.cpuUsage(); tracing switched
//    per variant.
//
// TURN_SERVER_SETS (3), TURN_ROUNDS (10 a set), TURN_REQUESTS (600), TURN_CONCURRENCY (`1,8`), for
// the turns of parts 0 and 2;
// ROUNDS (10), SECONDS a round (2; 6 gives steadier figures), RATE (150), SERVER_RATE (60), and for
// part 3 IN_PROCESS_ROUNDS (30) and IN_PROCESS_MS (600) can be set in the environment. Figures go to
// bench/results/observability.json.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import autocannon from 'autocannon'
import type { FastifyInstance } from 'fastify'
import { configureTracing, type TraceListener } from 'weft'
import { postgres } from 'weft/sql'
import { loadDatasets } from '../service/data/load.ts'
import { migrate } from '../service/data/migrate.ts'
import {
  median,
  printTable,
  requireCommand,
  startProcess,
  stopProcess,
  withServers,
  writeResults,
} from './harness.ts'
import {
  observedServer,
  type Part,
  partsOf,
  returningVisitorAt,
  returningVisitorOf,
  searchOverHttp,
  tracingOf,
} from './observability-app.ts'

const TURN_ROUNDS = Number(process.env.TURN_ROUNDS ?? 10)
const TURN_SERVER_SETS = Number(process.env.TURN_SERVER_SETS ?? 3)
const TURN_REQUESTS = Number(process.env.TURN_REQUESTS ?? 600)
const TURN_CONCURRENCY = (process.env.TURN_CONCURRENCY ?? '1,8').split(',').map(Number)
/** Whether parts 0 and 2 measure in turns (TURNS=0 skips it). */
const IN_TURNS = process.env.TURNS !== '0'
const ROUNDS = Number(process.env.ROUNDS ?? 10)
const SECONDS = Number(process.env.SECONDS ?? 2)
const CONNECTIONS = 20
const RATE = Number(process.env.RATE ?? 150)
/** Unmeasured load on a server before its paced turn (see httpPart). */
const WARM_UP_SECONDS = 1
// VARIANTS='off;on' (with off, the base of the ratios) measures only those, in every part unless
// TURNS=0, IN_MEMORY=0, ON_SERVERS=0 or IN_PROCESS=0, and writes no results file: for trying a
// change. A name may end in `#` and a tag, another server of the same variant: VARIANTS='off;off#2'
// checks how far apart the method puts two copies of the same thing.
// A variant may end in `@base`: its server runs from the checkout at BASELINE (say a git worktree of
// an earlier commit, its node_modules linked), so that a change and what came before it are measured
// side by side in the same rounds; `on@base` is compared with `off@base`. In process, both copies
// then run in this one process, and a variant measured in both checkouts (`on` and `on@base`) also
// gets its ratio to its base, the most precise measure of what a change costs or saves; there `off`
// may be left out (VARIANTS='trace;trace@base'), for that ratio alone.
const chosen = process.env.VARIANTS?.split(';')
const BASELINE = process.env.BASELINE
const httpVariants = chosen ?? [
  'off',
  'trace,metrics',
  'traceall,metrics',
  'metrics,logs',
  'on',
  'on,otlp10',
  'on,otlp',
]
const serverVariants = chosen ?? ['off', 'trace,metrics', 'traceall,metrics', 'metrics,logs', 'on']
const turnVariants = chosen ?? ['off', 'trace,metrics', 'traceall,metrics', 'on']
const SERVER_RATE = Number(process.env.SERVER_RATE ?? 60)
// In process there are no sockets and no other process: many short rounds, so that a burst of other
// work on the machine spoils a few of them rather than the comparison (rounds of 150 requests, as
// before, spread from 0.17x to 1.96x for the same code).
const IN_PROCESS_ROUNDS = Number(process.env.IN_PROCESS_ROUNDS ?? 30)
const IN_PROCESS_MS = Number(process.env.IN_PROCESS_MS ?? 600)
const inProcessVariants = chosen ?? [
  'off',
  'trace',
  'traceall,metrics',
  'metrics',
  'logs',
  'metrics,logs',
  'on',
  'on,otlp10',
  'on,otlp',
]

const round = (value: number, digits = 3): number => Number(value.toFixed(digits))
/**
 * Median over rounds of `values[i] / base[i]`, with the extremes; and the ratio of the least values,
 * the estimate least disturbed by other work on the machine (which only ever adds CPU time).
 */
function ratios(values: number[], base: number[]) {
  const each = values.map((value, i) => value / (base[i] as number))
  return {
    median: round(median(each)),
    min: round(Math.min(...each)),
    max: round(Math.max(...each)),
    ofLeast: round(Math.min(...values) / Math.min(...base)),
  }
}

/** CPU time of a process: all its threads, and its main thread alone. */
interface ThreadsCpu<T = number> {
  all: T
  main: T
}

/**
 * CPU milliseconds a process has used so far: all its threads (V8's collector and compiler threads
 * too), and its main thread alone (JavaScript, and the collector's work there), in one pass over
 * /proc's scheduler statistics: nanoseconds, where /proc/<pid>/stat counts 10 ms ticks.
 */
function cpuMs(pid: number): ThreadsCpu {
  let all = 0
  let main = 0
  for (const thread of readdirSync(`/proc/${pid}/task`)) {
    try {
      const ns = Number(readFileSync(`/proc/${pid}/task/${thread}/schedstat`, 'utf8').split(' ')[0])
      all += ns
      if (thread === String(pid)) main = ns
    } catch {
      // The thread ended between the listing and the read: its time is in no one's count any more.
    }
  }
  return { all: all / 1e6, main: main / 1e6 }
}

/** An OTLP/HTTP receiver, as a process of its own, that reads each export and drops it. */
const sinkScript = `
import { createServer } from 'node:http'
const server = createServer((request, response) => {
  request.resume()
  request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end('{}'))
})
server.listen(0, '127.0.0.1', () => console.log('http://127.0.0.1:' + server.address().port))
process.once('SIGTERM', () => process.exit(0))
`

// ---------------------------------------------------------------------------------------------
// The variants as server processes (parts 0, 1 and 2)

interface Served {
  name: string
  url: string
  pid: number
  stop: () => Promise<void>
  requests: autocannon.Request[]
}

/**
 * What variant `name` observes (`on` for `on@base` or `on#2`), and the checkout it runs from when
 * not this one.
 */
function variantOf(name: string): { observe: string; checkout: string | undefined } {
  const [observe = name, checkout] = (name.split('#')[0] as string).split('@')
  if (checkout !== undefined && (checkout !== 'base' || BASELINE === undefined)) {
    throw new Error(`variant ${name}: only @base is known, and it needs BASELINE (a checkout to run)`)
  }
  return { observe, checkout: checkout === undefined ? undefined : BASELINE }
}

async function serve(name: string, env: Record<string, string>): Promise<Served> {
  const { observe, checkout } = variantOf(name)
  const { child, line } = await startProcess(
    ['bench/observability-server.ts'],
    { OBSERVE: observe, ...env },
    checkout,
  )
  const url = line.trim()
  return {
    name,
    url,
    pid: child.pid as number,
    stop: () => stopProcess(child),
    requests: await visitorRequests(url),
  }
}

/** The searches of a new returning visitor of the service at `url`, as autocannon's requests. */
async function visitorRequests(url: string): Promise<autocannon.Request[]> {
  const requests = await returningVisitorAt(url)
  return requests.map((request) => ({ method: 'GET' as const, ...request }))
}

/** The variant a variant is compared with: `off` of the same checkout. */
function offOf(variant: string): string {
  return variant.endsWith('@base') ? 'off@base' : 'off'
}

// ---------------------------------------------------------------------------------------------
// 0. HTTP in turns

/**
 * `variants` as server processes pinned to one CPU, sent searches in turns (see the module comment),
 * for each of `concurrencies`: CPU ms per request and its ratio to off. TURN_SERVER_SETS sets of
 * servers in turn, each started afresh and measured TURN_ROUNDS rounds: a server process keeps a
 * bias of its own for its whole life (presumably its heap's and compiled code's layout: nothing it
 * reports shows it), up to a tenth, larger than the noise between rounds. Two runs of part 0 with
 * one set each put the same code (tracing on, recording nothing: metrics' instructions within 0.2%)
 * at 0.99 and 1.11 of `off`, where the 30 rounds of either run held its median to about ±0.03
 * (bench/HISTORY.md, session 25). Only new servers average that bias out.
 */
async function turnsPart(variants: string[], concurrencies: number[], env: Record<string, string> = {}) {
  requireCommand('taskset', 'bench:observability (part 0; TURNS=0 skips it)', 'util-linux')
  // Per concurrency, each set's rounds (see measureTurns).
  const sets = new Map(concurrencies.map((concurrency) => [concurrency, [] as RoundsCpu[]]))
  for (let set = 0; set < TURN_SERVER_SETS; set++) {
    const servers = await pinnedServers(variants, env)
    try {
      for (const concurrency of concurrencies) {
        sets.get(concurrency)?.push(await measureTurns(servers, concurrency))
      }
    } finally {
      await Promise.all(servers.map((server) => server.stop()))
    }
  }
  const rows = []
  for (const [concurrency, ofSets] of sets) {
    for (const name of variants) {
      /** The rounds of every set, of variant `of`: all threads', and the main thread's. */
      const rounds = (of: string, thread: keyof ThreadsCpu) =>
        ofSets.flatMap((set) => set.get(of)?.[thread] ?? [])
      const [own, onMain] = [rounds(name, 'all'), rounds(name, 'main')]
      const vsOff = ratios(own, rounds(offOf(name), 'all'))
      // Each set's own median: how far apart new servers put the same variant.
      const bySet = ofSets.map(
        (set) => ratios(set.get(name)?.all ?? [], set.get(offOf(name))?.all ?? []).median,
      )
      rows.push({
        variant: name,
        concurrency,
        cpuMsPerRequest: round(median(own)),
        cpuVsOff: vsOff.median,
        cpuVsOffBySet: bySet.join(' '),
        cpuVsOffRange: `${vsOff.min}-${vsOff.max}`,
        // The main thread alone: what the other threads (compiling, collecting) add is left out.
        mainThreadMsPerRequest: round(median(onMain)),
        mainThreadVsOff: ratios(onMain, rounds(offOf(name), 'main')).median,
      })
    }
  }
  printTable(rows)
  return rows
}

/** A server process for each of `variants`, twice, pinned to the machine's last CPU. */
async function pinnedServers(variants: string[], env: Record<string, string>): Promise<Served[]> {
  // Two servers a variant, started in mirrored order (off, A, B, B, A, off). A server started
  // earlier measured dearer: four servers of `off` came out 1, 0.98, 0.97 and 0.96, round after
  // round, for no reason found. In mirrored order a variant's two servers have the same mean place,
  // which evens out such a drift, though not all of the error: see `off#2` in the module comment.
  const servers: Served[] = []
  try {
    for (const name of [...variants, ...variants.toReversed()]) servers.push(await serve(name, env))
    // The last CPU for the servers, so that they share its speed; this process goes anywhere else.
    const cpu = String(availableParallelism() - 1)
    for (const { pid } of servers)
      execFileSync('taskset', ['--all-tasks', '--pid', '--cpu-list', cpu, String(pid)])
    return servers
  } catch (error) {
    await Promise.all(servers.map((server) => server.stop()))
    throw error
  }
}

/** Per variant, its CPU ms per request in each round: all threads, and the main thread alone. */
type RoundsCpu = Map<string, ThreadsCpu<number[]>>

/**
 * Sends `servers` searches in turns, `concurrency` at a time: a round to warm up (JIT, caches), then
 * TURN_ROUNDS rounds; each variant's CPU ms per request in each.
 */
async function measureTurns(servers: Served[], concurrency: number): Promise<RoundsCpu> {
  // Each server goes through the visitor's searches in the same order: with one count for all of
  // them, four servers and ten searches, each server got every other search (`metrics` measured
  // 0.92 of `off`).
  const sent = new Map<Served, number>(servers.map((server) => [server, 0]))
  // A visitor (a session) for each search sent at once: one visitor's searches sent side by side
  // each updated the session the others read, in an order that observing the server changed, so the
  // variants did not do the same work (eight at a time, a traced server missed memcache on more of
  // the recent-searches queries: 1.5 points more instructions).
  const visitors = new Map<Served, autocannon.Request[][]>()
  for (const server of servers) {
    const own = [server.requests]
    while (own.length < concurrency) own.push(await visitorRequests(server.url))
    visitors.set(server, own)
  }
  /** Sends `concurrency` searches to `server` at once, each of its own visitor; resolves when all are answered. */
  const send = async (server: Served) => {
    const first = sent.get(server) as number
    sent.set(server, first + concurrency)
    const own = visitors.get(server) as autocannon.Request[][]
    const searches = Array.from({ length: concurrency }, async (_, i) => {
      const requests = own[i] as autocannon.Request[]
      const { path, headers } = requests[(first + i) % requests.length] as autocannon.Request
      const { status } = await searchOverHttp(server.url, path as string, headers as Record<string, string>)
      if (status !== 200) throw new Error(`${server.name}: a search answered ${status}`)
    })
    await Promise.all(searches)
  }
  const turns = Math.ceil(TURN_REQUESTS / concurrency)
  const measureRound = async () => {
    const before = servers.map(({ pid }) => cpuMs(pid))
    for (let turn = 0; turn < turns; turn++) {
      // The order rotates, so that no variant always follows the same other one.
      for (let i = 0; i < servers.length; i++) await send(servers[(turn + i) % servers.length] as Served)
    }
    // A variant's figure: its servers' CPU time over their requests (each server served
    // `turns * concurrency`).
    const spent = new Map<string, ThreadsCpu & { requests: number }>()
    servers.forEach((server, i) => {
      const now = cpuMs(server.pid)
      const then = before[i] as ThreadsCpu
      const sum = spent.get(server.name) ?? { all: 0, main: 0, requests: 0 }
      sum.all += now.all - then.all
      sum.main += now.main - then.main
      sum.requests += turns * concurrency
      spent.set(server.name, sum)
    })
    return spent
  }
  await measureRound() // warm up: JIT, caches
  const used: RoundsCpu = new Map()
  for (let r = 0; r < TURN_ROUNDS; r++) {
    for (const [name, { all, main, requests }] of await measureRound()) {
      const rounds = used.get(name) ?? { all: [], main: [] }
      rounds.all.push(all / requests)
      rounds.main.push(main / requests)
      used.set(name, rounds)
    }
  }
  return used
}

// ---------------------------------------------------------------------------------------------
// 1. HTTP

async function drive(server: Served, rate?: number, seconds = SECONDS) {
  const cpuBefore = cpuMs(server.pid).all
  const result = await autocannon({
    url: server.url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: server.requests,
    ...(rate !== undefined && { overallRate: rate }),
  })
  return {
    requestsPerSecond: result.requests.average,
    cpuMsPerRequest: (cpuMs(server.pid).all - cpuBefore) / Math.max(1, result.requests.total),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
  }
}

/** `variants` as server processes (over the backends `env` names), measured round after round. */
async function httpPart(variants: string[], env: Record<string, string>, rate: number) {
  const servers: Served[] = []
  for (const name of variants) servers.push(await serve(name, env))
  try {
    for (const server of servers) await drive(server) // warm up: JIT, caches
    const cpu = new Map<string, number[]>(variants.map((name) => [name, []]))
    const throughput = new Map<string, number[]>(variants.map((name) => [name, []]))
    const latency = new Map<string, { p50: number; p99: number }[]>(variants.map((name) => [name, []]))
    let errors = 0
    for (let r = 0; r < ROUNDS; r++) {
      // Rotate the order, so that no variant always runs first (or right after another's garbage).
      for (let i = 0; i < servers.length; i++) {
        const server = servers[(i + r) % servers.length] as Served
        // Unmeasured: the paced figure of a server that has just been idle while another ran came
        // out about 1.5x that of the same server measured right after its own run (the first of a
        // round is the last of the round before), whatever the variant.
        await drive(server, undefined, WARM_UP_SECONDS)
        const paced = await drive(server, rate)
        const unbounded = await drive(server)
        cpu.get(server.name)?.push(paced.cpuMsPerRequest)
        latency.get(server.name)?.push(paced)
        throughput.get(server.name)?.push(unbounded.requestsPerSecond)
        errors += paced.errors + unbounded.errors
      }
      const line = variants.map(
        (name) =>
          `${name} ${(cpu.get(name)?.[r] ?? 0).toFixed(2)} ms, ${Math.round(throughput.get(name)?.[r] ?? 0)}/s`,
      )
      console.log(`round ${r + 1}/${ROUNDS}: ${line.join('; ')}`)
    }
    const rows = variants.map((name) => {
      const off = offOf(name)
      const cpuVsOff = ratios(cpu.get(name) as number[], cpu.get(off) as number[])
      const throughputVsOff = ratios(throughput.get(name) as number[], throughput.get(off) as number[])
      return {
        variant: name,
        cpuMsPerRequest: round(median(cpu.get(name) as number[])),
        cpuVsOff: cpuVsOff.median,
        cpuVsOffRange: `${cpuVsOff.min}-${cpuVsOff.max}`,
        leastCpuMs: round(Math.min(...(cpu.get(name) as number[]))),
        leastCpuVsOff: cpuVsOff.ofLeast,
        requestsPerSecond: Math.round(median(throughput.get(name) as number[])),
        throughputVsOff: throughputVsOff.median,
        throughputVsOffRange: `${throughputVsOff.min}-${throughputVsOff.max}`,
        p50MsAtRate: median((latency.get(name) ?? []).map((each) => each.p50)),
        p99MsAtRate: median((latency.get(name) ?? []).map((each) => each.p99)),
      }
    })
    printTable(rows)
    return { rows, errors }
  } finally {
    await Promise.all(servers.map((server) => server.stop()))
  }
}

// ---------------------------------------------------------------------------------------------
// 2. HTTP over real servers

/**
 * The HTTP part over real servers, as the service runs in production: PostgreSQL with the complete
 * data sets, three memcached servers and a Redis server of the bench's own, the geocoder in process.
 * A request then costs what its backends' protocols cost too, as it does for a user. Measured in
 * turns as part 0 is (the servers on one CPU, the backends on the others), then under autocannon.
 */
async function onServersPart() {
  return withServers(async (servers) => {
    console.log('loading the complete data sets into PostgreSQL...')
    const db = postgres(servers.DATABASE_URL)
    try {
      await migrate(db)
      await loadDatasets(db)
    } finally {
      await db.close()
    }
    const env = { ...servers, BACKENDS: 'servers', GEOCODER_URL: '' }
    const turns = IN_TURNS ? await turnsPart(turnVariants, TURN_CONCURRENCY, env) : undefined
    return { turns, ...(await httpPart(serverVariants, env, SERVER_RATE)) }
  })
}

// ---------------------------------------------------------------------------------------------
// 3. In process

/** What the in-process part takes from a checkout: its service, and its weft's tracing switch. */
interface Checkout {
  observedServer: typeof observedServer
  partsOf: typeof partsOf
  configureTracing: typeof configureTracing
}

const thisCheckout: Checkout = { observedServer, partsOf, configureTracing }

/** The checkout at `path` (BASELINE), loaded once. */
const checkouts = new Map<string, Promise<Checkout>>()
function loadCheckout(path: string): Promise<Checkout> {
  let checkout = checkouts.get(path)
  if (checkout === undefined) {
    checkout = Promise.all([
      import(`${path}/bench/observability-app.ts`),
      import(`${path}/src/index.ts`),
    ]).then(([app, weft]) => ({ ...app, configureTracing: weft.configureTracing }) as Checkout)
    checkouts.set(path, checkout)
  }
  return checkout
}

async function inProcessPart() {
  const apps: {
    name: string
    parts: Set<Part>
    app: FastifyInstance
    onTrace: TraceListener
    configureTracing: typeof configureTracing
    /** Sends the next search; resolves once it is answered. */
    next: () => Promise<unknown>
  }[] = []
  for (const name of inProcessVariants) {
    const { observe, checkout: path } = variantOf(name)
    const checkout = path === undefined ? thisCheckout : await loadCheckout(path)
    const parts = checkout.partsOf(observe)
    const { app, onTrace } = await checkout.observedServer(parts)
    const requests = await returningVisitorOf(app)
    let i = 0
    // One at a time: side by side, searches share memcache batches and cached values in an order
    // that observing them changes, and the variants would not do the same work (see
    // observability-instructions.ts).
    const next = () => {
      const { path, headers } = requests[i++ % requests.length] as (typeof requests)[number]
      return app.inject({ method: 'GET', url: path, headers })
    }
    apps.push({ name, parts, app, onTrace, configureTracing: checkout.configureTracing, next })
  }
  /** Runs `variant` for about `ms` of wall time; the CPU ms it used per request. */
  const run = async (variant: (typeof apps)[number], ms: number): Promise<number> => {
    // Each server's traces to its own listener only, as in a process of its own.
    const restore = variant.configureTracing(tracingOf(variant.parts, variant.onTrace))
    const before = process.cpuUsage()
    const start = performance.now()
    let requests = 0
    try {
      for (; performance.now() - start < ms; requests++) await variant.next()
    } finally {
      restore()
    }
    const used = process.cpuUsage(before)
    return (used.user + used.system) / 1000 / requests
  }
  for (const variant of apps) await run(variant, 2000) // warm up
  const cpu = new Map<string, number[]>(inProcessVariants.map((name) => [name, []]))
  for (let r = 0; r < IN_PROCESS_ROUNDS; r++) {
    for (let i = 0; i < apps.length; i++) {
      const variant = apps[(i + r) % apps.length] as (typeof apps)[number]
      cpu.get(variant.name)?.push(await run(variant, IN_PROCESS_MS))
    }
  }
  await Promise.all(apps.map(({ app }) => app.close()))
  const rows = inProcessVariants.map((name) => {
    const own = cpu.get(name) as number[]
    // Without `off` (VARIANTS='trace;trace@base', say), a variant is compared with its base alone.
    const off = cpu.get(offOf(name))
    const vsOff = off === undefined ? undefined : ratios(own, off)
    const base = cpu.get(`${name}@base`)
    return {
      variant: name,
      cpuMsPerRequest: round(median(own)),
      ...(vsOff !== undefined && {
        cpuVsOff: vsOff.median,
        cpuVsOffRange: `${vsOff.min}-${vsOff.max}`,
      }),
      leastCpuMs: round(Math.min(...own)),
      ...(vsOff !== undefined && { leastCpuVsOff: vsOff.ofLeast }),
      ...(base !== undefined && { cpuVsBase: ratios(own, base).median }),
    }
  })
  printTable(rows)
  return rows
}

const sink = await startProcess(['--input-type=module', '-e', sinkScript], {})
process.env.OTEL_EXPORTER_OTLP_ENDPOINT = sink.line.trim()
try {
  let turns: Awaited<ReturnType<typeof turnsPart>> | undefined
  if (IN_TURNS) {
    console.log(
      `0. HTTP in turns: the servers on one CPU, ${TURN_CONCURRENCY.join(' and ')} searches at a time to each in turn; ${TURN_SERVER_SETS} sets of servers, ${TURN_ROUNDS} rounds each of ${TURN_REQUESTS} requests per variant`,
    )
    turns = await turnsPart(turnVariants, TURN_CONCURRENCY)
  }
  let http: Awaited<ReturnType<typeof httpPart>> | undefined
  if (process.env.IN_MEMORY !== '0') {
    console.log(
      `\n1. HTTP: autocannon, ${CONNECTIONS} connections; per variant and round ${WARM_UP_SECONDS} s unmeasured, ${SECONDS} s at ${RATE} requests/s, then ${SECONDS} s unbounded; ${ROUNDS} rounds`,
    )
    http = await httpPart(httpVariants, {}, RATE)
  }
  let onServers: Awaited<ReturnType<typeof onServersPart>> | undefined
  if (process.env.ON_SERVERS !== '0') {
    console.log(
      `\n2. HTTP over PostgreSQL, memcached and Redis: in turns as 0.${IN_TURNS ? '' : ' (skipped)'}, then as 1., at ${SERVER_RATE} requests/s, variants ${serverVariants.join('; ')}`,
    )
    onServers = await onServersPart()
  }
  if (process.env.IN_PROCESS !== '0') {
    console.log(
      `\n3. In process (fastify inject, one at a time), ${IN_PROCESS_ROUNDS} rounds of ${IN_PROCESS_MS} ms per variant`,
    )
    const inProcess = await inProcessPart()
    if (chosen === undefined && turns !== undefined && http !== undefined && onServers !== undefined)
      save(turns, http, onServers, inProcess)
  }
} finally {
  await stopProcess(sink.child)
}

function save(
  turns: Awaited<ReturnType<typeof turnsPart>>,
  http: Awaited<ReturnType<typeof httpPart>>,
  onServers: Awaited<ReturnType<typeof onServersPart>>,
  inProcess: Awaited<ReturnType<typeof inProcessPart>>,
) {
  const file = writeResults('observability', {
    method: `GET /search on the in-memory backends, returning visitors; variants interleaved, order rotating, ${ROUNDS} rounds; "vs off" = median over rounds of the ratio to off in the same round. HTTP: autocannon, ${CONNECTIONS} connections, per round ${WARM_UP_SECONDS} s unmeasured, then ${SECONDS} s at ${RATE} requests/s (server CPU per request from /proc) then ${SECONDS} s unbounded (throughput). In process: fastify inject one at a time, CPU per request from process.cpuUsage(), ${IN_PROCESS_ROUNDS} rounds of ${IN_PROCESS_MS} ms per variant. leastCpuVsOff: the least CPU per request over the rounds, over off's least (other work on the machine only ever adds)`,
    httpInTurns: {
      method: `two servers a variant, started in mirrored order, all pinned to one CPU, each sent ${TURN_CONCURRENCY.join(' or ')} searches at a time in turn, the order rotating; a variant's CPU (all threads of its servers, /proc schedstat; and their main threads alone) per request over ${TURN_REQUESTS} requests a round, ${TURN_ROUNDS} rounds on each of ${TURN_SERVER_SETS} sets of servers started afresh`,
      rows: turns,
    },
    http: http.rows,
    httpErrors: http.errors,
    httpInTurnsOnServers: {
      method:
        'as httpInTurns, over PostgreSQL (complete data sets), 3 memcached servers and Redis (on the CPU the servers are not pinned to)',
      rows: onServers.turns,
    },
    httpOnServers: {
      method: `as http, over PostgreSQL (complete data sets), 3 memcached servers and Redis, at ${SERVER_RATE} requests/s`,
      rows: onServers.rows,
    },
    httpOnServersErrors: onServers.errors,
    inProcess,
  })
  console.log(`\nwritten to ${file}`)
}
