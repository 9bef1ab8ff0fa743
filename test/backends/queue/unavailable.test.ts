// When the backend cannot be reached: enqueues fail at once with errors naming the backend and its
// address (nothing is buffered in memory), and workers keep trying in the background.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Redis as IORedis } from 'ioredis'
import { BackendRefused, BackendTimeout, BackendUnavailable } from 'weft'
import { postgresQueue, redisQueue } from 'weft/queue'
import { postgres } from 'weft/sql'
import { startRedisServer } from 'weft/testing'
import { Recorder } from './support.ts'

/** Retries `fn` until it resolves (a reconnection in progress), for at most `within` ms. */
async function eventually<T>(fn: () => Promise<T>, within: number): Promise<T> {
  const start = performance.now()
  for (;;) {
    try {
      return await fn()
    } catch (error) {
      if (performance.now() - start > within) throw error
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}

describe('Redis', () => {
  test('with nothing listening, an enqueue fails with BackendRefused naming the server, then fails fast', async () => {
    await using queue = redisQueue({ url: 'redis://127.0.0.1:1' })
    await assert.rejects(
      queue.enqueue('mail', {}),
      (error) =>
        error instanceof BackendRefused &&
        error.backend === 'redis' &&
        error.address === '127.0.0.1:1' &&
        /enqueue: cannot connect/.test(error.message),
    )
    const start = performance.now()
    await assert.rejects(queue.enqueue('mail', {}), BackendUnavailable)
    assert.ok(performance.now() - start < 100, 'while reconnecting, enqueues fail at once')
  })

  test('a server that goes away fails enqueues at once; once it is back, enqueues and deliveries resume', async () => {
    const server = await startRedisServer()
    const errors: unknown[] = []
    await using queue = redisQueue({ url: server.url, lease: 1000 })
    try {
      const recorder = new Recorder()
      queue.worker('mail', recorder.handler(), { onError: (error) => errors.push(error) })
      await queue.enqueue('mail', { n: 1 })
      await recorder.count(1)

      await server.kill()
      const start = performance.now()
      await assert.rejects(
        queue.enqueue('mail', { n: 2 }),
        (error) =>
          (error instanceof BackendRefused || error instanceof BackendUnavailable) &&
          error.address === new URL(server.url).host,
      )
      assert.ok(performance.now() - start < 3000, 'an enqueue fails within one reconnection attempt')

      const restarted = await startRedisServer({ port: server.port })
      try {
        await eventually(() => queue.enqueue('mail', { n: 3 }), 5000)
        await recorder.count(2)
        assert.deepEqual(recorder.seen[1]?.payload, { n: 3 })
      } finally {
        await queue.close()
        await restarted.stop()
      }
    } finally {
      await server.stop()
    }
  })
})

/** The process id of the Redis server at `url`, as it reports it. */
async function serverPid(url: string): Promise<number> {
  const client = new IORedis(url)
  try {
    const info = await client.info('server')
    return Number(/process_id:(\d+)/.exec(info)?.[1])
  } finally {
    await client.quit()
  }
}

describe('Redis, paused', () => {
  test('a server that stops answering fails enqueues with BackendTimeout, and serves them again once resumed', async () => {
    const server = await startRedisServer()
    const pid = await serverPid(server.url)
    try {
      await using queue = redisQueue({ url: server.url, commandTimeout: 300 })
      await queue.enqueue('mail', { n: 1 })
      process.kill(pid, 'SIGSTOP')
      try {
        const start = performance.now()
        await assert.rejects(
          queue.enqueue('mail', { n: 2 }),
          (error) => error instanceof BackendTimeout && /the write may have happened/.test(error.message),
        )
        assert.ok(performance.now() - start < 1000, 'it fails after the command timeout, not after the pause')
      } finally {
        process.kill(pid, 'SIGCONT')
      }
      await queue.enqueue('mail', { n: 3 })
      const queued = (await queue.stats()).mail?.queued ?? 0
      assert.ok(queued >= 2, 'the writes before and after the pause are kept (the one during it, maybe)')
    } finally {
      await server.stop()
    }
  })
})

describe('PostgreSQL', () => {
  test('with nothing listening, an enqueue fails with the database error naming the server', async () => {
    await using db = postgres('postgres://postgres@127.0.0.1:1/weft', { connectTimeout: 1000 })
    await using queue = postgresQueue(db)
    await assert.rejects(
      queue.enqueue('mail', {}),
      (error) =>
        error instanceof BackendRefused && error.backend === 'postgres' && error.address === '127.0.0.1:1',
    )
  })

  test('a worker that cannot reach the database reports it and keeps trying', async () => {
    await using db = postgres('postgres://postgres@127.0.0.1:1/weft', { connectTimeout: 1000 })
    await using queue = postgresQueue(db, { pollInterval: 10 })
    const reported = Promise.withResolvers<unknown[]>()
    const errors: unknown[] = []
    const worker = queue.worker('mail', () => {}, {
      onError: (error) => {
        errors.push(error)
        if (errors.length === 4) reported.resolve(errors)
      },
    })
    for (const error of await reported.promise) assert.ok(error instanceof BackendRefused)
    await worker.close()
  })
})
