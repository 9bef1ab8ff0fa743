/**
 * The pipeline's backends in memory, over a given list of places and IP ranges: for tests on the
 * virtual clock and for the benchmark, where the real backends' own costs would blur what is
 * measured (the pipeline's shape). Memcache and Redis are weft's embedded ones (the same client code
 * as with servers: shards, per-turn batches, spans); the database answers from arrays, the geocoder
 * from a function, and the queue applies its tasks at once, as an instant worker would.
 */
import { startSpan } from 'weft'
import { embeddedMemcache } from 'weft/memcache'
import { embeddedRedis } from 'weft/redis'
import {
  type Backends,
  type City,
  type IpNetwork,
  memcacheCalls,
  type Place,
  type RankingDecision,
  type TaskName,
  type TaskPayloads,
} from './backend-calls.ts'
import { candidatesPerKey } from './corpus.ts'
import { geoCell } from './data/geo-cell.ts'
import { formatIPv4, parseIPv4, parseIp } from './data/ip.ts'
import type { IpNetworkRecord } from './data/ip-networks.ts'
import { searchKey } from './data/search-key.ts'
import type { Session } from './session.ts'

/** What the in-memory backends answer from. */
export interface MemoryData {
  cities: readonly City[]
  networks: readonly IpNetworkRecord[]
  /** Where an address is; default: nowhere known. */
  locate?: (ip: string) => Place | undefined
}

/** The in-memory backends and what their queue has done. */
export interface MemoryBackends extends AsyncDisposable {
  readonly backends: Backends
  /** Every task enqueued (repeats of a dedupe key dropped), in order. */
  readonly tasks: { name: TaskName; payload: unknown; dedupeKey: string }[]
  /** The sessions saved by the queue's tasks. */
  readonly sessions: Map<string, Session>
  /** The ranking decisions logged by the queue's tasks. */
  readonly rankingLog: RankingDecision[]
  /**
   * Empties `tasks`, `sessions` and `rankingLog`, and forgets the dedupe keys seen: a long benchmark
   * calls it now and then, so that its memory stays flat.
   */
  forget(): void
  close(): Promise<void>
}

/** Options of {@link memoryBackends}. */
export interface MemoryBackendsOptions {
  /** Memcache shards. Default 4, one per rate limiter. */
  shards?: number
}

/** In-memory backends over `data`; see the module comment. */
export function memoryBackends(data: MemoryData, options: MemoryBackendsOptions = {}): MemoryBackends {
  const memcache = embeddedMemcache({ shards: options.shards ?? 4 })
  const redis = embeddedRedis()
  // Sorted by folded name, so that the places with a prefix are one range, found by binary search.
  const places = data.cities
    .map((city) => ({ city, key: searchKey(city.name), cell: geoCell(city.lat, city.lon) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  const networks = [...data.networks].sort((a, b) => a.start - b.start)
  const tasks: MemoryBackends['tasks'] = []
  /** The dedupe keys of `tasks`, by task name: a lookup rather than a scan of every task so far. */
  const queued = new Map<TaskName, Set<string>>()
  const sessions = new Map<string, Session>()
  const rankingLog: RankingDecision[] = []

  const top = (prefix: string, where: (place: (typeof places)[number]) => boolean): City[] => {
    let low = 0
    let high = places.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if ((places[middle]?.key ?? '') < prefix) low = middle + 1
      else high = middle
    }
    const found: City[] = []
    for (let i = low; i < places.length && places[i]?.key.startsWith(prefix); i++) {
      const place = places[i] as (typeof places)[number]
      if (where(place)) found.push(place.city)
    }
    return found.sort((a, b) => b.population - a.population || a.id - b.id).slice(0, candidatesPerKey)
  }

  const backends: Backends = {
    geocoder: { locate: traced('geocoder.locate', async (ip: string) => data.locate?.(ip)) },
    database: {
      networkOf: traced('sql.networkOf', async (ip: string) => networkHolding(networks, ip)),
      citiesStartingWith: traced('sql.citiesStartingWith', async (prefixes: readonly string[]) =>
        prefixes.map((prefix) => top(prefix, () => true)),
      ),
      citiesInCountries: traced(
        'sql.citiesInCountries',
        async (countries: readonly string[], prefix: string) =>
          top(prefix, (place) => countries.includes(place.city.country)),
      ),
      citiesInCells: traced('sql.citiesInCells', async (cells: readonly number[], prefix: string) =>
        top(prefix, (place) => cells.includes(place.cell)),
      ),
      session: traced('sql.session', async (id: string) => sessions.get(id)),
    },
    memcache: memcacheCalls(memcache),
    redis: {
      servedCounts: async (ids) =>
        (await redis.mget(ids.map((id) => `served:${id}`))).map((v) => Number(v ?? 0)),
      countServed: async (ids) => {
        await Promise.all(ids.map((id) => redis.incr(`served:${id}`)))
      },
    },
    queue: {
      enqueue: traced(
        'queue.enqueue',
        async <N extends TaskName>(name: N, payload: TaskPayloads[N], dedupeKey: string): Promise<void> => {
          const keys = queued.get(name) ?? new Set<string>()
          if (keys.has(dedupeKey)) return
          queued.set(name, keys.add(dedupeKey))
          tasks.push({ name, payload, dedupeKey })
          if (name === 'log-ranking-decision') rankingLog.push(payload as RankingDecision)
          else {
            const { session } = payload as TaskPayloads['save-session']
            const saved = sessions.get(session.id)
            if (saved === undefined || saved.updatedAt <= session.updatedAt) sessions.set(session.id, session)
          }
        },
      ),
    },
  }
  const close = async (): Promise<void> => {
    await Promise.all([memcache.close(), redis.close()])
  }
  const forget = (): void => {
    tasks.splice(0)
    queued.clear()
    sessions.clear()
    rankingLog.splice(0)
  }
  return { backends, tasks, sessions, rankingLog, forget, close, [Symbol.asyncDispose]: close }
}

/** `fn` recording a client span, as the real adapters do, so that traces show each call. */
function traced<A extends unknown[], R>(
  name: string,
  fn: (...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  return async (...args) => {
    const span = startSpan(name, 'client')
    try {
      const result = await fn(...args)
      span?.finish('ok')
      return result
    } catch (error) {
      span?.finish('error', error)
      throw error
    }
  }
}

function networkHolding(networks: readonly IpNetworkRecord[], ip: string): IpNetwork | undefined {
  if (parseIp(ip).version !== 4) return undefined
  const address = parseIPv4(ip)
  const found = networks.findLast((network) => network.start <= address)
  if (found === undefined || found.end < address) return undefined
  return { start: formatIPv4(found.start), end: formatIPv4(found.end), asn: found.asn, org: found.org }
}
