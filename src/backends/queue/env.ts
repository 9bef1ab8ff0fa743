import type { Database } from 'weft/sql'
import { checkOptions, describe } from '../../core/validate.ts'
import { type PostgresQueueOptions, postgresQueue } from './postgres-queue.ts'
import { type RedisQueueOptions, redisQueue } from './redis-queue.ts'
import type { TaskQueue } from './task-queue.ts'

/** Options of {@link queueFromEnv}: those of either backend (each takes what applies to it). */
export type QueueFromEnvOptions = PostgresQueueOptions &
  Pick<RedisQueueOptions, 'connectTimeout' | 'commandTimeout'>

/**
 * The queue configuration names. `QUEUE_BACKEND` picks the backend: `postgres` (the default) keeps
 * the tasks in `db` (a server, or the embedded database: whatever `databaseFromEnv` opened), `redis`
 * keeps them on the Redis at `REDIS_URL` (required then), under the key prefix `QUEUE_PREFIX`
 * (default `weft`). `QUEUE_LEASE_MS` is how long a delivery holds its task without renewing the
 * lease (default 30 s; `options.lease` wins): how soon the task of a crashed worker is delivered
 * again. `options` apply to the chosen backend.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { embeddedDatabase } from 'weft/sql'
 * import { queueFromEnv } from 'weft/queue'
 * await using db = embeddedDatabase()
 * await using queue = queueFromEnv({}, db) // in a service: queueFromEnv(process.env, db)
 * assert.equal(queue.backend, 'pglite')
 * ```
 */
export function queueFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
  db?: Database,
  options: QueueFromEnvOptions = {},
): TaskQueue {
  const where = 'queueFromEnv()'
  if (env === null || typeof env !== 'object')
    throw new TypeError(`${where}: env must be an object, got ${describe(env)}`)
  checkOptions(where, options)
  const backend = (env.QUEUE_BACKEND ?? '').trim().toLowerCase() || 'postgres'
  const { table, pollInterval, connectTimeout, commandTimeout, ...given } = options
  const lease = given.lease ?? leaseFrom(env.QUEUE_LEASE_MS)
  const common = { ...given, ...(lease !== undefined && { lease }) }
  switch (backend) {
    case 'postgres': {
      if (db === undefined) {
        throw new TypeError(
          `${where}: QUEUE_BACKEND=postgres keeps the tasks in a database: pass db (from databaseFromEnv)`,
        )
      }
      return postgresQueue(db, {
        ...common,
        ...(table !== undefined && { table }),
        ...(pollInterval !== undefined && { pollInterval }),
      })
    }
    case 'redis': {
      const url = env.REDIS_URL?.trim()
      if (!url) throw new TypeError(`${where}: QUEUE_BACKEND=redis needs REDIS_URL (redis://host:port)`)
      const prefix = env.QUEUE_PREFIX?.trim()
      return redisQueue({
        ...common,
        url,
        ...(prefix && { prefix }),
        ...(connectTimeout !== undefined && { connectTimeout }),
        ...(commandTimeout !== undefined && { commandTimeout }),
      })
    }
    default:
      throw new TypeError(
        `${where}: QUEUE_BACKEND must be 'postgres' or 'redis', got ${JSON.stringify(env.QUEUE_BACKEND)}`,
      )
  }
}

/** `QUEUE_LEASE_MS`, when set: whole milliseconds, 10 or more (the least lease the queues take). */
function leaseFrom(text: string | undefined): number | undefined {
  const trimmed = text?.trim()
  if (!trimmed) return undefined
  if (!/^\d+$/.test(trimmed) || Number(trimmed) < 10) {
    throw new TypeError(
      `queueFromEnv(): QUEUE_LEASE_MS must be a whole number of milliseconds, 10 or more, got ${JSON.stringify(text)}`,
    )
  }
  return Number(trimmed)
}
