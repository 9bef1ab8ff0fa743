import { after, before } from 'node:test'
import { embeddedMemcache, memcacheClient } from 'weft/memcache'
import { type MemcachedServers, startMemcached } from '../../../src/testing/memcached.ts'
import { memcacheContract } from './contract.ts'

let memcached: MemcachedServers
before(async () => {
  memcached = await startMemcached({ servers: 3 })
})
after(() => memcached.stop())

memcacheContract('3 memcached servers over TCP', (options) =>
  memcacheClient({ ...options, servers: memcached.addresses }),
)
memcacheContract('embedded, 3 shards', (options) => embeddedMemcache({ ...options, shards: 3 }))
