// node --conditions=source --expose-gc bench/queue.ts — what does the durable queue cost, per backend?
//
// For PGlite (in memory), PostgreSQL (a throwaway database on 127.0.0.1:5432) and Redis (a throwaway
// key prefix on 127.0.0.1:6379): enqueue throughput for a burst of concurrent enqueues and one at a
// time, the rate at which one worker drains a backlog, and the end-to-end latency from the enqueue
// call to an idle worker's handler starting, with the worker woken by the enqueue (same queue object)
// and, on PostgreSQL, finding it by polling every 100 ms (another queue object, as another process would). Figures go to
// bench/results/queue.json. The machine's PostgreSQL commits synchronously (fsync on): a lone
// enqueue pays one WAL flush, which the group commit shares among concurrent ones.
import { randomBytes } from 'node:crypto'
import { setTimeout as delay } from 'node:timers/promises'
import { Redis as IORedis } from 'ioredis'
import { postgresQueue, type QueueOptions, redisQueue, type TaskQueue } from 'weft/queue'
import { type Database, embeddedDatabase, postgres } from 'weft/sql'
import { percentile, printTable, writeResults } from './harness.ts'

const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres'
const REDIS_URL = 'redis://127.0.0.1:6379'
const BURST = 10_000
const ROUNDS = 3
const SEQUENTIAL = 500
const LATENCY_SAMPLES = 200

interface Backend {
  name: string
  /** A queue on the backend's store; `options.pollInterval` applies to PostgreSQL only. */
  open(options?: QueueOptions & { pollInterval?: number }): TaskQueue
  cleanup(): Promise<void>
}

const now = (): number => performance.now()

function median(values: number[]): number {
  return percentile(values, 50)
}

let names = 0
const fresh = (label: string): string => `${label}-${++names}`

/** Tasks per second for BURST enqueues issued at once. */
async function burst(queue: TaskQueue): Promise<number> {
  const name = fresh('burst')
  const start = now()
  await Promise.all(Array.from({ length: BURST }, (_, i) => queue.enqueue(name, { i })))
  return BURST / ((now() - start) / 1000)
}

/** Microseconds per enqueue, one at a time (each waits for the previous). */
async function sequential(queue: TaskQueue): Promise<{ median: number; p99: number }> {
  const name = fresh('sequential')
  const samples: number[] = []
  for (let i = 0; i < SEQUENTIAL; i++) {
    const start = now()
    await queue.enqueue(name, { i })
    samples.push((now() - start) * 1000)
  }
  return { median: median(samples), p99: percentile(samples, 99) }
}

/** Tasks per second for one worker (concurrency 50) draining BURST queued tasks. */
async function drain(queue: TaskQueue): Promise<number> {
  const name = fresh('drain')
  await Promise.all(Array.from({ length: BURST }, (_, i) => queue.enqueue(name, { i })))
  let seen = 0
  const all = Promise.withResolvers<void>()
  const start = now()
  const worker = queue.worker(
    name,
    () => {
      if (++seen === BURST) all.resolve()
    },
    { concurrency: 50 },
  )
  await all.promise
  const elapsed = now() - start
  await worker.close()
  return BURST / (elapsed / 1000)
}

/**
 * Milliseconds from the enqueue call to the handler starting, one task at a time, each enqueued after
 * a random pause (up to 100 ms) so that it finds the worker idle, not finishing the previous task.
 */
async function latency(producer: TaskQueue, consumer: TaskQueue): Promise<{ median: number; p99: number }> {
  const name = fresh('latency')
  let arrived: (() => void) | undefined
  const worker = consumer.worker(name, () => arrived?.())
  const samples: number[] = []
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    await delay(Math.random() * 100)
    const delivered = new Promise<void>((resolve) => {
      arrived = resolve
    })
    const start = now()
    await producer.enqueue(name, { i })
    await delivered
    samples.push(now() - start)
  }
  await worker.close()
  return { median: median(samples), p99: percentile(samples, 99) }
}

async function measureBackend(backend: Backend) {
  const queue = backend.open({ lease: 30_000 })
  try {
    await queue.enqueue('warm-up', {}) // schema, connection
    const bursts: number[] = []
    for (let round = 0; round < ROUNDS; round++) {
      globalThis.gc?.()
      bursts.push(await burst(queue))
    }
    const oneAtATime = await sequential(queue)
    const drained = await drain(queue)
    const woken = await latency(queue, queue)
    let polled: { median: number; p99: number } | undefined
    if (backend.name !== 'Redis (BullMQ)') {
      const other = backend.open({ pollInterval: 100 })
      try {
        polled = await latency(queue, other)
      } finally {
        await other.close()
      }
    }
    return {
      backend: backend.name,
      burstEnqueuesPerSecond: Math.round(median(bursts)),
      sequentialEnqueueMicros: { median: Math.round(oneAtATime.median), p99: Math.round(oneAtATime.p99) },
      drainTasksPerSecond: Math.round(drained),
      endToEndMillis: { median: woken.median, p99: woken.p99 },
      ...(polled && { endToEndPolledMillis: { median: polled.median, p99: polled.p99, pollInterval: 100 } }),
    }
  } finally {
    await queue.close()
  }
}

async function pglite(): Promise<Backend> {
  const db = embeddedDatabase()
  return {
    name: 'PGlite (embedded)',
    open: (options) => postgresQueue(db, options),
    cleanup: () => db.close(),
  }
}

async function postgresServer(): Promise<Backend> {
  const name = `weft_q_bench_${randomBytes(4).toString('hex')}`
  const admin: Database = postgres(ADMIN_URL, { max: 1 })
  await admin.query(`CREATE DATABASE ${name}`)
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  const db = postgres(url.toString(), { max: 10 })
  return {
    name: 'PostgreSQL',
    open: (options) => postgresQueue(db, options),
    async cleanup() {
      await db.close()
      await admin.query(`DROP DATABASE ${name} WITH (FORCE)`)
      await admin.close()
    },
  }
}

async function redis(): Promise<Backend> {
  const prefix = `weft_q_bench_${randomBytes(4).toString('hex')}`
  return {
    name: 'Redis (BullMQ)',
    open: ({ pollInterval: _, ...options } = {}) => redisQueue({ url: REDIS_URL, prefix, ...options }),
    async cleanup() {
      const client = new IORedis(REDIS_URL)
      let cursor = '0'
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000)
        if (keys.length > 0) await client.del(...keys)
        cursor = next
      } while (cursor !== '0')
      await client.quit()
    },
  }
}

if (globalThis.gc === undefined) console.warn('run with --expose-gc for steadier figures')
const figures = []
for (const open of [pglite, postgresServer, redis]) {
  const backend = await open()
  try {
    figures.push(await measureBackend(backend))
  } finally {
    await backend.cleanup()
  }
}
console.log(
  `\nThe durable queue: ${BURST} concurrent enqueues (median of ${ROUNDS}), ${SEQUENTIAL} one at a time,`,
)
console.log(
  `a backlog of ${BURST} drained by one worker (concurrency 50), ${LATENCY_SAMPLES} enqueue-to-handler samples`,
)
printTable(
  figures.map((f) => ({
    backend: f.backend,
    'burst enq/s': f.burstEnqueuesPerSecond,
    'enq µs p50': f.sequentialEnqueueMicros.median,
    'enq µs p99': f.sequentialEnqueueMicros.p99,
    'drain tasks/s': f.drainTasksPerSecond,
    'e2e ms p50': f.endToEndMillis.median,
    'e2e ms p99': f.endToEndMillis.p99,
    'polled e2e ms p50': f.endToEndPolledMillis?.median ?? '-',
  })),
)
const file = writeResults('queue', { burst: BURST, rounds: ROUNDS, backends: figures })
console.log(`\nfigures written to ${file}`)
