// Scenario 5: the task worker (`service/worker-main.ts`, a process of its own) SIGKILLed in the middle
// of its tasks. To catch it there, the scenario holds a lock on `ranking_log`, so every "log ranking
// decision" delivery waits inside its INSERT; then it kills the worker, lets the lock go and starts a
// new worker. The killed deliveries' leases run out (5 s: QUEUE_LEASE_MS; the default is 30 s), and
// the new worker delivers those tasks again: every task completes, none is lost, each ranking is
// logged once. On both queue backends: PostgreSQL (leases swept by the workers) and Redis (BullMQ's
// stalled-job check).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Queue } from 'bullmq'
import { Redis as IORedis } from 'ioredis'
import pg from 'pg'
import { since, timeUntil } from './in-process.ts'
import {
  assertAllAnswered,
  publish,
  type Servers,
  startLoad,
  startServers,
  startServiceProcess,
  startWorkerProcess,
  visitorAddress,
} from './service-process.ts'

const application = 'weft-fault-worker'

const task = 'log-ranking-decision'

/** The "log ranking decision" tasks as the queue holds them. */
interface QueueView {
  /** Ids of the tasks being delivered now. */
  active(): Promise<string[]>
  /** How many tasks are in each state (`done` for finished). */
  states(): Promise<Record<string, number>>
  /** Of the tasks `ids`, how many are done after a second delivery. */
  doneAfterRedelivery(ids: string[]): Promise<number>
  close(): Promise<void>
}

/** The tasks in PostgreSQL's `weft_tasks`. */
function postgresView(admin: pg.Client): QueueView {
  return {
    async active() {
      const { rows } = await admin.query<{ id: string }>(
        `SELECT id FROM weft_tasks WHERE name = $1 AND state = 'active'`,
        [task],
      )
      return rows.map((row) => row.id)
    },
    async states() {
      const { rows } = await admin.query<{ state: string; n: string }>(
        'SELECT state, count(*) AS n FROM weft_tasks WHERE name = $1 GROUP BY state',
        [task],
      )
      return Object.fromEntries(rows.map((row) => [row.state, Number(row.n)]))
    },
    async doneAfterRedelivery(ids) {
      const { rows } = await admin.query<{ n: string }>(
        `SELECT count(*) AS n FROM weft_tasks WHERE id = ANY($1) AND state = 'done' AND attempt = 2`,
        [ids],
      )
      return Number(rows[0]?.n ?? 0)
    },
    close: async () => {},
  }
}

/** The tasks as BullMQ jobs, under the queue's default prefix. */
function redisView(url: string): QueueView {
  const connection = new IORedis(url, { maxRetriesPerRequest: null })
  const queue = new Queue(task, { connection, prefix: 'weft' })
  return {
    active: async () => (await queue.getJobs(['active'])).map((job) => job.id as string),
    async states() {
      const counts = await queue.getJobCounts(
        'completed',
        'active',
        'wait',
        'delayed',
        'failed',
        'prioritized',
      )
      const { completed = 0, ...rest } = counts
      return Object.fromEntries([['done', completed], ...Object.entries(rest).filter(([, n]) => n > 0)])
    },
    async doneAfterRedelivery(ids) {
      const jobs = await Promise.all(ids.map((id) => queue.getJob(id)))
      // BullMQ's stalled-job check counts each delivery lost with its worker.
      return jobs.filter((job) => job?.finishedOn !== undefined && job.stalledCounter === 1).length
    },
    async close() {
      await queue.close()
      connection.disconnect()
    },
  }
}

/** How long a delivery holds its task: how soon the killed worker's tasks can be delivered again. */
const leaseMs = 5_000

/** Kills the worker mid-task with the tasks on `backend`, and reports the redelivery as `name`. */
async function workerKill(name: string, servers: Servers, backend: 'postgres' | 'redis') {
  const admin = new pg.Client({ connectionString: servers.database.url })
  const locker = new pg.Client({ connectionString: servers.database.url })
  const queueEnv = { QUEUE_BACKEND: backend, REDIS_URL: servers.redis.url, QUEUE_LEASE_MS: String(leaseMs) }
  const service = await startServiceProcess({ DATABASE_URL: servers.database.url, WORKERS: '0', ...queueEnv })
  // Named, so the scenario finds its connections; PostgreSQL checks every 100 ms that their client is
  // still there, as a production server would with TCP keepalives, only sooner.
  const workerUrl = new URL(servers.database.url)
  workerUrl.searchParams.set('application_name', application)
  workerUrl.searchParams.set('options', '-c client_connection_check_interval=100')
  const workerEnv = { DATABASE_URL: workerUrl.toString(), WORKERS: '4', ...queueEnv }
  let worker = await startWorkerProcess(workerEnv)
  await Promise.all([admin.connect(), locker.connect()])
  const view = backend === 'postgres' ? postgresView(admin) : redisView(servers.redis.url)
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
    const active = await view.active()

    const killedAt = performance.now()
    await worker.kill()
    // Its server-side sessions end once PostgreSQL sees the client gone; their inserts are rolled back.
    const orphansGoneMs = await timeUntil(async () => (await waiting()) === 0, 10_000)
    await locker.query('ROLLBACK')
    worker = await startWorkerProcess(workerEnv)
    const redeliveredMs = await timeUntil(
      async () => Object.keys(await view.states()).every((state) => state === 'done'),
      60_000,
    )
    const completedAfterKillMs = since(killedAt)

    const byState = await view.states()
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
      killedTasksDeliveredAgain: await view.doneAfterRedelivery(active),
      orphanedQueriesEndedMs: orphansGoneMs,
      recoveryMs: redeliveredMs,
      completedAfterKillMs,
      leaseMs,
      rankingsLogged,
      answers: answers.length,
      queue: backend,
    }
    await publish(name, figures)

    assertAllAnswered(load.tally)
    assert.equal(active.length, 4)
    assert.equal(figures.killedTasksDeliveredAgain, active.length)
    assert.equal(figures.tasks.lost, 0)
    assert.equal(rankingsLogged, answers.length) // each once: ranking_log's key is the request
    assert.equal(await count('SELECT count(*) - count(DISTINCT request_id) AS n FROM ranking_log'), 0)
  } finally {
    await locker.query('ROLLBACK').catch(() => {})
    await worker.stop()
    await service.stop()
    await view.close()
    await Promise.all([admin.end(), locker.end()])
  }
}

test('scenario 5: the worker SIGKILLed mid-task; a new worker delivers its tasks again and they complete', async () => {
  await using servers = await startServers()
  await workerKill('worker killed mid-task', servers, 'postgres')
})

test('scenario 5, Redis queue: the BullMQ worker SIGKILLed mid-task; its jobs are delivered again and complete', async () => {
  await using servers = await startServers()
  await workerKill('worker killed mid-task (Redis queue)', servers, 'redis')
})
