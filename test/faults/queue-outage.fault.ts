// Scenario 2: the Redis behind the task queue (`QUEUE_BACKEND=redis`, BullMQ) SIGKILLed for 10 s
// under load, then started again on its port. Redis runs as the queue asks of it for durability
// (append-only file, fsync at every write), so what it acknowledged survives the crash.
//
// Every search still answers 200. While Redis is down an enqueue fails at once and clearly (the
// answer says "session not saved", naming the queue; the step-5 enqueues after the response are
// reported in the service's log); nothing waits in a client-side buffer. Apart, Redis unreachable
// with every byte held by a fault proxy (a partition that heals): enqueues end at the queue's budget,
// and those Redis gets after all are processed though the service was told they failed (the dedupe
// keys and idempotent handlers make that harmless). Afterwards every task whose
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
import { startFaultProxy } from 'weft/testing'
import { since, timeUntil } from './in-process.ts'
import {
  type Answer,
  assertAllAnswered,
  phase,
  publish,
  type Servers,
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

/** The queue's outage: `start` it, `end` it. */
interface Outage {
  start(): Promise<void>
  end(): Promise<void>
}

/** The service over `servers`, its Redis at `redisUrl`, under load, through `outage`; reported as `name`. */
async function queueOutage(name: string, servers: Servers, redisUrl: string, outage: Outage) {
  const service = await startServiceProcess({
    DATABASE_URL: servers.database.url,
    MEMCACHE_SERVERS: servers.memcached.addresses.join(','),
    REDIS_URL: redisUrl,
    QUEUE_BACKEND: 'redis',
    WORKERS: '4',
  })
  const db = new pg.Client({ connectionString: servers.database.url })
  await db.connect()
  const queue = redisQueue({ url: servers.redis.url })
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
    await outage.start()
    await phase(outageMs)
    await outage.end()
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
    // save-session, by identity: the answer says whether its enqueue was accepted; its job is found
    // among the finished ones by its dedupe key.
    const savedKeys = await finishedKeys(servers.redis.url, 'save-session')
    const sessions = answered.filter((a) => a.body.session.new)
    const saveFailed = new Set(sessions.filter((a) => queueNotes(a).length > 0).map((a) => a.body.traceId))
    const saveDone = new Set(
      sessions.filter((a) => savedKeys.has(`save ${a.body.session.id}`)).map((a) => a.body.traceId),
    )
    // log-ranking-decision, by identity: the service logs each failed enqueue (with the request's
    // trace id where its log lines carry one); each processed one is a ranking_log row.
    const { rows } = await db.query<{ trace_id: string }>(
      'SELECT trace_id FROM ranking_log WHERE trace_id = ANY($1)',
      [answered.map((a) => a.body.traceId)],
    )
    const logged = new Set(rows.map((row) => row.trace_id))
    // update-session, by count: the finished jobs against the enqueues not reported failed.
    const updateFailures = sideEffectFailures(service.logs(), 'update-session').length
    const updateAccepted = answered.length - updateFailures
    const perTask = {
      'save-session': account(
        sessions.map((a) => a.body.traceId),
        saveDone,
        [...saveFailed].map((traceId) => ({ traceId })),
      ),
      'log-ranking-decision': account(
        answered.map((a) => a.body.traceId),
        logged,
        sideEffectFailures(service.logs(), 'log-ranking-decision'),
      ),
      'update-session': {
        accepted: updateAccepted,
        processed: Math.min(stats['update-session']?.done ?? 0, updateAccepted),
        failedClearly: updateFailures,
        lost: Math.max(0, updateAccepted - (stats['update-session']?.done ?? 0)),
      },
    }
    const accepted = Object.values(perTask).reduce((sum, task) => sum + task.accepted, 0)
    const processed = Object.values(perTask).reduce((sum, task) => sum + task.processed, 0)
    const lost = Object.values(perTask).reduce((sum, task) => sum + task.lost, 0)
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
      tasks: { accepted, processed, lost },
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
    await publish(name, figures)

    assertAllAnswered(load.tally)
    assert.ok(figures.duringOutage.sessionNotSaved > 0, 'the outage did reach the enqueues')
    assert.equal(figures.tasks.lost, 0, JSON.stringify(perTask))
    assert.equal(perTask['save-session'].processed, perTask['save-session'].accepted)
    assert.equal(perTask['log-ranking-decision'].processed, perTask['log-ranking-decision'].accepted)
    assert.equal(figures.deadLetters, 0)
  } finally {
    await queue.close()
    await db.end()
    await service.stop()
  }
}

/** Redis as the queue asks of it for durability: what it acknowledged survives a crash. */
const durable = (dir: string) => ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir]

/** The service's warnings that a side effect of `task` failed (pino's JSON lines), with their trace ids. */
function sideEffectFailures(logs: readonly string[], task: string): { traceId?: string }[] {
  return logs.flatMap((line) => {
    try {
      const entry = JSON.parse(line) as { msg?: string; traceId?: string }
      return entry.msg === `side effect "${task}" failed` ? [entry] : []
    } catch {
      return [] // not a log line (stderr's text)
    }
  })
}

/**
 * The tasks of one name: `attempted` enqueues (by request trace id), those `done`, and the `failures`
 * reported. Accepted is attempted less failed; lost is an accepted one not done. Failures with trace
 * ids are matched by identity; without (an older log format), by count.
 */
function account(attempted: string[], done: Set<string>, failures: { traceId?: string }[]) {
  const failed = new Set(failures.flatMap((failure) => failure.traceId ?? []))
  const byIdentity = failed.size === failures.length
  const missing = attempted.filter((id) => !done.has(id))
  const lost = byIdentity
    ? missing.filter((id) => !failed.has(id)).length
    : Math.max(0, missing.length - failures.length)
  const accepted = attempted.length - failures.length
  return {
    accepted,
    processed: accepted - lost,
    failedClearly: failures.length,
    // Reported failed, yet Redis had the job: an enqueue cut off after its write went out.
    processedThoughFailed: byIdentity
      ? [...failed].filter((id) => done.has(id)).length
      : Math.max(0, attempted.length - missing.length - accepted),
    lost,
    matchedBy: byIdentity ? 'identity' : 'count',
  }
}

test('scenario 2: Redis (the queue) killed for 10 s under load; enqueues fail clearly, and every accepted task is processed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-queue-outage-'))
  try {
    await using servers = await startServers({ args: durable(dir) })
    await queueOutage('queue (Redis) killed for 10 s', servers, servers.redis.url, {
      start: () => servers.redis.kill(),
      end: () => servers.restartRedis(),
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('scenario 2, stalled: Redis (the queue) unreachable for 10 s, every byte held by the fault proxy; enqueues time out, none accepted is lost', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-queue-outage-'))
  try {
    await using servers = await startServers({ args: durable(dir) })
    await using proxy = await startFaultProxy({ target: `127.0.0.1:${servers.redis.port}` })
    await queueOutage('queue (Redis) stalled for 10 s', servers, `redis://${proxy.address}`, {
      start: async () => proxy.stall(),
      end: () => proxy.restore(),
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
