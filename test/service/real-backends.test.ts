// The seed's behaviours on real servers: a PostgreSQL database created for the run (and dropped),
// a Redis server and three memcached servers of its own.

import { postgres } from 'weft/sql'
import { startMemcached, startRedisServer } from 'weft/testing'
import { createTestDatabase } from '../../src/testing/postgres.ts'
import { loadTestData } from './fixtures.ts'
import { searchSuite } from './search-suite.ts'

searchSuite('PostgreSQL, Redis and 3 memcached servers', async () => {
  const [database, memcached, redis] = await Promise.all([
    createTestDatabase(),
    startMemcached({ servers: 3 }),
    startRedisServer(),
  ])
  const db = postgres(database.url)
  await loadTestData(db)
  return {
    db,
    env: { MEMCACHE_SERVERS: memcached.addresses.join(','), REDIS_URL: redis.url },
    async close() {
      await db.close()
      await Promise.all([database.drop(), memcached.stop(), redis.stop()])
    },
  }
})
