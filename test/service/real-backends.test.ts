// The seed's behaviours on real servers: a PostgreSQL database created for the run (and dropped),
// a Redis server and three memcached servers of their own; the task queue in PostgreSQL, then on Redis.
import { postgres } from 'weft/sql'
import { startMemcached, startRedisServer } from 'weft/testing'
import { createTestDatabase } from '../../src/testing/postgres.ts'
import { loadTestData } from './fixtures.ts'
import { type Backing, searchSuite } from './search-suite.ts'

async function servers(env: Record<string, string> = {}): Promise<Backing> {
  const [database, memcached, redis] = await Promise.all([
    createTestDatabase(),
    startMemcached({ servers: 3 }),
    startRedisServer(),
  ])
  const db = postgres(database.url)
  await loadTestData(db)
  return {
    db,
    env: { MEMCACHE_SERVERS: memcached.addresses.join(','), REDIS_URL: redis.url, ...env },
    async close() {
      await db.close()
      await Promise.all([database.drop(), memcached.stop(), redis.stop()])
    },
  }
}

searchSuite('PostgreSQL, Redis and 3 memcached servers', () => servers())
searchSuite('PostgreSQL, Redis (the task queue too) and 3 memcached servers', () =>
  servers({ QUEUE_BACKEND: 'redis' }),
)
