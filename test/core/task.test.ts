import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  AbortError,
  DeadlineExceeded,
  type Scope,
  type ScopeOptions,
  scope,
  sleep,
  type Task,
  type TaskContext,
  type TaskState,
} from 'weft'
import type { VirtualClock } from 'weft/testing'
import { inVirtualTime, rejection, sleepThroughCancellation } from './support.ts'

describe('a task', () => {
  test('is awaitable and fulfils with the value of its function', async () => {
    const value = await scope(async (s) => {
      const task = s.spawn('answer', async () => 42)
      assert.equal(task.state, 'running')
      const answer = await task
      assert.equal(task.state, 'fulfilled')
      return answer
    })
    assert.equal(value, 42)
  })

  test('rejects with the error its function throws, and is then in state rejected', async () => {
    const failure = new Error('failed')
    let task: Task<never> | undefined
    const error = await rejection(
      scope(async (s) => {
        const failing = s.spawn('fails', () => {
          throw failure
        })
        task = failing
        assert.equal(await rejection(failing), failure)
      }),
    )
    assert.equal(error, failure)
    assert.equal(task?.state, 'rejected')
  })

  test(
    "calls its function with the task's own signal and the scope's deadline",
    inVirtualTime(async (clock) => {
      await clock.run(
        scope({ deadline: 100 }, async (s) => {
          const task = s.spawn('reads its context', ({ signal, deadline }) => ({ signal, deadline }))
          const context = await task
          assert.equal(context.signal, task.signal)
          assert.notEqual(context.signal, s.signal)
          assert.equal(context.deadline, s.deadline)
          assert.equal(task.deadline, s.deadline)
        }),
      )
    }),
  )

  test('is named after its function when no name is given, else by its rank in the scope', async () => {
    await scope((s) => {
      assert.equal(s.spawn('given', () => {}).name, 'given')
      assert.equal(s.spawn(function lookup() {}).name, 'lookup')
      assert.equal(s.spawn(() => {}).name, 'task 3')
    })
  })

  test('knows the scope it was spawned in and the outermost scope of its request', async () => {
    await scope(async (outer) => {
      await scope(async (inner) => {
        const task = inner.spawn(() => {})
        assert.equal(task.scope, inner)
        assert.equal(task.root, outer)
        assert.equal(inner.root, outer)
        assert.equal(outer.root, outer)
      })
    })
  })

  test(
    'never becomes an unhandled rejection when it fails and nobody awaits it',
    // The only rejection is the scope's, which the test handles; inVirtualTime reports any other.
    inVirtualTime(async (clock) => {
      await rejection(
        clock.run(
          scope((s) => {
            for (let i = 0; i < 10; i++) {
              s.spawn(async () => {
                await sleepThroughCancellation(i)
                throw new Error(`failure ${i}`)
              })
            }
          }),
        ),
      )
    }),
  )
})

describe('a cancelled task rejects with an AbortError whose reason says why', () => {
  /** Spawns a task that runs long, lets `cancel` act on it, and returns its rejection and signal. */
  async function cancelledBy(
    clock: VirtualClock,
    options: ScopeOptions,
    cancel: (s: Scope, task: Task<void>) => void | Promise<void>,
  ): Promise<{ error: unknown; signal: AbortSignal; state: TaskState }> {
    let task: Task<void> | undefined
    let error: unknown
    await clock
      .run(
        scope(options, async (s) => {
          const running = s.spawn('runs long', () => sleep(60_000))
          task = running
          const rejected = rejection(running).then((e) => {
            error = e
          })
          await cancel(s, running)
          await rejected
        }),
      )
      .catch(() => {})
    assert.ok(task)
    return { error, signal: task.signal, state: task.state }
  }

  test(
    'because cancel(reason) was called: the reason given',
    inVirtualTime(async (clock) => {
      const { error, signal, state } = await cancelledBy(clock, {}, (_, task) => task.cancel('not needed'))
      assert.ok(error instanceof AbortError)
      assert.equal(error.name, 'AbortError')
      assert.equal(error.code, 'WEFT_CANCELLED')
      assert.equal(error.reason, 'not needed')
      assert.match(error.message, /task "runs long" was cancelled: not needed/)
      assert.equal(signal.reason, 'not needed')
      assert.equal(state, 'cancelled')
    }),
  )

  test(
    'because cancel() was called without a reason: an AbortError DOMException saying so',
    inVirtualTime(async (clock) => {
      const { error } = await cancelledBy(clock, {}, (_, task) => task.cancel())
      assert.ok(error instanceof AbortError)
      assert.ok(error.reason instanceof DOMException)
      assert.equal(error.reason.name, 'AbortError')
      assert.match(error.reason.message, /cancel\(\)/)
    }),
  )

  test(
    "because a sibling failed: the sibling's error",
    inVirtualTime(async (clock) => {
      const failure = new Error('sibling failed')
      const { error, signal } = await cancelledBy(clock, {}, (s) => {
        s.spawn('sibling', async () => {
          await sleep(10)
          throw failure
        })
      })
      assert.ok(error instanceof AbortError)
      assert.equal(error.reason, failure)
      assert.equal(signal.reason, failure)
    }),
  )

  test(
    "because the scope's deadline passed: the DeadlineExceeded",
    inVirtualTime(async (clock) => {
      const { error } = await cancelledBy(clock, { deadline: 50 }, () => {})
      assert.ok(error instanceof AbortError)
      assert.ok(error.reason instanceof DeadlineExceeded)
    }),
  )

  test(
    "because the parent signal aborted: the parent's reason",
    inVirtualTime(async (clock) => {
      const parent = new AbortController()
      const { error } = await cancelledBy(clock, { signal: parent.signal }, () => {
        parent.abort('client disconnected')
      })
      assert.ok(error instanceof AbortError)
      assert.equal(error.reason, 'client disconnected')
    }),
  )

  test(
    'rejects at once, while the scope still waits for its function to return',
    inVirtualTime(async (clock) => {
      const start = clock.now()
      let rejectedAt: number | undefined
      await clock.run(
        scope(async (s) => {
          const task = s.spawn('slow to stop', () => sleepThroughCancellation(50))
          await sleep(10)
          task.cancel('enough')
          await rejection(task)
          rejectedAt = clock.now()
        }),
      )
      assert.equal(rejectedAt, start + 10)
      assert.equal(clock.now() - start, 50)
    }),
  )

  test(
    'stays cancelled even when its function later returns a value',
    inVirtualTime(async (clock) => {
      await clock.run(
        scope(async (s) => {
          const task = s.spawn('returns anyway', async () => {
            await sleepThroughCancellation(10)
            return 'late value'
          })
          task.cancel('cancelled first')
          await sleep(20)
          assert.equal(task.state, 'cancelled')
          const error = await rejection(task)
          assert.ok(error instanceof AbortError)
          assert.equal(error.reason, 'cancelled first')
        }),
      )
    }),
  )
})

describe('cancelling one task', () => {
  test(
    'does not fail its scope when nobody awaits it: the other tasks go on',
    inVirtualTime(async (clock) => {
      const value = await clock.run(
        scope(async (s) => {
          const cancelled = s.spawn('cancelled', () => sleep(60_000))
          const other = s.spawn('other', async () => {
            await sleep(20)
            return 'other finished'
          })
          await sleep(5)
          cancelled.cancel('not needed')
          return other
        }),
      )
      assert.equal(value, 'other finished')
    }),
  )

  test(
    'fails its scope when it is awaited and the AbortError escapes the callback',
    inVirtualTime(async (clock) => {
      const error = await rejection(
        clock.run(
          scope(async (s) => {
            const task = s.spawn('cancelled', () => sleep(60_000))
            task.cancel('stop')
            await task
          }),
        ),
      )
      assert.ok(error instanceof AbortError)
      assert.equal(error.reason, 'stop')
    }),
  )

  test(
    'does nothing once the task has settled',
    inVirtualTime(async (clock) => {
      await clock.run(
        scope(async (s) => {
          const task = s.spawn('done', () => 'value')
          await task
          task.cancel('too late')
          assert.equal(task.state, 'fulfilled')
          assert.equal(task.signal.aborted, false)
          assert.equal(await task, 'value')
        }),
      )
    }),
  )

  test(
    'fails the scope with the error its cleanup throws, which is not the cancellation',
    inVirtualTime(async (clock) => {
      const cleanupFailed = new Error('cleanup failed')
      const error = await rejection(
        clock.run(
          scope((s) => {
            const task = s.spawn('fails to clean up', async () => {
              await sleep(60_000).catch(() => {
                throw cleanupFailed
              })
            })
            task.cancel('stop')
          }),
        ),
      )
      assert.equal(error, cleanupFailed)
    }),
  )

  test(
    'cancels the scopes nested in the task, with the same reason',
    inVirtualTime(async (clock) => {
      let nested: unknown
      await clock.run(
        scope(async (s) => {
          const task = s.spawn('opens a scope', async () => {
            nested = await rejection(scope(() => sleep(60_000)))
          })
          await sleep(5)
          task.cancel('stop')
        }),
      )
      assert.ok(nested instanceof AbortError)
      assert.equal(nested.reason, 'stop')
    }),
  )
})

describe('a task spawned into a cancelled scope', () => {
  test(
    'is cancelled at once with the reason of the scope, and its function is never called',
    inVirtualTime(async (clock) => {
      const failure = new Error('failed')
      let called = false
      let late: Task<void> | undefined
      await rejection(
        clock.run(
          scope((s) => {
            s.spawn('fails', () => {
              throw failure
            })
            late = s.spawn('spawned after the failure', () => {
              called = true
            })
          }),
        ),
      )
      assert.equal(called, false)
      assert.equal(late?.state, 'cancelled')
      assert.equal(late?.signal.reason, failure)
      const error = await rejection(late ?? Promise.resolve())
      assert.ok(error instanceof AbortError)
      assert.equal(error.reason, failure)
    }),
  )
})

describe('a task', () => {
  test('calls its function with { signal, deadline }, to read or destructure; not awaitable', async () => {
    await scope({ deadline: 60_000 }, async (s) => {
      let context: TaskContext | undefined
      const task = s.spawn('reads its context', (received) => {
        context = received
      })
      await task
      assert.ok(context !== undefined)
      const { signal, deadline } = context
      assert.equal(signal, task.signal)
      assert.equal(context.signal, signal, 'the same signal on every read')
      assert.equal(deadline, s.deadline)
      assert.ok('signal' in context && 'deadline' in context)
      // A context that is a thenable turns `async (context) => context` into a task awaiting itself.
      assert.equal(typeof (context as { then?: unknown }).then, 'undefined')
    })
  })

  test(
    'counts a function returning a thenable that calls back twice as one task',
    inVirtualTime(async (clock) => {
      const events: string[] = []
      const twice = {
        // biome-ignore lint/suspicious/noThenProperty: a non-conforming thenable is the point of the test.
        then(resolve: (value: number) => void) {
          resolve(1)
          resolve(2)
        },
      }
      await clock.run(
        scope((s) => {
          s.spawn('calls back twice', () => twice as PromiseLike<number>)
          s.spawn('slow', async () => {
            await sleep(10)
            events.push('slow task done')
          })
        }).finally(() => events.push('scope settled')),
      )
      assert.deepEqual(events, ['slow task done', 'scope settled'])
    }),
  )

  test(
    'fails its scope when its function returns a thenable whose then() throws',
    inVirtualTime(async (clock) => {
      const broken = {
        // biome-ignore lint/suspicious/noThenProperty: a non-conforming thenable is the point of the test.
        then() {
          throw new Error('then() threw')
        },
      }
      await assert.rejects(
        clock.run(scope((s) => void s.spawn('broken thenable', () => broken as PromiseLike<never>))),
        /then\(\) threw/,
      )
    }),
  )
})

// Type-level (fails `tsc --noEmit`, not the runner): Task<T> is invariant because of its private
// `#waiter: PromiseWithResolvers<T>`, so a Task<number> is not a Task<unknown>.
describe('Task typing', () => {
  test('a task of any value is a Task: tasks of different types go in one list', async () => {
    await scope(async (s) => {
      const tasks: Task[] = [s.spawn(() => 1), s.spawn(() => 'one')]
      assert.deepEqual(await Promise.all(tasks), [1, 'one'])
    })
  })
})
