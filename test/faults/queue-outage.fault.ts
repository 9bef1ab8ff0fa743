// Scenario 2: the Redis behind the task queue (`QUEUE_BACKEND=redis`, BullMQ) SIGKILLed for 10 s
// under load, then started again on its port. Redis runs as the queue asks of it for durability
// (append-only file, fsync at every write), so what it acknowledged survives the crash.
//
// Every search still answers 200. While Redis is down an enqueue fails at once and clearly (the
// answer says "session not saved", naming the queue; the step-5 enqueues after the response are
// reported in the service's log); nothing waits in a client-side buffer. Afterwards every task whose
// enqueue was accepted is processed: accepted = processed, 0 lost, counted per task, by identity
// where the client can see it (the new session of each answer, the ranking of each answer).
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { Queue } from 'bullmq'
import { Redis as IORedis } from 'ioredis'
import pg from 'pg'
import { redisQueue } from 'weft/queue'
import { since, timeUntil } from './in-process.ts'
import { reportScenario } from './report.ts'
import {
  type Answer,
  phase,
  searchText,
  startLoad,
  startServers,
  startServiceProcess,
  tallyBetween,
  visitorAddress,
} from './service-process.ts'

const outageMs = 10_000
const taskNames = ['save-session', 'update-session', 'log-ranking-decision'] as const

/** The queue's failure notes in an answer (step 1's "save session" enqueue). */
const queueNotes = (answer: Answer): { effect: string; error: string }[] =>
  answer.body?.degraded?.filter((d: { backend: string }) => d.backend === 'queue') ?? []

/** The dedupe keys of the finished jobs of task `name` (BullMQ keeps them for an hour). */
async function finishedKeys(url: string, name: string): Promise<Set<string>> {
  const connection = new IORedis(url, { maxRetriesPerRequest: null })
  const queue = new Queue(name, { connection, prefix: 'weft' })
  try {
    const jobs = await queue.getJobs(['completed'], 0, -1)
    return new Set(jobs.map((job) => (job.data as { dedupeKey?: string }).dedupeKey ?? ''))
  } finally {
    await queue.close()
    connection.disconnect()
  }
}

test('scenario 2: Redis (the queue) killed for 10 s under load; enqueues fail clearly, and every accepted task is processed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-queue-outage-'))
  await using servers = await startServers({
    args: ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir],
  })
  const url = servers.redis.url
  const service = await startServiceProcess({
    DATABASE_URL: servers.database.url,
    MEMCACHE_SERVERS: servers.memcached.addresses.join(','),
    REDIS_URL: url,
    QUEUE_BACKEND: 'redis',
    WORKERS: '4',
  })
  const db = new pg.Client({ connectionString: servers.database.url })
  await db.connect()
  const queue = redisQueue({ url })
  try {
    // New visitors only: each answer that does not say "session not saved" had its save accepted.
    const load = startLoad({
      url: service.url,
      concurrency: 8,
      request: (i) => ({
        path: `/search?q=${searchText(i % 300)}&limit=5`,
        headers: { 'x-forwarded-for': visitorAddress(i) },
      }),
    })
    await phase(3000)
    const killedAt = performance.now()
    await servers.redis.kill()
    await phase(outageMs)
    await servers.restartRedis()
    const restartedAt = performance.now()
    await phase(5000)
    await load.stop()

    // Drained: nothing queued or running, on any task name.
    const drainedMs = await timeUntil(async () => {
      const stats = await queue.stats()
      return taskNames.every((name) => (stats[name]?.queued ?? 0) + (stats[name]?.active ?? 0) === 0)
    }, 60_000)
    const stats = await queue.stats()

    const answered = load.answers.filter((a) => a.status === 200)
    const failuresLogged = (task: string) =>
      service.logs().filter((line) => line.includes(`side effect \\"${task}\\" failed`)).length
    // save-session: by identity, each accepted session's job among the finished ones.
    const saved = answered.filter((a) => a.body.session.new && queueNotes(a).length === 0)
    const savedKeys = await finishedKeys(servers.redis.url, 'save-session')
    const saveProcessed = saved.filter((a) => savedKeys.has(`save ${a.body.session.id}`)).length
    // log-ranking-decision: by identity, each answer's ranking in ranking_log.
    const logged = Number(
      (
        await db.query<{ n: string }>('SELECT count(*) AS n FROM ranking_log WHERE trace_id = ANY($1)', [
          answered.map((a) => a.body.traceId),
        ])
      ).rows[0]?.n,
    )
    const logFailures = failuresLogged('log-ranking-decision')
    const logAccepted = answered.length - logFailures
    // update-session: by count, every accepted one among the finished jobs.
    const updateFailures = failuresLogged('update-session')
    const updateAccepted = answered.length - updateFailures
    const updateProcessed = stats['update-session']?.done ?? 0
    const perTask = {
      'save-session': {
        accepted: saved.length,
        processed: saveProcessed,
        failedClearly: answered.length - saved.length,
      },
      'log-ranking-decision': {
        accepted: logAccepted,
        processed: Math.min(logged, logAccepted),
        failedClearly: logFailures,
        processedThoughFailed: Math.max(0, logged - logAccepted),
      },
      'update-session': {
        accepted: updateAccepted,
        processed: Math.min(updateProcessed, updateAccepted),
        failedClearly: updateFailures,
      },
    }
    const accepted = Object.values(perTask).reduce((sum, task) => sum + task.accepted, 0)
    const processed = Object.values(perTask).reduce((sum, task) => sum + task.processed, 0)
    const during = load.answers.filter((a) => a.start >= killedAt && a.start < restartedAt)
    const errors = [
      ...new Set(
        during.flatMap((a) =>
          queueNotes(a).map((note) => note.error.replace(/127\.0\.0\.1:\d+/g, '<redis>')),
        ),
      ),
    ]
    // Recovered once a search started after the restart had its session saved.
    const firstSaved = Math.min(
      ...load.answers
        .filter((a) => a.start >= restartedAt && a.status === 200 && queueNotes(a).length === 0)
        .map((a) => a.end),
    )
    const figures = {
      requests: load.tally.requests,
      statuses: load.tally.statuses,
      tasks: { accepted, processed, lost: accepted - processed },
      perTask,
      recoveryMs: Math.round(firstSaved - restartedAt),
      outageMs: Math.round(restartedAt - killedAt),
      duringOutage: {
        requests: during.length,
        statuses: tallyBetween(load.answers, killedAt, restartedAt).statuses,
        sessionNotSaved: during.filter((a) => queueNotes(a).length > 0).length,
        enqueueErrors: errors,
      },
      drainedAfterLoadMs: drainedMs,
      deadLetters: taskNames.reduce((sum, name) => sum + (stats[name]?.dead ?? 0), 0),
      redis: 'appendonly yes, appendfsync always',
      scenarioMs: since(killedAt - 3000),
    }
    await reportScenario('queue (Redis) down for 10 s', figures)
    console.log(JSON.stringify(figures, null, 2))

    assert.equal(
      load.tally.count((status) => status === 200),
      0,
      JSON.stringify(load.tally.statuses),
    )
    assert.ok(figures.duringOutage.sessionNotSaved > 0, 'the outage did reach the enqueues')
    assert.equal(figures.tasks.lost, 0, JSON.stringify(perTask))
    assert.equal(perTask['save-session'].processed, perTask['save-session'].accepted)
    assert.equal(figures.deadLetters, 0)
  } finally {
    await queue.close()
    await db.end()
    await service.stop()
    rmSync(dir, { recursive: true, force: true })
  }
})
