/**
 * The search service for the fault scenarios 4, 6, 7 and 8: the server in this process (so a
 * scenario can read its pools, heap and handles), listening on a real port, over real backends: a
 * PostgreSQL database of its own (migrated, the test corpus loaded), three memcached servers, the
 * shared Redis on 127.0.0.1:6379 under a key prefix of its own (deleted at the end), and the geocoder
 * as an HTTP server of its own reached through `GEOCODER_URL`, unless the scenario names another.
 */
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { Redis as IORedis } from 'ioredis'
import { type Database, postgres } from 'weft/sql'
import { createTestDatabase, startMemcached, type TestDatabase } from 'weft/testing'
import type { Budgets } from '../../service/backends.ts'
import { geocoderServer } from '../../service/geocoder/server.ts'
import { startWorkers } from '../../service/worker.ts'
import { loadTestData } from '../service/fixtures.ts'
import { startService, type TestService } from '../service/support.ts'

const redisUrl = process.env.WEFT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

/** Options of {@link startFaultService}. */
export interface FaultServiceOptions {
  /** Configuration variables over the test defaults (`GEOCODER_URL` replaces the real geocoder). */
  env?: Record<string, string>
  budgets?: Partial<Budgets>
  /** Run the task worker in process, with the service's default concurrency (`WORKERS`). Default true. */
  worker?: boolean
  /** The service's connections to PostgreSQL at most. Default 10, as the service's own. */
  poolSize?: number
  /** Changes the loaded database before the service starts (a scenario's slow statement). */
  prepare?: (db: Database) => Promise<void>
}

/** The running service and what it runs on; `close` stops all of it and drops what it made. */
export interface FaultService extends AsyncDisposable {
  readonly service: TestService
  readonly url: string
  /** The service's database (the scenario's own client to it is {@link FaultService.admin}). */
  readonly database: TestDatabase
  /** A client of the test database apart from the service's pool, for the scenario's own reads. */
  readonly admin: Database
  /** Connections open to the geocoder this harness started (0 when `GEOCODER_URL` named another). */
  geocoderConnections(): Promise<number>
  close(): Promise<void>
}

/** Starts the service over real backends (see the module comment). */
export async function startFaultService(options: FaultServiceOptions = {}): Promise<FaultService> {
  const [database, memcached] = await Promise.all([createTestDatabase(), startMemcached({ servers: 3 })])
  const db = postgres(database.url, { max: options.poolSize ?? 10 })
  const admin = postgres(database.url, { max: 2 })
  const redisPrefix = `weft-faults-${randomBytes(4).toString('hex')}:`
  let geocoder: FastifyInstance | undefined
  let service: TestService | undefined
  const close = async (): Promise<void> => {
    await service?.close()
    await geocoder?.close()
    await Promise.all([db.close(), admin.close()])
    await Promise.all([database.drop(), memcached.stop(), deleteRedisKeys(redisPrefix)])
  }
  try {
    await loadTestData(db)
    await options.prepare?.(admin)
    const env: Record<string, string> = {
      MEMCACHE_SERVERS: memcached.addresses.join(','),
      REDIS_URL: redisUrl,
      REDIS_PREFIX: redisPrefix,
      QUEUE_PREFIX: redisPrefix.slice(0, -1), // BullMQ's prefix takes no ':'; it adds its own
      ...options.env,
    }
    if (env.GEOCODER_URL === undefined) {
      geocoder = await geocoderServer()
      env.GEOCODER_URL = await geocoder.listen({ host: '127.0.0.1', port: 0 })
    }
    service = await startService({
      db,
      env,
      ...(options.budgets !== undefined && { budgets: options.budgets }),
      worker: false,
    })
    if (options.worker !== false) {
      startWorkers(service.runtime.resources.queue, db, { concurrency: service.config.workers })
    }
  } catch (error) {
    await close()
    throw error
  }
  const geocoderConnections = () =>
    new Promise<number>((resolve, reject) => {
      if (geocoder === undefined) return resolve(0)
      geocoder.server.getConnections((error, count) => (error ? reject(error) : resolve(count)))
    })
  return {
    service,
    url: service.url,
    database,
    admin,
    geocoderConnections,
    close,
    [Symbol.asyncDispose]: close,
  }
}

/** Deletes every key under `prefix` from the shared Redis. */
async function deleteRedisKeys(prefix: string): Promise<void> {
  const redis = new IORedis(redisUrl, { lazyConnect: true })
  await redis.connect()
  try {
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 500 }) as AsyncIterable<
      string[]
    >) {
      if (keys.length > 0) await redis.del(...keys)
    }
  } finally {
    redis.disconnect()
  }
}

/** Milliseconds since `start` (a `performance.now()`), rounded to 0.1 ms. */
export function since(start: number): number {
  return Math.round((performance.now() - start) * 10) / 10
}

/** Runs `task(0)` to `task(count - 1)`, at most `concurrency` at once. */
export async function runConcurrently(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < count) await task(next++)
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane))
}

/** Polls `check` until it returns true, and says how long that took; fails after `timeout` ms. */
export async function timeUntil(check: () => Promise<boolean>, timeout = 30_000): Promise<number> {
  const start = performance.now()
  while (!(await check())) {
    if (performance.now() - start > timeout) throw new Error(`not recovered after ${timeout} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return since(start)
}
