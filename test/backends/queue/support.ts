// What the queue tests share: throwaway databases and key prefixes, a recorder of deliveries, and
// the child worker process the crash test kills.
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Redis as IORedis } from 'ioredis'
import type { TaskContext } from 'weft/queue'
import { postgres } from 'weft/sql'

export const POSTGRES_ADMIN_URL =
  process.env.WEFT_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
export const REDIS_URL = process.env.WEFT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

const root = join(import.meta.dirname, '..', '..', '..')

/** A database created for one test file (`weft_q_<random>`), dropped by `drop`. */
export async function createQueueDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `weft_q_${randomBytes(6).toString('hex')}`
  const admin = postgres(POSTGRES_ADMIN_URL, { max: 1 })
  try {
    await admin.query(`CREATE DATABASE ${name}`)
  } finally {
    await admin.close()
  }
  const url = new URL(POSTGRES_ADMIN_URL)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async drop() {
      const admin = postgres(POSTGRES_ADMIN_URL, { max: 1 })
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } finally {
        await admin.close()
      }
    },
  }
}

/** A Redis key prefix no other test run uses. */
export function uniquePrefix(): string {
  return `weft_q_test_${randomBytes(6).toString('hex')}`
}

/** Deletes every key under `prefix`. */
export async function deleteKeys(prefix: string): Promise<void> {
  const redis = new IORedis(REDIS_URL)
  try {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000)
      if (keys.length > 0) await redis.del(...keys)
      cursor = next
    } while (cursor !== '0')
  } finally {
    await redis.quit()
  }
}

/** One delivery as a handler saw it. */
export interface Seen {
  payload: unknown
  task: TaskContext
  /** weft clock time when the handler started. */
  at: number
}

/**
 * Records deliveries and lets a test wait for the n-th one: `recorder.handler(fn)` wraps a handler,
 * `await recorder.count(n)` resolves once n deliveries have started.
 */
export class Recorder {
  readonly seen: Seen[] = []
  readonly #waiters: { n: number; resolve: () => void }[] = []

  handler<P>(
    fn: (payload: P, task: TaskContext) => unknown = () => {},
  ): (payload: P, task: TaskContext) => unknown {
    return (payload, task) => {
      this.seen.push({ payload, task, at: performance.timeOrigin + performance.now() })
      for (const waiter of this.#waiters.filter((w) => w.n <= this.seen.length)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1)
        waiter.resolve()
      }
      return fn(payload, task)
    }
  }

  /** Resolves once `n` deliveries have started. */
  count(n: number): Promise<void> {
    if (this.seen.length >= n) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push({ n, resolve }))
  }

  get attempts(): number[] {
    return this.seen.map((seen) => seen.task.attempt)
  }
}

/** A worker in a child process (test/backends/queue/fixtures/worker.ts), to kill mid-task. */
export interface ChildWorker {
  /** Resolves with the first task the child started. */
  readonly started: Promise<{ id: string; attempt: number }>
  /** Kills the child with SIGKILL and resolves once it is gone. */
  kill(): Promise<void>
}

/** Starts the fixture worker with `env` (the queue's configuration) added to this process's environment. */
export function spawnWorker(env: Record<string, string>): ChildWorker {
  const child: ChildProcess = spawn(
    join(root, 'node_modules', '.bin', 'node'),
    ['--conditions=source', join(root, 'test', 'backends', 'queue', 'fixtures', 'worker.ts')],
    { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const exited = once(child, 'exit')
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  const started = new Promise<{ id: string; attempt: number }>((resolve, reject) => {
    lines.once('line', (line) => resolve(JSON.parse(line)))
    child.once('exit', (code, signal) =>
      reject(new Error(`the worker exited (${code ?? signal}) before starting a task`)),
    )
  })
  started.catch(() => {}) // awaited by the test; a kill after the start is not a failure
  return {
    started,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
      lines.close()
    },
  }
}
