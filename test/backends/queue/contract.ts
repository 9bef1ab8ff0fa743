// The behaviour every weft queue keeps, on PostgreSQL, on the embedded database and on Redis: one
// suite (postgres.test.ts, embedded.test.ts, redis.test.ts), so that no backend drifts from the others.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  AbortError,
  BackendUnavailable,
  configureTracing,
  currentScope,
  type Scope,
  scope,
  sleep,
  startSpan,
  type Trace,
} from 'weft'
import type { QueueOptions, TaskQueue } from 'weft/queue'
import { Recorder, spawnWorker } from './support.ts'

/** How the suite reaches one backend. */
export interface QueueTarget {
  /** A queue on the backend's store (the same store on every call). */
  open(options?: QueueOptions): TaskQueue
  /** The environment that makes the child worker (fixtures/worker.ts) reach the same store. */
  childEnv(): Record<string, string>
  /** An embedded database only one process can hold: closed while the child runs, reopened after. */
  release?(): Promise<void>
  reacquire?(): Promise<void>
}

/** Backoff short enough for tests to wait through. */
const quick: QueueOptions = { backoff: { initial: 40, max: 1000 } }

let counter = 0
/** A task name no other test uses, so tests never see each other's tasks. */
const fresh = (label: string): string => `${label}-${++counter}-${process.pid}`

export function queueContract(backend: string, target: QueueTarget): void {
  describe(`${backend} keeps the queue contract`, { timeout: 60_000 }, () => {
    test('delivers an enqueued task to a worker of its name, with its payload and delivery context', async () => {
      await using queue = target.open()
      const name = fresh('deliver')
      const recorder = new Recorder()
      queue.worker(name, recorder.handler())
      const { id, deduplicated } = await queue.enqueue(name, { to: 'ada@example.com', items: [1, 2] })
      await recorder.count(1)
      const [seen] = recorder.seen
      assert.deepEqual(seen?.payload, { to: 'ada@example.com', items: [1, 2] })
      assert.equal(deduplicated, false)
      assert.equal(seen?.task.id, id)
      assert.equal(seen?.task.name, name)
      assert.equal(seen?.task.attempt, 1)
      assert.equal(seen?.task.maxAttempts, 3)
      assert.equal(seen?.task.dedupeKey, id, 'without a dedupe key, the id names the effect')
      assert.equal(seen?.task.signal.aborted, false)
      assert.equal(seen?.task.deadline, undefined)
      assert.equal(seen?.task.traceId, undefined)
    })

    test('runs 10,000 tasks enqueued concurrently, every one at least once, none lost', async (t) => {
      await using queue = target.open()
      const name = fresh('burst')
      const runs = new Map<string, number>()
      const all = Promise.withResolvers<void>()
      const n = 10_000
      const start = performance.now()
      queue.worker(
        name,
        (_payload, task) => {
          runs.set(task.id, (runs.get(task.id) ?? 0) + 1)
          if (runs.size === n) all.resolve()
        },
        { concurrency: 50 },
      )
      const enqueued = await Promise.all(Array.from({ length: n }, (_, i) => queue.enqueue(name, { i })))
      const written = performance.now()
      await all.promise
      const ids = new Set(enqueued.map((result) => result.id))
      assert.equal(ids.size, n, 'every enqueue got a task of its own')
      for (const id of ids) assert.ok((runs.get(id) ?? 0) >= 1, `task ${id} was never run`)
      t.diagnostic(
        `${backend}: ${n} enqueues in ${Math.round(written - start)} ms, all run after ${Math.round(performance.now() - start)} ms`,
      )
    })

    test('retries a failing task with exponential backoff, passing each attempt number, then dead-letters it', async () => {
      await using queue = target.open(quick)
      const name = fresh('failing')
      const recorder = new Recorder()
      const worker = queue.worker(
        name,
        recorder.handler((_payload, task) => {
          throw new Error(`boom on attempt ${task.attempt}`)
        }),
      )
      const { id } = await queue.enqueue(name, { order: 7 })
      await recorder.count(3)
      await worker.close()
      assert.deepEqual(recorder.attempts, [1, 2, 3])
      const [first, second, third] = recorder.seen.map((seen) => seen.at) as [number, number, number]
      assert.ok(second - first >= 40 - 5, `the first retry waited ${second - first} ms, the backoff is 40`)
      assert.ok(third - second >= 80 - 5, `the second retry waited ${third - second} ms, the backoff is 80`)
      const dead = await queue.deadLetters(name)
      assert.equal(dead.length, 1)
      assert.equal(dead[0]?.id, id)
      assert.deepEqual(dead[0]?.payload, { order: 7 })
      assert.equal(dead[0]?.attempts, 3)
      assert.match(dead[0]?.error ?? '', /boom on attempt 3/)
      assert.deepEqual((await queue.stats())[name], { queued: 0, active: 0, done: 0, dead: 1 })
    })

    test('a task that fails and then succeeds is done, not dead', async () => {
      await using queue = target.open(quick)
      const name = fresh('flaky')
      const recorder = new Recorder()
      const worker = queue.worker(
        name,
        recorder.handler((_payload, task) => {
          if (task.attempt === 1) throw new Error('transient')
        }),
      )
      await queue.enqueue(name, {})
      await recorder.count(2)
      await worker.close()
      assert.deepEqual(recorder.attempts, [1, 2])
      assert.deepEqual((await queue.stats())[name], { queued: 0, active: 0, done: 1, dead: 0 })
      assert.deepEqual(await queue.deadLetters(name), [])
    })

    test('attempts given at the enqueue replace the queue default', async () => {
      await using queue = target.open(quick)
      const name = fresh('once')
      const recorder = new Recorder()
      const worker = queue.worker(
        name,
        recorder.handler(() => {
          throw new Error('no retry for this one')
        }),
      )
      await queue.enqueue(name, {}, { attempts: 1 })
      await recorder.count(1)
      await worker.close()
      assert.equal(recorder.seen[0]?.task.maxAttempts, 1)
      assert.equal((await queue.deadLetters(name)).length, 1)
    })

    test('a delivery that overruns the worker timeout fails with DeadlineExceeded', async () => {
      await using queue = target.open(quick)
      const name = fresh('slow')
      const recorder = new Recorder()
      const worker = queue.worker(
        name,
        recorder.handler(async (_payload, task) => {
          assert.ok(task.deadline !== undefined)
          await sleep(60_000) // the ambient signal is the delivery's: the timeout cancels it
        }),
        { timeout: 50 },
      )
      await queue.enqueue(name, {}, { attempts: 1 })
      await recorder.count(1)
      await worker.close()
      assert.match((await queue.deadLetters(name))[0]?.error ?? '', /DeadlineExceeded/)
    })

    test('delays a task by the given delay', async () => {
      await using queue = target.open()
      const name = fresh('later')
      const recorder = new Recorder()
      queue.worker(name, recorder.handler())
      const enqueuedAt = performance.timeOrigin + performance.now()
      await queue.enqueue(name, {}, { delay: 400 })
      assert.equal((await queue.stats())[name]?.queued, 1)
      await recorder.count(1)
      const waited = (recorder.seen[0]?.at ?? 0) - enqueuedAt
      assert.ok(waited >= 400 - 5, `delivered after ${waited} ms, the delay is 400`)
    })

    test('deduplicates by key while the first task is pending; once it is done the key is free', async () => {
      await using queue = target.open()
      const name = fresh('dedupe')
      const first = await queue.enqueue(name, { version: 1 }, { dedupeKey: 'order-7' })
      const again = await queue.enqueue(name, { version: 2 }, { dedupeKey: 'order-7' })
      assert.deepEqual(again, { id: first.id, deduplicated: true })
      const racing = await Promise.all([
        queue.enqueue(name, { version: 1 }, { dedupeKey: 'order-8' }),
        queue.enqueue(name, { version: 2 }, { dedupeKey: 'order-8' }),
      ])
      assert.equal(racing[0].id, racing[1].id, 'concurrent enqueues with one key make one task')
      assert.deepEqual(racing.map((result) => result.deduplicated).sort(), [false, true])
      assert.equal((await queue.stats())[name]?.queued, 2)

      const recorder = new Recorder()
      const worker = queue.worker(name, recorder.handler())
      await recorder.count(2)
      await worker.close()
      const order7 = recorder.seen.find((seen) => seen.task.id === first.id)
      assert.deepEqual(order7?.payload, { version: 1 }, 'the first enqueue wins')
      assert.equal(
        order7?.task.dedupeKey,
        'order-7',
        'the handler gets the key, to make its effect idempotent',
      )

      const later = await queue.enqueue(name, { version: 3 }, { dedupeKey: 'order-7' })
      assert.notEqual(later.id, first.id)
      assert.equal(later.deduplicated, false)
    })

    test('runs at most `concurrency` deliveries at once', async () => {
      await using queue = target.open()
      const name = fresh('bounded')
      await Promise.all(Array.from({ length: 6 }, (_, i) => queue.enqueue(name, { i })))
      let running = 0
      let most = 0
      const recorder = new Recorder()
      const worker = queue.worker(
        name,
        recorder.handler(async () => {
          running += 1
          most = Math.max(most, running)
          await sleep(30) // the work: long enough for the others to start if nothing held them back
          running -= 1
        }),
        { concurrency: 2 },
      )
      await recorder.count(6)
      await worker.close()
      assert.equal(most, 2)
    })

    test('closing lets deliveries in flight finish within the grace period', async () => {
      await using queue = target.open()
      const name = fresh('graceful')
      const started = Promise.withResolvers<void>()
      let finished = false
      let aborted = false
      const worker = queue.worker(name, async (_payload, task) => {
        started.resolve()
        await sleep(100)
        finished = true
        aborted = task.signal.aborted
      })
      await queue.enqueue(name, {})
      await started.promise
      await worker.close({ graceMs: 10_000 })
      assert.equal(finished, true, 'close waited for the handler')
      assert.equal(aborted, false)
      assert.deepEqual((await queue.stats())[name], { queued: 0, active: 0, done: 1, dead: 0 })
    })

    test('past the grace period a delivery is stopped and goes back; another worker runs it, its attempt not used up', async () => {
      await using queue = target.open()
      const name = fresh('handed-back')
      const started = Promise.withResolvers<void>()
      let reason: unknown
      const stubborn = queue.worker(name, async (_payload, task) => {
        started.resolve()
        try {
          await sleep(60_000)
        } finally {
          reason = task.signal.reason
        }
      })
      const { id } = await queue.enqueue(name, {})
      await started.promise
      await stubborn.close({ graceMs: 50 })
      assert.match(String((reason as Error)?.message), /grace period of 50 ms/)
      assert.equal((await queue.stats())[name]?.queued, 1, 'the task is back in the queue')
      const recorder = new Recorder()
      queue.worker(name, recorder.handler())
      await recorder.count(1)
      assert.equal(recorder.seen[0]?.task.id, id)
      assert.equal(recorder.seen[0]?.task.attempt, 1)
    })

    test('a delivery running longer than the lease keeps its task: the lease is renewed while it runs', async () => {
      await using queue = target.open({ lease: 300 })
      const name = fresh('long')
      const recorder = new Recorder()
      const worker = queue.worker(
        name,
        recorder.handler(() => sleep(1000)),
      )
      await queue.enqueue(name, {})
      await recorder.count(1)
      await worker.close()
      assert.deepEqual(recorder.attempts, [1], 'delivered once')
      assert.deepEqual((await queue.stats())[name], { queued: 0, active: 0, done: 1, dead: 0 })
    })

    test('an enqueue cancelled before it is written fails with AbortError and writes nothing', async () => {
      await using queue = target.open()
      const name = fresh('cancelled')
      const controller = new AbortController()
      const why = new Error('the user left')
      controller.abort(why)
      await assert.rejects(
        queue.enqueue(name, {}, { signal: controller.signal }),
        (error) => error instanceof AbortError && error.reason === why,
      )
      let ambient: unknown
      await assert.rejects(
        scope(async (s) => {
          s.spawn('fails', () => {
            throw new Error('a sibling failed')
          })
          ambient = await queue.enqueue(name, {}).catch((error: unknown) => error)
        }),
        /a sibling failed/,
      )
      assert.ok(ambient instanceof AbortError, 'the ambient signal cancels the enqueue')
      assert.equal((await queue.stats())[name], undefined)
    })

    test('an enqueue on a closed queue fails with BackendUnavailable', async () => {
      const queue = target.open()
      await queue.close()
      await assert.rejects(queue.enqueue(fresh('closed'), {}), BackendUnavailable)
    })

    test('each delivery is a request of its own, traced and linked to the request that enqueued it', async () => {
      await using queue = target.open()
      const name = fresh('traced')
      const deliveries: Trace[] = []
      const recorder = new Recorder()
      const worker = queue.worker(
        name,
        recorder.handler(() => startSpan('send-email', 'client')?.finish('ok')),
        { trace: (trace) => deliveries.push(trace) },
      )
      let request: Trace | undefined
      const { id } = await scope({ name: 'POST /orders', trace: (trace) => (request = trace) }, () =>
        queue.enqueue(name, { order: 7 }),
      )
      await recorder.count(1)
      await worker.close()
      const producer = request?.spans.find((span) => span.kind === 'producer')
      assert.equal(producer?.name, 'queue.enqueue')
      assert.equal(producer?.attributes['queue.name'], name)
      assert.equal(producer?.attributes['queue.task_id'], id)
      assert.equal(deliveries.length, 1)
      const consumer = deliveries[0]?.root
      assert.equal(consumer?.kind, 'consumer')
      assert.equal(consumer?.attributes['queue.task_id'], id)
      assert.equal(consumer?.attributes['queue.attempt'], 1)
      assert.equal(deliveries[0]?.id, request?.id, "the delivery continues the enqueuing request's trace")
      assert.equal(consumer?.toJSON().parentId, producer?.spanId, 'under its producer span')
      assert.equal(recorder.seen[0]?.task.traceId, request?.id)
      const inner = deliveries[0]?.spans.find((span) => span.name === 'send-email')
      assert.equal(inner?.parent, consumer, "the handler's spans belong to the delivery's trace")
    })

    test('a task enqueued by a traced request is traced when delivered, by default', async () => {
      await using queue = target.open()
      const name = fresh('traced-default')
      const finished: Trace[] = []
      const restore = configureTracing({ enabled: false, onTrace: (trace) => finished.push(trace) })
      try {
        const recorder = new Recorder()
        const worker = queue.worker(name, recorder.handler())
        await scope({ trace: true }, () => queue.enqueue(name, {}))
        await queue.enqueue(name, {}) // untraced: its delivery is not traced either
        await recorder.count(2)
        await worker.close()
      } finally {
        restore()
      }
      const consumers = finished.filter((trace) => trace.root?.kind === 'consumer')
      assert.equal(consumers.length, 1)
    })

    test('deliveries run outside the scope the worker was started in', async () => {
      await using queue = target.open()
      const name = fresh('detached')
      const recorder = new Recorder()
      let inside: Scope | undefined
      await scope({ name: 'startup', deadline: 1000 }, () => {
        queue.worker(
          name,
          recorder.handler(() => {
            inside = currentScope()
          }),
        )
      })
      await queue.enqueue(name, {})
      await recorder.count(1)
      assert.equal(inside?.name, `queue.process ${name}`)
      assert.equal(inside?.root, inside, 'the delivery is the outermost scope of its own request')
      assert.equal(recorder.seen[0]?.task.signal.aborted, false)
    })

    test('stats count the tasks of each name by state', async () => {
      await using queue = target.open()
      const name = fresh('counted')
      await queue.enqueue(name, {}, { delay: 60_000 })
      await queue.enqueue(name, {}, { delay: 60_000 })
      assert.deepEqual((await queue.stats())[name], { queued: 2, active: 0, done: 0, dead: 0 })
    })

    test('lag is the age of the oldest task due and waiting, per name; names with none waiting are absent', async () => {
      await using queue = target.open()
      const name = fresh('lagging')
      const later = fresh('not-due')
      await queue.enqueue(later, {}, { delay: 60_000 })
      await queue.enqueue(name, {})
      await sleep(60) // the age to measure
      await queue.enqueue(name, {})
      const lag = await queue.lag()
      assert.ok((lag[name] ?? -1) >= 40 && (lag[name] ?? 0) < 10_000, `lag ${lag[name]} ms`)
      assert.equal(lag[later], undefined, 'a delayed task is not waiting for a worker yet')
      const recorder = new Recorder()
      queue.worker(name, recorder.handler())
      await recorder.count(2)
      assert.equal((await queue.lag())[name], undefined)
    })

    test('a worker killed (SIGKILL) in the middle of a task: the task is delivered again and completed', async () => {
      const name = fresh('crash')
      const lease = { lease: 1000 }
      let queue = target.open(lease)
      const { id } = await queue.enqueue(name, { charge: 42 })
      await queue.close()
      await target.release?.()
      const child = spawnWorker({ ...target.childEnv(), WEFT_QUEUE_TASK: name, WEFT_QUEUE_LEASE: '1000' })
      try {
        assert.deepEqual(await child.started, { id, attempt: 1 })
      } finally {
        await child.kill()
      }
      await target.reacquire?.()
      queue = target.open(lease)
      try {
        const recorder = new Recorder()
        const worker = queue.worker(name, recorder.handler())
        await recorder.count(1)
        await worker.close()
        assert.equal(recorder.seen[0]?.task.id, id)
        assert.equal(recorder.seen[0]?.task.attempt, 2, 'the lost delivery counts as an attempt')
        assert.deepEqual(recorder.seen[0]?.payload, { charge: 42 })
        assert.deepEqual((await queue.stats())[name], { queued: 0, active: 0, done: 1, dead: 0 })
      } finally {
        await queue.close()
      }
    })
  })
}
