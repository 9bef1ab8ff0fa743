/**
 * The real backends, from configuration: each one a server when its variable is set, an embedded one
 * when not (see config.ts), behind the {@link Backends} calls the pipeline makes.
 *
 * Every call has a bounded wait: it runs in a scope of its own named after it (`database.networkOf`),
 * with its backend's budget; past it, the call is cancelled and fails with `BackendTimeout` naming the
 * backend, and the pipeline's degradation policy decides what that costs the answer. The request's
 * own deadline still applies when it is sooner.
 */
import { mkdirSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import { BackendTimeout, clock, DeadlineExceeded, ProtocolError, scope } from 'weft'
import { type Memcache, memcacheFromEnv } from 'weft/memcache'
import { queueFromEnv, type TaskQueue } from 'weft/queue'
import { keysLoader, type Redis, redisFromEnv } from 'weft/redis'
import { type RpcClient, RpcError, rpcClient, weftFastify } from 'weft/rpc'
import { type Database, databaseFromEnv, embeddedDatabase } from 'weft/sql'
import {
  type BackendName,
  type Backends,
  mapCalls,
  memcacheCalls,
  type Place,
  type TaskName,
  type TaskPayloads,
} from './backend-calls.ts'
import type { Config } from './config.ts'
import { corpus } from './corpus.ts'
import { parseIp } from './data/ip.ts'
import { networkOf } from './data/queries.ts'
import { geocoderServer } from './geocoder/server.ts'
import { isSession, type Session } from './session.ts'

export * from './backend-calls.ts'

/** The longest wait of one call to each backend, in ms. */
export type Budgets = Readonly<Record<BackendName, number>>

/** Generous for a healthy backend, short enough that a dead one costs a fraction of the request's budget. */
export const defaultBudgets: Budgets = {
  geocoder: 300,
  database: 1000,
  memcache: 150,
  redis: 150,
  queue: 1000,
}

/** The clients behind the backends, for the worker, health checks and statistics. */
export interface Resources {
  readonly db: Database
  readonly memcache: Memcache
  readonly redis: Redis
  readonly queue: TaskQueue
  readonly geocoder: RpcClient
}

/** Options of {@link openBackends}. */
export interface OpenBackendsOptions {
  /** An open database to use instead of the configured one (which the caller then closes). */
  db?: Database
  /** The geocoder to run in process when `GEOCODER_URL` is unset. Default: the bundled one. */
  geocoderApp?: FastifyInstance
  /** Batch the lookups of a turn (SQL loaders, Redis MGET). Default true. */
  batching?: boolean
  /** Per-backend call budgets, over {@link defaultBudgets}. */
  budgets?: Partial<Budgets>
}

/** The backends and what they run on; `close` stops them all. */
export interface Runtime extends AsyncDisposable {
  readonly backends: Backends
  readonly resources: Resources
  close(): Promise<void>
}

/** Opens the configured backends (see the module comment). */
export async function openBackends(config: Config, options: OpenBackendsOptions = {}): Promise<Runtime> {
  const budgets = { ...defaultBudgets, ...options.budgets }
  const db = options.db ?? openDatabase(config)
  const memcache = memcacheFromEnv(config.memcacheServers ?? '', { shards: 4, timeout: budgets.memcache })
  const redis = redisFromEnv(config.redisUrl, { keyPrefix: config.redisPrefix, timeout: budgets.redis })
  const queue = queueFromEnv(config.env, db)
  // The geocoder named by GEOCODER_URL, else one in this process (called over the same HTTP).
  const geocoderApp =
    config.geocoderUrl === undefined
      ? (options.geocoderApp ?? (await geocoderServer({ register: (app) => app.register(weftFastify) })))
      : undefined
  const geocoderOptions = { name: 'geocoder', retry: { attempts: 2 } }
  const geocoder =
    geocoderApp === undefined
      ? rpcClient({ ...geocoderOptions, baseUrl: config.geocoderUrl as string })
      : rpcClient({ ...geocoderOptions, app: geocoderApp })
  const resources: Resources = { db, memcache, redis, queue, geocoder }
  const batching = options.batching ?? true
  const raw: Backends = {
    geocoder: { locate: (ip) => locate(geocoder, ip) },
    database: databaseCalls(db, batching),
    memcache: memcacheCalls(memcache),
    redis: servedCounters(redis, config.rateLimitWindow, batching),
    queue: {
      enqueue: async <N extends TaskName>(name: N, payload: TaskPayloads[N], dedupeKey: string) => {
        await queue.enqueue(name, payload, { dedupeKey })
      },
    },
  }
  const addresses: Record<BackendName, string> = {
    geocoder: geocoder.address,
    database: db.address,
    memcache: memcache.servers.join(','),
    redis: redis.address,
    queue: queue.address,
  }
  const backends = mapCalls(raw, (backend, name, call) => {
    const budget = budgets[backend]
    // No span of its own: the call's client span says what it did, and every span is paid for by
    // every traced search.
    const options = { name: `${backend}.${name}`, deadline: budget, span: false }
    return (...args) =>
      scope(options, () => call(...args)).catch((error: unknown) => {
        // Its own budget ran out (the request's deadline would cancel it with an AbortError instead).
        if (!(error instanceof DeadlineExceeded)) throw error
        throw new BackendTimeout(`no answer within ${budget} ms`, {
          backend,
          address: addresses[backend],
          cause: error,
        })
      })
  })
  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await queue.close()
      await geocoder.close()
      await geocoderApp?.close()
      await Promise.all([memcache.close(), redis.close()])
      if (options.db === undefined) await db.close()
    })()
    return closing
  }
  return { backends, resources, close, [Symbol.asyncDispose]: close }
}

function openDatabase(config: Config): Database {
  if (config.databaseUrl !== undefined) return databaseFromEnv(config.databaseUrl)
  mkdirSync(config.dataDir, { recursive: true })
  return embeddedDatabase({ dataDir: config.dataDir })
}

/** The database calls: the IP database, the corpus (batched or not), the saved sessions. */
function databaseCalls(db: Database, batching: boolean): Backends['database'] {
  const cities = corpus(db, { batching })
  return {
    // The IP database holds IPv4 ranges only.
    networkOf: async (ip) => (parseIp(ip).version === 4 ? networkOf(db, ip) : undefined),
    citiesStartingWith: (prefixes) => cities.citiesStartingWith(prefixes),
    citiesInCountries: (countries, prefix) => cities.citiesInCountries(countries, prefix),
    citiesInCells: (cells, prefix) => cities.citiesInCells(cells, prefix),
    session: async (id) => {
      const { rows } = await db.query<{ data: unknown }>('SELECT data FROM sessions WHERE id = $1', [id])
      const data = rows[0]?.data
      return isSession(data) ? (data satisfies Session) : undefined
    },
  }
}

/** Asks the geocoder where `ip` is: 404 means it knows no position; anything else must be a place. */
async function locate(geocoder: RpcClient, ip: string): Promise<Place | undefined> {
  let answer: unknown
  try {
    answer = await geocoder.get('/geocode', { query: { ip } })
  } catch (error) {
    if (error instanceof RpcError && error.status === 404) return undefined
    throw error
  }
  const place = answer as Partial<Place> | null
  const text = (value: unknown) => value === null || typeof value === 'string'
  if (
    typeof place?.ip !== 'string' ||
    !(typeof place.lat === 'number' && place.lat >= -90 && place.lat <= 90) ||
    !(typeof place.lon === 'number' && Number.isFinite(place.lon)) ||
    !text(place.city) ||
    !text(place.region) ||
    !(place.country === null || (typeof place.country === 'string' && /^[A-Z]{2}$/.test(place.country)))
  ) {
    throw new ProtocolError('the geocoder answered something that is not a place', {
      backend: 'geocoder',
      address: geocoder.address,
    })
  }
  const { city = null, region = null, country = null, lat, lon } = place
  return { ip: place.ip, city, region, country, lat, lon }
}

/** The result rate limits on Redis: a counter per place and window. */
function servedCounters(redis: Redis, window: number, batching: boolean): Backends['redis'] {
  const counts = keysLoader(redis, { name: 'served counts', maxBatchSize: batching ? 1000 : 1 })
  const key = (id: number) => `served:${Math.floor(clock().now() / 1000 / window)}:${id}`
  return {
    async servedCounts(ids) {
      const values = await Promise.all(ids.map((id) => counts.load(key(id))))
      return values.map((value) => Number(value ?? 0) || 0)
    },
    async countServed(ids) {
      await Promise.all(ids.map((id) => redis.incr(key(id), { px: window * 1000 })))
    },
  }
}
