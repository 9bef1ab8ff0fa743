/**
 * The search service as it runs in production, for the fault scenarios 1, 2, 3 and 5: `service/main.ts`
 * (and, where a scenario wants one apart, `service/worker-main.ts`) as child processes configured by
 * their environment, over real servers of the scenario's own: a PostgreSQL database (which the service
 * migrates and loads with the complete data sets, as on a first start), three memcached servers and a
 * Redis server. A scenario puts a fault proxy (weft/testing) in front of the server it attacks, or
 * kills one outright, and drives the service with {@link startLoad}: concurrent searches from many
 * client addresses, every answer recorded.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import {
  createTestDatabase,
  type MemcachedServers,
  type RedisServer,
  type RedisServerOptions,
  startMemcached,
  startRedisServer,
  type TestDatabase,
} from 'weft/testing'
import { reportScenario, type ScenarioFigures, StatusTally } from './report.ts'

const root = join(import.meta.dirname, '..', '..')

/** A script of the repository running as a child process. */
export interface ChildService {
  readonly child: ChildProcess
  /** The first line the process printed (its "listening" or "running" line). */
  readonly line: string
  /** The process's warnings and errors so far (pino's JSON lines and stderr), for figures and diagnostics. */
  logs(): string[]
  /** SIGTERM, and the exit code once it exited. */
  stop(): Promise<number | null>
  /** SIGKILL, as a crash would: no clean-up at all. Resolves once it exited. */
  kill(): Promise<void>
}

/** The search service as a child process. */
export interface ServiceProcess extends ChildService {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string
}

const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/**
 * Starts `script` with `env` over a clean environment of the service's variables, and resolves with
 * its first stdout line; rejects with its output if it exits first.
 */
async function startScript(script: string, env: Record<string, string>): Promise<ChildService> {
  const child = spawn(process.execPath, ['--conditions=source', script], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: '',
      MEMCACHE_SERVERS: '',
      REDIS_URL: '',
      GEOCODER_URL: '',
      QUEUE_BACKEND: '',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running.add(child)
  const exited = once(child, 'exit').then(() => {
    running.delete(child)
  })
  const logs: string[] = []
  child.stderr?.setEncoding('utf8').on('data', (text: string) => logs.push(text))
  const lines = createInterface({ input: child.stdout! })
  const first = new Promise<string>((resolve, reject) => {
    lines.once('line', resolve)
    exited.then(() =>
      reject(new Error(`${script} exited (${child.exitCode}) before starting:\n${logs.join('')}`)),
    )
  })
  const line = await first
  lines.on('line', (text) => logs.push(text))
  const end = (signal: NodeJS.Signals) => async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    await exited
    return child.exitCode
  }
  return {
    child,
    line,
    logs: () => logs,
    stop: end('SIGTERM'),
    kill: async () => void (await end('SIGKILL')()),
  }
}

/**
 * The test settings every scenario shares: `X-Forwarded-For` trusted, a fixed secret, limits out of
 * the way, and every search traced: the scenarios match answers to the tasks they enqueued and the
 * log lines they wrote by trace id, which a search over TRACE_RECORD_PER_SECOND does not have.
 */
export const serviceSettings: Record<string, string> = {
  PORT: '0',
  TRUST_PROXY: '1',
  SESSION_SECRET: 'fault suite fault suite fault suite!',
  RATE_LIMITS: 'ip=1000000000,network=1000000000,asn=1000000000,global=1000000000',
  TRACE_RECORD_PER_SECOND: '1000000',
}

/** Starts `service/main.ts` (see the module comment) with `env` over {@link serviceSettings}. */
export async function startServiceProcess(env: Record<string, string>): Promise<ServiceProcess> {
  const started = await startScript('service/main.ts', { ...serviceSettings, ...env })
  const url = /^weft search listening on (http:\/\/\S+)$/.exec(started.line)?.[1]
  if (url === undefined) {
    await started.kill()
    throw new Error(`service/main.ts printed ${JSON.stringify(started.line)} instead of its URL`)
  }
  return { ...started, url }
}

/** Starts `service/worker-main.ts` with `env`; resolves once it says it runs. */
export async function startWorkerProcess(env: Record<string, string>): Promise<ChildService> {
  const started = await startScript('service/worker-main.ts', { ...serviceSettings, ...env })
  if (!started.line.startsWith('weft worker running')) {
    await started.kill()
    throw new Error(`service/worker-main.ts printed ${JSON.stringify(started.line)}`)
  }
  return started
}

/** The servers of a scenario. */
export interface Servers extends AsyncDisposable {
  readonly database: TestDatabase
  readonly memcached: MemcachedServers
  /** The Redis server now (a new one after {@link Servers.restartRedis}). */
  readonly redis: RedisServer
  /** Starts Redis again on its port with its options (after the scenario killed or stopped it). */
  restartRedis(): Promise<void>
  close(): Promise<void>
}

/**
 * Starts a fresh database, three memcached servers and a Redis server (with `redisOptions`); `close`
 * stops and drops them all.
 */
export async function startServers(redisOptions: RedisServerOptions = {}): Promise<Servers> {
  const [database, memcached, firstRedis] = await Promise.all([
    createTestDatabase(),
    startMemcached({ servers: 3, memory: 64 }),
    startRedisServer(redisOptions),
  ])
  let redis = firstRedis
  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= Promise.all([database.drop(), memcached.stop(), redis.stop()]).then(() => {})
    return closing
  }
  return {
    database,
    memcached,
    get redis() {
      return redis
    },
    async restartRedis() {
      await redis.stop()
      redis = await startRedisServer({ ...redisOptions, port: redis.port })
    },
    close,
    [Symbol.asyncDispose]: close,
  }
}

/** One answer (or its absence) as the client saw it; times in ms of `performance.now()`. */
export interface Answer {
  /** Which request of the load (its index). */
  index: number
  status: number | 'error'
  start: number
  end: number
  // biome-ignore lint/suspicious/noExplicitAny: the scenarios read whatever the service answered
  body: any
}

/** A search to send: the path and its headers. */
export interface SearchRequest {
  path: string
  headers?: Record<string, string>
}

/** Options of {@link startLoad}. */
export interface LoadOptions {
  url: string
  /** Requests in flight at once. */
  concurrency: number
  /** The `index`-th request. */
  request: (index: number) => SearchRequest
  /** How long the client waits for an answer before counting it an `'error'`, in ms. Default 10 000. */
  clientTimeout?: number
}

/** A running load: every answer so far, and their tally by status. */
export interface Load {
  readonly answers: Answer[]
  readonly tally: StatusTally
  /** Stops sending and resolves once the requests in flight have their answers. */
  stop(): Promise<void>
}

/**
 * Sends requests from `concurrency` loops, each starting its next request when the last is answered,
 * until stopped. A request that gets no answer (refused, reset, timed out) is recorded as `'error'`.
 */
export function startLoad(options: LoadOptions): Load {
  const { url, concurrency, request, clientTimeout = 10_000 } = options
  const answers: Answer[] = []
  const tally = new StatusTally()
  let stopped = false
  let next = 0
  const loop = async (): Promise<void> => {
    while (!stopped) {
      const index = next++
      const { path, headers = {} } = request(index)
      const start = performance.now()
      let status: number | 'error' = 'error'
      let body: unknown
      try {
        const response = await fetch(`${url}${path}`, { headers, signal: AbortSignal.timeout(clientTimeout) })
        status = response.status
        const text = await response.text()
        try {
          body = JSON.parse(text)
        } catch {
          body = text
        }
      } catch (error) {
        body = String(error)
      }
      answers.push({ index, status, start, end: performance.now(), body })
      tally.record(status)
    }
  }
  const loops = Promise.all(Array.from({ length: concurrency }, loop))
  return {
    answers,
    tally,
    stop: async () => {
      stopped = true
      await loops
    },
  }
}

/**
 * The `index`-th visitor's address: distinct addresses of NOS's range (in the IP database), so every
 * limiter, the AS one included, counts them.
 */
export function visitorAddress(index: number): string {
  return `94.132.${(index >> 8) & 255}.${index & 255}`
}

/** Search texts: three-letter prefixes, most of them in no cache yet. */
export function searchText(index: number): string {
  const letters = 'abcdefghijklmnoprstuvz'
  const n = letters.length
  return `${letters[index % n]}${letters[Math.floor(index / n) % n]}${letters[Math.floor(index / n / n) % n]}`
}

/** Resolves after `ms` of real time: a scenario's phase (a fault lasting so long), never a wait for an event. */
export function phase(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** The answers to the requests started in [`from`, `to`), as a tally by status. */
export function tallyBetween(answers: readonly Answer[], from: number, to: number): StatusTally {
  const tally = new StatusTally()
  for (const answer of answers) if (answer.start >= from && answer.start < to) tally.record(answer.status)
  return tally
}

/** The `p`-th percentile (0 to 100) of `values`, rounded to 0.1; 0 when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  const at = sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number
  return Math.round(at * 10) / 10
}

/** The median and 99th percentile of the answers' durations. */
export function latency(answers: readonly Answer[]): { p50Ms: number; p99Ms: number } {
  const durations = answers.map((answer) => answer.end - answer.start)
  return { p50Ms: percentile(durations, 50), p99Ms: percentile(durations, 99) }
}

/** Records a scenario's figures under `name` (bench/results/faults.json) and prints them. */
export async function publish(name: string, figures: ScenarioFigures): Promise<void> {
  await reportScenario(name, figures)
  console.log(`${name}: ${JSON.stringify(figures, null, 2)}`)
}

/** Fails, showing the tally, unless every request was answered 200. */
export function assertAllAnswered(tally: StatusTally): void {
  assert.equal(
    tally.count((status) => status === 200),
    0,
    `not all 200: ${JSON.stringify(tally.statuses)}`,
  )
}
