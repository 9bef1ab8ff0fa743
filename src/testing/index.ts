/** `weft/testing`: deterministic time, fault injection, and throwaway servers for tests of code built on weft. */
export {
  type FaultDirection,
  type FaultMode,
  type FaultProxy,
  type FaultProxyOptions,
  type FaultProxyStats,
  startFaultProxy,
} from './fault-proxy.ts'
export { type FaultPlan, type Faulty, seededRandom, withFaults } from './faults.ts'
export { type MemcachedServers, type StartMemcachedOptions, startMemcached } from './memcached.ts'
export { createTestDatabase, type TestDatabase, type TestDatabaseOptions } from './postgres.ts'
export { type RedisServer, type RedisServerOptions, startRedisServer } from './redis.ts'
export { VirtualClock, withVirtualClock } from './virtual-clock.ts'
