// Redis pausing under load (SIGSTOP, then SIGCONT): enqueues made during the pause fail clearly, and
// every enqueue that succeeded, before, during or after, is processed. A short version of the fault
// test that stops Redis for 10 s.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { Redis as IORedis } from 'ioredis'
import { BackendTimeout, BackendUnavailable } from 'weft'
import { redisQueue } from 'weft/queue'
import { startRedisServer } from 'weft/testing'

test('every accepted enqueue is processed when Redis pauses under load', { timeout: 60_000 }, async (t) => {
  const server = await startRedisServer()
  const admin = new IORedis(server.url)
  const pid = Number(/process_id:(\d+)/.exec(await admin.info('server'))?.[1])
  await admin.quit()
  await using queue = redisQueue({ url: server.url, commandTimeout: 200, lease: 5000 })
  try {
    const processed = new Set<string>()
    let waiting: { ids: Set<string>; resolve: () => void } | undefined
    queue.worker(
      'load',
      (_payload, task) => {
        processed.add(task.id)
        if (waiting && [...waiting.ids].every((id) => processed.has(id))) waiting.resolve()
      },
      { concurrency: 20, onError: () => {} },
    )
    const accepted = new Set<string>()
    const refused: unknown[] = []
    let producing = true
    const producer = async (): Promise<void> => {
      for (let i = 0; producing; i++) {
        try {
          accepted.add((await queue.enqueue('load', { i })).id)
        } catch (error) {
          refused.push(error)
          await delay(20) // back off while Redis does not answer
        }
      }
    }
    const producers = Array.from({ length: 10 }, producer)
    await delay(500)
    process.kill(pid, 'SIGSTOP')
    await delay(1500)
    process.kill(pid, 'SIGCONT')
    await delay(500)
    producing = false
    await Promise.all(producers)

    assert.ok(refused.length > 0, 'enqueues during the pause failed')
    for (const error of refused)
      assert.ok(error instanceof BackendTimeout || error instanceof BackendUnavailable)
    const all = Promise.withResolvers<void>()
    waiting = { ids: accepted, resolve: all.resolve }
    if ([...accepted].every((id) => processed.has(id))) all.resolve()
    await all.promise
    t.diagnostic(
      `${accepted.size} enqueues accepted and processed, ${refused.length} refused during the pause`,
    )
  } finally {
    await queue.close({ graceMs: 1000 })
    await server.stop()
  }
})
