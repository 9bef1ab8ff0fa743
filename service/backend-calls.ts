/**
 * What the pipeline needs from the world, as one interface ({@link Backends}): one group of calls per
 * backend, each call one request to it. The pipeline depends on nothing else, so tests and the
 * benchmark can hand it backends with injected latency or failures, or serialised
 * (`backend-modes.ts`), while `openBackends` (`backends.ts`) builds the real ones from configuration.
 */
import type { Memcache } from 'weft/memcache'
import type { City } from './data/cities.ts'
import type { IpNetwork } from './data/queries.ts'
import type { Session } from './session.ts'

export type { City, IpNetwork }

/** Where an address is, as the geocoder says. */
export interface Place {
  ip: string
  city: string | null
  region: string | null
  /** ISO 3166-1 alpha-2, upper case. */
  country: string | null
  lat: number
  lon: number
}

/** The background tasks the pipeline enqueues; `worker.ts` runs them. */
export interface TaskPayloads {
  'save-session': { session: Session }
  'update-session': { session: Session }
  'log-ranking-decision': RankingDecision
}
export type TaskName = keyof TaskPayloads

/** One search's outcome, as the ranking log keeps it. */
export interface RankingDecision {
  requestId: string
  traceId: string | undefined
  query: string
  results: { id: number; name: string; score: number; why: string[] }[]
}

/** The calls the pipeline makes, grouped by the backend that answers them. */
export interface Backends {
  /** The geocoder service, over RPC. */
  readonly geocoder: {
    /** Where `ip` is; undefined when the geocoder knows no position for it. */
    locate(ip: string): Promise<Place | undefined>
  }
  /** The database: the IP database, the search corpus, the saved sessions. */
  readonly database: {
    /** The range of the IP database holding `ip` (IPv4), with its autonomous system. */
    networkOf(ip: string): Promise<IpNetwork | undefined>
    /** For each prefix (a search key), the most populous places whose name starts with it. */
    citiesStartingWith(prefixes: readonly string[]): Promise<City[][]>
    /** The most populous places of `countries` whose name starts with `prefix`. */
    citiesInCountries(countries: readonly string[], prefix: string): Promise<City[]>
    /** The most populous places of the geo `cells` whose name starts with `prefix`. */
    citiesInCells(cells: readonly number[], prefix: string): Promise<City[]>
    /** The saved session `id`, or undefined. */
    session(id: string): Promise<Session | undefined>
  }
  /** The memcache shards: sessions, rate limiters, cached attribute queries. */
  readonly memcache: {
    /** The shards' addresses. */
    readonly shards: readonly string[]
    /** The shard `key` lives on (no I/O). */
    shardOf(key: string): string
    /** The JSON value under `key`, or undefined on a miss. */
    get(key: string): Promise<unknown>
    /** Stores `value` as JSON for `ttl` seconds. */
    set(key: string, value: unknown, ttl: number): Promise<void>
    /** Adds 1 to the counter under `key` (created at 1, expiring in `ttl` seconds) and returns it. */
    incr(key: string, ttl: number): Promise<number>
  }
  /** Redis: the result rate limits, how often each place was served in the current window. */
  readonly redis: {
    /** The times each place was served in the current window, in the order of `ids`. */
    servedCounts(ids: readonly number[]): Promise<number[]>
    /** Counts one more serving of each place. */
    countServed(ids: readonly number[]): Promise<void>
  }
  /** The task queue. */
  readonly queue: {
    /** Durably enqueues a task; `dedupeKey` names its effect, so a repeat is dropped. */
    enqueue<N extends TaskName>(name: N, payload: TaskPayloads[N], dedupeKey: string): Promise<void>
  }
}

/** The backends, by name. */
export type BackendName = keyof Backends

type AsyncCallOf<G> = {
  [K in keyof G]: G[K] extends (...args: never[]) => Promise<unknown> ? K : never
}[keyof G]

/** The calls of each backend: the methods that do I/O (what latency injection and budgets wrap). */
export const backendCalls: { readonly [B in BackendName]: readonly AsyncCallOf<Backends[B]>[] } = {
  geocoder: ['locate'],
  database: ['networkOf', 'citiesStartingWith', 'citiesInCountries', 'citiesInCells', 'session'],
  memcache: ['get', 'set', 'incr'],
  redis: ['servedCounts', 'countServed'],
  queue: ['enqueue'],
}

/** A backend call, as {@link mapCalls} hands it to a wrapper. */
export type Call = (...args: never[]) => Promise<unknown>

/**
 * New backends whose every call is `wrap(backend, name, call)`: the way to add behaviour to all calls
 * at once (budgets, latency, serialisation, counting). Properties other than calls are kept as they are.
 */
export function mapCalls(backends: Backends, wrap: (backend: BackendName, name: string, call: Call) => Call) {
  const mapped: Record<string, unknown> = {}
  for (const backend of Object.keys(backendCalls) as BackendName[]) {
    const group = backends[backend] as unknown as Record<string, unknown>
    const copy: Record<string, unknown> = {}
    for (const key of Object.keys(group)) {
      const value = group[key]
      copy[key] = typeof value === 'function' ? value.bind(group) : value
    }
    for (const name of backendCalls[backend] as readonly string[]) {
      copy[name] = wrap(backend, name, copy[name] as Call)
    }
    mapped[backend] = copy
  }
  return mapped as unknown as Backends
}

/** The pipeline's memcache calls on a weft/memcache client (real or embedded): values are JSON. */
export function memcacheCalls(memcache: Memcache): Backends['memcache'] {
  return {
    shards: memcache.servers,
    shardOf: (key) => memcache.serverFor(key),
    get: (key) => memcache.getJson(key),
    set: (key, value, ttl) => memcache.setJson(key, value, { ttl }),
    incr: async (key, ttl) => Number(await memcache.incr(key, 1, { initial: 1, ttl })),
  }
}
