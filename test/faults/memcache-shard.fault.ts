// Scenario 1: one of three memcached shards SIGKILLed under load (and, apart, blackholed by a fault
// proxy: a host that stops answering, which costs every call its budget instead of failing at once).
// Every search still answers 200: what the shard cached comes from the database, and the rate limiter
// on it fails open (the choice documented in service/pipeline.ts: counting nothing for a few seconds
// beats refusing everyone). Back (restarted on its port, empty; or reachable again), the shard gets
// traffic again within 5 s (the client's reconnection backoff is at most 2 s).
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { test } from 'node:test'
import { type FaultProxy, startFaultProxy } from 'weft/testing'
import { since, timeUntil } from './in-process.ts'
import {
  assertAllAnswered,
  latency,
  phase,
  publish,
  type Servers,
  startLoad,
  startServers,
  startServiceProcess,
  tallyBetween,
  visitorAddress,
} from './service-process.ts'

/** The killed shard: the network limiter's (limiter i is on shard i modulo the shard count). */
const victim = 1
const outageMs = 5000

/** Commands a memcached server has served since it started (its `stats`). */
function commandsServed(address: string): Promise<number> {
  const [host, port] = address.split(':')
  return new Promise((resolve) => {
    const socket = connect({ host: host as string, port: Number(port) })
    let text = ''
    socket.on('error', () => resolve(0))
    socket.once('connect', () => socket.write('stats\r\n'))
    socket.setEncoding('latin1').on('data', (chunk: string) => {
      text += chunk
      if (!text.endsWith('END\r\n')) return
      socket.destroy()
      const stat = (name: string) => Number(new RegExp(`STAT ${name} (\\d+)`).exec(text)?.[1] ?? 0)
      resolve(stat('cmd_get') + stat('cmd_set') + stat('incr_hits') + stat('incr_misses') + stat('cmd_touch'))
    })
  })
}

/** A fault of the victim shard: `start` it, `end` it; `served` counts the commands it served since `end`. */
interface ShardFault {
  start(): Promise<void>
  end(): Promise<void>
  served(): Promise<number>
}

/**
 * Runs the service under load over `memcacheServers`, with `fault` on the victim shard for
 * {@link outageMs}; reports and checks the guarantees under `name`.
 */
async function shardOutage(name: string, servers: Servers, memcacheServers: string[], fault: ShardFault) {
  const service = await startServiceProcess({
    DATABASE_URL: servers.database.url,
    MEMCACHE_SERVERS: memcacheServers.join(','),
    REDIS_URL: servers.redis.url,
    WORKERS: '2',
  })
  try {
    // Returning visitors (a session in memcache, on any shard) and new ones, searching 40 texts that
    // are soon cached: the cache is what the fault takes away.
    const cookies: string[] = []
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`${service.url}/search?q=lis`, {
        headers: { 'x-forwarded-for': visitorAddress(i) },
      })
      await response.text()
      cookies.push(response.headers.get('set-cookie')?.split(';')[0] as string)
    }
    const texts = ['lis', 'por', 'bra', 'coi', 'fa', 'ave', 'sin', 'ev', 'set', 'vis']
    const load = startLoad({
      url: service.url,
      concurrency: 8,
      request: (i) => ({
        path: `/search?q=${texts[i % texts.length]}${i % 4 === 0 ? '' : 'a'.repeat((i >> 2) % 4)}&limit=10`,
        headers: {
          'x-forwarded-for': visitorAddress(i % 600),
          ...(i % 2 === 0 && { cookie: cookies[i % cookies.length] as string }),
        },
      }),
    })
    await phase(3000)
    const faultAt = performance.now()
    await fault.start()
    await phase(outageMs)
    await fault.end()
    const endedAt = performance.now()
    const recoveryMs = await timeUntil(async () => (await fault.served()) > 0, 10_000)
    await phase(2000)
    await load.stop()
    const end = performance.now()

    const during = load.answers.filter((a) => a.start >= faultAt && a.start < endedAt)
    const before = load.answers.filter((a) => a.start < faultAt)
    const degraded = (effect: RegExp) =>
      during.filter((a) => a.body?.degraded?.some((d: { effect: string }) => effect.test(d.effect))).length
    const figures = {
      requests: load.tally.requests,
      statuses: load.tally.statuses,
      recoveryMs,
      outageMs: Math.round(endedAt - faultAt),
      limiters: 'fail open',
      duringOutage: {
        requests: during.length,
        statuses: tallyBetween(load.answers, faultAt, endedAt).statuses,
        rateLimitFailedOpen: degraded(/rate limit failed open/),
        cacheSkipped: degraded(/not cached|read from the database/),
        latency: latency(during),
      },
      latencyBefore: latency(before),
      afterOutage: {
        requests: load.answers.filter((a) => a.start >= endedAt).length,
        statuses: tallyBetween(load.answers, endedAt, end).statuses,
      },
      shardCommandsAfterOutage: await fault.served(),
      scenarioMs: since(faultAt - 3000),
    }
    await publish(name, figures)

    assertAllAnswered(load.tally)
    assert.ok(during.length > 50, `only ${during.length} requests during the outage`)
    assert.ok(figures.duringOutage.rateLimitFailedOpen > 0, 'the limiter on the lost shard failed open')
    assert.ok(recoveryMs < 5000, `the shard served again after ${recoveryMs} ms`)
  } finally {
    await service.stop()
  }
}

test('scenario 1: a memcached shard SIGKILLed under load; every search answers 200; restarted, the shard serves again within 5 s', async () => {
  await using servers = await startServers()
  const address = servers.memcached.addresses[victim] as string
  await shardOutage('memcached shard killed', servers, [...servers.memcached.addresses], {
    start: () => servers.memcached.kill(victim),
    end: () => servers.memcached.restart(victim),
    // The restarted server counts from 0: any command it served came from the service.
    served: () => commandsServed(address),
  })
})

test('scenario 1, blackholed: a memcached shard that stops answering (fault proxy) costs each call its budget, never a failed search', async () => {
  await using servers = await startServers()
  const proxies: FaultProxy[] = []
  try {
    for (const target of servers.memcached.addresses) proxies.push(await startFaultProxy({ target }))
    const proxy = proxies[victim] as FaultProxy
    const address = servers.memcached.addresses[victim] as string
    let servedBefore = 0
    await shardOutage(
      'memcached shard blackholed',
      servers,
      proxies.map((p) => p.address),
      {
        start: () => proxy.drop('blackhole'),
        end: async () => {
          servedBefore = await commandsServed(address) // nothing got through the blackhole since
          await proxy.restore()
        },
        served: async () => (await commandsServed(address)) - servedBefore,
      },
    )
  } finally {
    await Promise.all(proxies.map((p) => p.close()))
  }
})
