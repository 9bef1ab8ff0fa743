// Scenario 1: one of three memcached shards SIGKILLed under load. Every search still answers 200:
// what the shard cached comes from the database, and the rate limiter on it fails open (the choice
// documented in service/pipeline.ts: counting nothing for a few seconds beats refusing everyone).
// Restarted on its port, empty, the shard gets traffic again within 5 s (the client's reconnection
// backoff is at most 2 s).
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { test } from 'node:test'
import { since, timeUntil } from './in-process.ts'
import { reportScenario } from './report.ts'
import {
  percentile,
  phase,
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

test('scenario 1: a memcached shard SIGKILLed under load; every search answers 200; restarted, the shard serves again within 5 s', async () => {
  await using servers = await startServers()
  const service = await startServiceProcess({
    DATABASE_URL: servers.database.url,
    MEMCACHE_SERVERS: servers.memcached.addresses.join(','),
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
    const victimAddress = servers.memcached.addresses[victim] as string
    await phase(3000)
    const killedAt = performance.now()
    await servers.memcached.kill(victim)
    await phase(outageMs)
    await servers.memcached.restart(victim)
    const restartedAt = performance.now()
    // The restarted server counts from 0: any command it served came from the service.
    const recoveryMs = await timeUntil(async () => (await commandsServed(victimAddress)) > 0, 10_000)
    await phase(2000)
    await load.stop()
    const end = performance.now()

    const during = load.answers.filter((a) => a.start >= killedAt && a.start < restartedAt)
    const before = load.answers.filter((a) => a.start < killedAt)
    const latency = (answers: typeof during) => ({
      p50Ms: percentile(
        answers.map((a) => a.end - a.start),
        50,
      ),
      p99Ms: percentile(
        answers.map((a) => a.end - a.start),
        99,
      ),
    })
    const degraded = (effect: RegExp) =>
      during.filter((a) => a.body?.degraded?.some((d: { effect: string }) => effect.test(d.effect))).length
    const figures = {
      requests: load.tally.requests,
      statuses: load.tally.statuses,
      recoveryMs,
      outageMs: Math.round(restartedAt - killedAt),
      limiters: 'fail open',
      duringOutage: {
        requests: during.length,
        statuses: tallyBetween(load.answers, killedAt, restartedAt).statuses,
        rateLimitFailedOpen: degraded(/rate limit failed open/),
        cacheSkipped: degraded(/not cached|read from the database/),
        latency: latency(during),
      },
      latencyBefore: latency(before),
      afterRestart: {
        requests: load.answers.filter((a) => a.start >= restartedAt).length,
        statuses: tallyBetween(load.answers, restartedAt, end).statuses,
      },
      shardCommandsAfterRestart: await commandsServed(victimAddress),
      scenarioMs: since(killedAt - 3000),
    }
    await reportScenario('memcached shard killed', figures)
    console.log(JSON.stringify(figures, null, 2))

    assert.equal(
      load.tally.count((status) => status === 200),
      0,
      JSON.stringify(load.tally.statuses),
    )
    assert.ok(during.length > 50, `only ${during.length} requests during the outage`)
    assert.ok(figures.duringOutage.rateLimitFailedOpen > 0, 'the limiter on the dead shard failed open')
    assert.ok(recoveryMs < 5000, `the restarted shard served again after ${recoveryMs} ms`)
  } finally {
    await service.stop()
  }
})
