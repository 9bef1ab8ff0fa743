// Scenario 3: PostgreSQL slowed to 2 s per query (a fault proxy adds 2 s to every message the service
// sends it) under load, with a request budget of 1 s. Searches the cache cannot answer end at their
// deadline with a 503 or 504 (measured by the client: within the deadline + 50 ms), nothing else
// fails; the pool does not stay exhausted (within 2 s of the slowdown's end, every search answers
// 200 again), and no query is left running on the server.
import assert from 'node:assert/strict'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { test } from 'node:test'
import pg from 'pg'
import { startFaultProxy } from 'weft/testing'
import {
  percentile,
  phase,
  publish,
  searchText,
  startLoad,
  startServers,
  startServiceProcess,
  tallyBetween,
  visitorAddress,
} from './service-process.ts'

const deadline = 1000
const slowdown = { latency: 2000, lasts: 8000 }

/**
 * Queries of `database` (from anyone but the asker) busy for more than a second: any of them now,
 * seconds after the slowdown, would be a query the service abandoned without cancelling it.
 */
async function leftRunning(database: string): Promise<{ count: number; longestMs: number }> {
  const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' })
  await client.connect()
  try {
    const { rows } = await client.query<{ count: string; longest: number | null }>(
      `SELECT count(*) AS count, max(extract(epoch FROM clock_timestamp() - state_change) * 1000)::float8 AS longest
       FROM pg_stat_activity
       WHERE datname = $1 AND state <> 'idle' AND pid <> pg_backend_pid()
         AND clock_timestamp() - state_change > interval '1 second'`,
      [database],
    )
    return { count: Number(rows[0]?.count ?? 0), longestMs: Math.round(rows[0]?.longest ?? 0) }
  } finally {
    await client.end()
  }
}

test('scenario 3: PostgreSQL at 2 s per query; searches end at their deadline with 503/504, and all answer 200 within 2 s of the end', async () => {
  await using servers = await startServers()
  await using proxy = await startFaultProxy({ target: '127.0.0.1:5432' })
  const databaseUrl = `postgres://postgres@${proxy.address}/${servers.database.name}`
  const service = await startServiceProcess({
    DATABASE_URL: databaseUrl,
    MEMCACHE_SERVERS: servers.memcached.addresses.join(','),
    REDIS_URL: servers.redis.url,
    WORKERS: '2',
    REQUEST_TIMEOUT_MS: String(deadline),
  })
  try {
    // A new text and a new address almost every time: the database's work, not the cache's.
    const load = startLoad({
      url: service.url,
      concurrency: 8,
      request: (i) => ({
        path: `/search?q=${searchText(i)}&limit=10`,
        headers: { 'x-forwarded-for': visitorAddress(i % 20_000) },
      }),
    })
    await phase(3000)
    // How late this machine runs timers meanwhile: a 504 cannot leave before the service's deadline
    // timer fires, and on a busy machine (2 shared cores) that timer can be late by more than 50 ms.
    const loopDelay = monitorEventLoopDelay({ resolution: 10 })
    loopDelay.enable()
    const slowAt = performance.now()
    proxy.latency(slowdown.latency, 'upstream')
    await phase(slowdown.lasts)
    await proxy.restore()
    const endedAt = performance.now()
    await phase(4000)
    await load.stop()
    loopDelay.disable()
    const timersLateMs = Math.round(loopDelay.max / 1e5) / 10
    const running = await leftRunning(servers.database.name)

    const duration = (a: { start: number; end: number }) => a.end - a.start
    const during = load.answers.filter((a) => a.start >= slowAt && a.start < endedAt)
    const refused = load.answers.filter((a) => a.status !== 200)
    const after = load.answers.filter((a) => a.start >= endedAt)
    // Recovered once a search started after the slowdown has answered 200, and none after it failed.
    const firstSuccess = Math.min(...after.filter((a) => a.status === 200).map((a) => a.end))
    const lastFailure = Math.max(firstSuccess, ...after.filter((a) => a.status !== 200).map((a) => a.end))
    const figures = {
      requests: load.tally.requests,
      statuses: load.tally.statuses,
      recoveryMs: Math.round(lastFailure - endedAt),
      deadlineMs: deadline,
      slowdownMs: Math.round(endedAt - slowAt),
      addedLatencyMs: slowdown.latency,
      duringSlowdown: {
        requests: during.length,
        statuses: tallyBetween(load.answers, slowAt, endedAt).statuses,
        codes: Object.fromEntries(
          Object.entries(
            Object.groupBy(
              during.filter((a) => a.status !== 200),
              (a) => String(a.body?.code),
            ),
          ).map(([code, answers]) => [code, answers?.length ?? 0]),
        ),
        durationP50Ms: percentile(during.map(duration), 50),
        durationMaxMs: percentile(during.map(duration), 100),
      },
      maxOvershootMs: Math.round((Math.max(0, ...load.answers.map(duration)) - deadline) * 10) / 10,
      overshootOver50Ms: load.answers.filter((a) => duration(a) > deadline + 50).length,
      machineTimersLateMaxMs: timersLateMs,
      afterSlowdown: {
        requests: after.length,
        statuses: tallyBetween(load.answers, endedAt, Infinity).statuses,
      },
      queriesLeftRunning: running.count,
      proxyConnections: proxy.stats().connections,
    }
    await publish('PostgreSQL slowed to 2 s per query', figures)

    const unexpected = refused.filter((a) => a.status !== 503 && a.status !== 504)
    assert.deepEqual(
      unexpected.map((a) => a.body),
      [],
    )
    assert.ok(
      during.filter((a) => a.status !== 200).length > 10,
      'the slowdown refused searches (it did reach the database)',
    )
    // 50 ms past the deadline at most, beyond what the machine itself delayed timers by.
    assert.ok(
      figures.maxOvershootMs <= 50 + timersLateMs,
      `a search took ${figures.maxOvershootMs} ms past its deadline (timers ran up to ${timersLateMs} ms late)`,
    )
    assert.ok(figures.recoveryMs <= 2000, `searches failed until ${figures.recoveryMs} ms after the slowdown`)
    assert.ok(after.filter((a) => a.status === 200).length > 50)
    assert.equal(
      running.count,
      0,
      `${running.count} queries still running, for up to ${running.longestMs} ms`,
    )
  } finally {
    await service.stop()
  }
})
