// Scenario 5: the task worker (`service/worker-main.ts`, a process of its own) SIGKILLed in the middle
// of its tasks. To catch it there, the scenario holds a lock on `ranking_log`, so every "log ranking
// decision" delivery waits inside its INSERT; then it kills the worker, lets the lock go and starts a
// new worker. The killed deliveries' leases run out (30 s, the queue's default), and the new worker
// delivers those tasks again: every task completes, none is lost, each ranking is logged once.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import pg from 'pg'
import { since, timeUntil } from './in-process.ts'
import { reportScenario } from './report.ts'
import {
  startLoad,
  startServers,
  startServiceProcess,
  startWorkerProcess,
  visitorAddress,
} from './service-process.ts'

const application = 'weft-fault-worker'

test('scenario 5: the worker SIGKILLed mid-task; a new worker delivers its tasks again and they complete', async () => {
  await using servers = await startServers()
  const admin = new pg.Client({ connectionString: servers.database.url })
  const locker = new pg.Client({ connectionString: servers.database.url })
  const service = await startServiceProcess({ DATABASE_URL: servers.database.url, WORKERS: '0' })
  // Named, so the scenario finds its connections; PostgreSQL checks every 100 ms that their client is
  // still there, as a production server would with TCP keepalives, only sooner.
  const workerUrl = new URL(servers.database.url)
  workerUrl.searchParams.set('application_name', application)
  workerUrl.searchParams.set('options', '-c client_connection_check_interval=100')
  const workerEnv = { DATABASE_URL: workerUrl.toString(), WORKERS: '4' }
  let worker = await startWorkerProcess(workerEnv)
  await Promise.all([admin.connect(), locker.connect()])
  const count = async (sql: string, params: unknown[] = []): Promise<number> =>
    Number((await admin.query<{ n: string }>(sql, params)).rows[0]?.n ?? 0)
  try {
    const logged = () => count('SELECT count(*) AS n FROM ranking_log')
    const waiting = () =>
      count(
        `SELECT count(*) AS n FROM pg_stat_activity
         WHERE application_name = $1 AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO ranking_log%'`,
        [application],
      )

    // The worker at work: a few searches, their rankings logged.
    const search = async (i: number) => {
      const response = await fetch(`${service.url}/search?q=lis&limit=5`, {
        headers: { 'x-forwarded-for': visitorAddress(i) },
      })
      assert.equal(response.status, 200)
      return (await response.json()) as { traceId: string }
    }
    for (let i = 0; i < 5; i++) await search(i)
    await timeUntil(async () => (await logged()) === 5)

    // Every ranking insert now waits for the lock: the deliveries are in the middle of their task.
    await locker.query('BEGIN')
    await locker.query('LOCK TABLE ranking_log IN SHARE MODE')
    const load = startLoad({
      url: service.url,
      concurrency: 4,
      request: (i) => ({
        path: '/search?q=por&limit=5',
        headers: { 'x-forwarded-for': visitorAddress(100 + i) },
      }),
    })
    await timeUntil(async () => (await waiting()) === 4, 20_000) // the worker's 4 slots, all stuck
    await load.stop()
    const active = (
      await admin.query<{ id: string }>(
        `SELECT id FROM weft_tasks WHERE name = 'log-ranking-decision' AND state = 'active'`,
      )
    ).rows.map((row) => row.id)

    const killedAt = performance.now()
    await worker.kill()
    // Its server-side sessions end once PostgreSQL sees the client gone; their inserts are rolled back.
    const orphansGoneMs = await timeUntil(async () => (await waiting()) === 0, 10_000)
    await locker.query('ROLLBACK')
    worker = await startWorkerProcess(workerEnv)
    const tasks = () =>
      admin.query<{ state: string; n: string }>(
        `SELECT state, count(*) AS n FROM weft_tasks WHERE name = 'log-ranking-decision' GROUP BY state`,
      )
    const redeliveredMs = await timeUntil(async () => {
      const { rows } = await tasks()
      return rows.every((row) => row.state === 'done')
    }, 60_000)
    const completedAfterKillMs = since(killedAt)

    const byState = Object.fromEntries((await tasks()).rows.map((row) => [row.state, Number(row.n)]))
    const killed = (
      await admin.query<{ state: string; attempt: number; last_error: string | null }>(
        'SELECT state, attempt, last_error FROM weft_tasks WHERE id = ANY($1)',
        [active],
      )
    ).rows
    const answers = load.answers.filter((a) => a.status === 200)
    const traceIds = answers.map((a) => a.body.traceId as string)
    const rankingsLogged = await count('SELECT count(*) AS n FROM ranking_log WHERE trace_id = ANY($1)', [
      traceIds,
    ])
    const accepted = Object.values(byState).reduce((sum, n) => sum + n, 0)
    const figures = {
      requests: load.tally.requests + 5,
      statuses: { ...load.tally.statuses, 200: (load.tally.statuses[200] ?? 0) + 5 },
      tasks: { accepted, processed: byState.done ?? 0, lost: accepted - (byState.done ?? 0) },
      killedMidTask: active.length,
      killedTasksDeliveredAgain: killed.filter((row) => row.state === 'done' && row.attempt === 2).length,
      orphanedQueriesEndedMs: orphansGoneMs,
      recoveryMs: redeliveredMs,
      completedAfterKillMs,
      leaseMs: 30_000,
      rankingsLogged,
      answers: answers.length,
      lastErrorOfAKilledTask: killed[0]?.last_error ?? null,
    }
    await reportScenario('worker killed mid-task', figures)
    console.log(JSON.stringify(figures, null, 2))

    assert.equal(
      load.tally.count((status) => status === 200),
      0,
    )
    assert.equal(active.length, 4)
    assert.equal(figures.killedTasksDeliveredAgain, active.length)
    assert.equal(figures.tasks.lost, 0)
    assert.equal(rankingsLogged, answers.length) // each once: ranking_log's key is the request
    assert.equal(await count('SELECT count(*) - count(DISTINCT request_id) AS n FROM ranking_log'), 0)
  } finally {
    await locker.query('ROLLBACK').catch(() => {})
    await worker.stop()
    await service.stop()
    await Promise.all([admin.end(), locker.end()])
  }
})
