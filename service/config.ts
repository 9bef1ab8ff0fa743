/**
 * The service's configuration, read from the environment once at start-up. Every variable is
 * optional: none set means the embedded defaults (PGlite on disk, in-process memcache shards and
 * Redis, the geocoder in process), so `npm start` runs on a fresh machine. A variable set to something
 * unusable stops the start with a {@link ConfigError} naming the variable, what it expects and what it
 * got, rather than a failure deep in some adapter later.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'

/** The names of the rate limiters, in the order their memcache shards are assigned. */
export const limiterNames = ['ip', 'network', 'asn', 'global'] as const
export type LimiterName = (typeof limiterNames)[number]

/** Requests each limiter lets through per window. */
export type RateLimits = Readonly<Record<LimiterName, number>>

/** The service's settings. */
export interface Config {
  /** `PORT`: where the HTTP server listens. Default 3000; 0 picks a free port. */
  readonly port: number
  /** `HOST`: the interface it listens on. Default `127.0.0.1`. */
  readonly host: string
  /** `DATABASE_URL`: a PostgreSQL server; unset, the embedded database in {@link Config.dataDir}. */
  readonly databaseUrl: string | undefined
  /** `DATA_DIR`: where the embedded database keeps its files (so later starts reuse the loaded data). */
  readonly dataDir: string
  /** `MEMCACHE_SERVERS`: comma-separated `host:port` list; unset, in-process shards. */
  readonly memcacheServers: string | undefined
  /** `REDIS_URL`: the Redis of the result rate limits (and of the queue with `QUEUE_BACKEND=redis`). */
  readonly redisUrl: string | undefined
  /** `REDIS_PREFIX`: prepended to every Redis key of the service, to share a server. Default `weft-search:`. */
  readonly redisPrefix: string
  /** `GEOCODER_URL`: the geocoder service; unset, the geocoder runs in this process. */
  readonly geocoderUrl: string | undefined
  /**
   * `TRUST_PROXY`: how many proxies in front of the service append to `X-Forwarded-For` (`true` is 1).
   * 0 (unset) ignores the header: the client is the socket's peer.
   */
  readonly trustProxy: number
  /** `SESSION_SECRET` (32 characters or more): the key signing session cookies. */
  readonly sessionSecret: string
  /** True when no `SESSION_SECRET` was set and a random one was generated: sessions end with the process. */
  readonly sessionSecretGenerated: boolean
  /** `WORKERS`: deliveries the in-process task worker runs at once; 0 runs none (use `npm run worker`). Default 4. */
  readonly workers: number
  /** `RATE_LIMITS`: requests per window for each limiter, as `ip=120,network=600,asn=6000,global=100000`. */
  readonly rateLimits: RateLimits
  /** `RATE_LIMIT_WINDOW`: the limiters' window, in seconds. Default 60. */
  readonly rateLimitWindow: number
  /**
   * `RESULT_LIMIT`: how many times per window a place may be served before the ranking demotes it
   * (the result rate limit, so that one place does not flood every answer). Default 10000.
   */
  readonly resultLimit: number
  /** `REQUEST_TIMEOUT_MS`: the time budget of a search request. Default 2000. */
  readonly requestTimeout: number
  /**
   * `MAX_IN_FLIGHT`: searches run at once; more wait their turn, at most a quarter of their budget,
   * then get a 503 `OVERLOADED` (admission.ts). Default 32.
   */
  readonly maxInFlight: number
  /** `TRACE_CAPACITY`: how many recent traces `/_weft/traces` keeps (the oldest go first). Default 200. */
  readonly traceCapacity: number
  /**
   * `TRACE_RECORD_PER_SECOND`: searches traced at most this many a second (a burst of that many, then
   * that many a second); the others are not recorded at all, which bounds what tracing costs under
   * load, and one of them that fails or is slow is kept as a trace of its request alone, without
   * its backend calls. `0` records none; `1000000`, in effect, all. Process-wide: the first server
   * of a process sets it. Default {@link defaultTraceRecordPerSecond}.
   */
  readonly traceRecordPerSecond: number
  /**
   * `TRACE_SAMPLE_RATE`: the fraction, from 0 to 1, of ordinary requests whose trace is kept; errors,
   * cancellations and slow requests are kept whatever it says. Default 1.
   */
  readonly traceSampleRate: number
  /**
   * `TRACE_KEEP_PER_SECOND`: ordinary requests whose trace is kept at most this many a second (a
   * burst of that many, then that many a second), so that tracing stays cheap under load; `0` keeps
   * none. Default 10.
   */
  readonly traceKeepPerSecond: number
  /** `TRACE_SLOW_MS`: a request taking this long or longer is slow, and its trace always kept. Default 500. */
  readonly traceSlowMs: number
  /** The environment itself, for the adapters' own variables (`QUEUE_BACKEND`, `QUEUE_PREFIX`). */
  readonly env: Readonly<Record<string, string | undefined>>
}

/** A configuration variable with a value the service cannot use. `variable` names it. */
export class ConfigError extends Error {
  override name = 'ConfigError'
  readonly code = 'INVALID_CONFIGURATION'
  readonly variable: string
  constructor(variable: string, expected: string, got: string) {
    super(`${variable} must be ${expected}, got ${JSON.stringify(got)}`)
    this.variable = variable
  }
}

/**
 * Searches traced a second by default: five times the traces the store keeps a second by default
 * (`TRACE_KEEP_PER_SECOND`), so that below it every search is traced and its waterfall there if it is
 * kept, while under load tracing costs a bounded amount (recording every search cost 7-19% of its
 * CPU on the in-memory backends eight at a time; bench/HISTORY.md, session 24).
 */
export const defaultTraceRecordPerSecond = 50

/** The default rate limits: generous for a person, tight for a script hammering the service. */
export const defaultRateLimits: RateLimits = { ip: 120, network: 600, asn: 6_000, global: 100_000 }

/** Where the embedded database lives by default: a cache folder git already ignores. */
const defaultDataDir = join(import.meta.dirname, '..', 'node_modules', '.cache', 'weft-service', 'pglite')

/**
 * Reads the configuration from `env` (by default `process.env`). Blank variables count as unset.
 *
 * @throws {ConfigError} naming the first variable whose value is unusable.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): Config {
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim()
    return value === undefined || value === '' ? undefined : value
  }
  const secret = read('SESSION_SECRET')
  if (secret !== undefined && secret.length < 32) {
    throw new ConfigError(
      'SESSION_SECRET',
      'at least 32 characters (say, `openssl rand -hex 32`)',
      '<hidden>',
    )
  }
  return {
    port: wholeNumber('PORT', read('PORT'), 3000, 0, 65535),
    host: read('HOST') ?? '127.0.0.1',
    databaseUrl: url('DATABASE_URL', read('DATABASE_URL'), ['postgres:', 'postgresql:']),
    dataDir: read('DATA_DIR') ?? defaultDataDir,
    memcacheServers: read('MEMCACHE_SERVERS'),
    redisUrl: url('REDIS_URL', read('REDIS_URL'), ['redis:', 'rediss:']),
    redisPrefix: read('REDIS_PREFIX') ?? 'weft-search:',
    geocoderUrl: url('GEOCODER_URL', read('GEOCODER_URL'), ['http:', 'https:']),
    trustProxy: proxyHops(read('TRUST_PROXY')),
    sessionSecret: secret ?? randomBytes(32).toString('base64url'),
    sessionSecretGenerated: secret === undefined,
    workers: wholeNumber('WORKERS', read('WORKERS'), 4, 0, 1000),
    rateLimits: rateLimits(read('RATE_LIMITS')),
    rateLimitWindow: wholeNumber('RATE_LIMIT_WINDOW', read('RATE_LIMIT_WINDOW'), 60, 1, 86_400),
    resultLimit: wholeNumber('RESULT_LIMIT', read('RESULT_LIMIT'), 10_000, 1, 1e9),
    requestTimeout: wholeNumber('REQUEST_TIMEOUT_MS', read('REQUEST_TIMEOUT_MS'), 2000, 1, 600_000),
    maxInFlight: wholeNumber('MAX_IN_FLIGHT', read('MAX_IN_FLIGHT'), 32, 1, 100_000),
    traceCapacity: wholeNumber('TRACE_CAPACITY', read('TRACE_CAPACITY'), 200, 1, 100_000),
    traceRecordPerSecond: wholeNumber(
      'TRACE_RECORD_PER_SECOND',
      read('TRACE_RECORD_PER_SECOND'),
      defaultTraceRecordPerSecond,
      0,
      1_000_000,
    ),
    traceSampleRate: fraction('TRACE_SAMPLE_RATE', read('TRACE_SAMPLE_RATE'), 1),
    traceKeepPerSecond: wholeNumber('TRACE_KEEP_PER_SECOND', read('TRACE_KEEP_PER_SECOND'), 10, 0, 1_000_000),
    traceSlowMs: wholeNumber('TRACE_SLOW_MS', read('TRACE_SLOW_MS'), 500, 0, 600_000),
    env,
  }
}

function wholeNumber(name: string, text: string | undefined, fallback: number, min: number, max: number) {
  if (text === undefined) return fallback
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN
  if (!(value >= min && value <= max))
    throw new ConfigError(name, `a whole number from ${min} to ${max}`, text)
  return value
}

function fraction(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback
  const value = /^(?:\d+(?:\.\d*)?|\.\d+)$/.test(text) ? Number(text) : Number.NaN
  if (!(value >= 0 && value <= 1)) throw new ConfigError(name, 'a number from 0 to 1 (like 0.1)', text)
  return value
}

function url(name: string, text: string | undefined, protocols: readonly string[]): string | undefined {
  if (text === undefined) return undefined
  const parsed = URL.parse(text)
  if (parsed === null || !protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`, text)
  }
  return text
}

function proxyHops(text: string | undefined): number {
  if (text === undefined || text === 'false') return 0
  if (text === 'true') return 1
  return wholeNumber('TRUST_PROXY', text, 0, 0, 16)
}

function rateLimits(text: string | undefined): RateLimits {
  if (text === undefined) return defaultRateLimits
  const limits: Record<string, number> = { ...defaultRateLimits }
  const expected = `entries like ${limiterNames.map((name) => `${name}=<requests>`).join(',')}`
  for (const entry of text.split(',')) {
    const match = /^\s*([a-z]+)\s*=\s*(\d+)\s*$/.exec(entry)
    const name = match?.[1] as LimiterName | undefined
    if (match === null || name === undefined || !limiterNames.includes(name) || Number(match[2]) < 1) {
      throw new ConfigError('RATE_LIMITS', `${expected} (each at least 1)`, text)
    }
    limits[name] = Number(match[2])
  }
  return limits as RateLimits
}

/** {@link loadConfig} for entry points: an unusable variable is reported on stderr, and the process exits with 2. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig()
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    console.error(`weft search: ${error.message}`)
    process.exit(2)
  }
}
