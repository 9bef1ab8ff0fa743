import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { AbortError, DeadlineExceeded, scope, sleep } from 'weft'
import { inVirtualTime, rejection, sleepThroughCancellation } from './support.ts'

describe('a scope whose deadline passes', () => {
  test(
    'rejects with DeadlineExceeded at exactly the deadline, cancelling its work',
    inVirtualTime(async (clock) => {
      const start = clock.now()
      const error = await rejection(clock.run(scope({ name: 'search', deadline: 250 }, () => sleep(60_000))))
      assert.ok(error instanceof DeadlineExceeded)
      assert.equal(error.code, 'WEFT_DEADLINE_EXCEEDED')
      assert.equal(error.deadline, start + 250)
      assert.match(error.message, /scope "search": deadline of 250 ms exceeded/)
      assert.equal(clock.now() - start, 250)
    }),
  )

  test(
    'with deadlineAt, rejects at that epoch ms of the active clock',
    inVirtualTime(async (clock) => {
      const at = clock.now() + 75
      const error = await rejection(clock.run(scope({ deadlineAt: at }, () => sleep(60_000))))
      assert.ok(error instanceof DeadlineExceeded)
      assert.equal(error.deadline, at)
      assert.equal(clock.now(), at)
    }),
  )

  test(
    'aborts its signal with the DeadlineExceeded it rejects with',
    inVirtualTime(async (clock) => {
      let signal: AbortSignal | undefined
      const error = await rejection(
        clock.run(
          scope({ deadline: 10 }, (s) => {
            signal = s.signal
            return sleep(60_000)
          }),
        ),
      )
      assert.equal(signal?.reason, error)
    }),
  )

  test(
    'cancels the tasks and scopes nested in it with that DeadlineExceeded as reason',
    inVirtualTime(async (clock) => {
      let taskError: unknown
      let nestedError: unknown
      let deepTaskReason: unknown
      const error = await rejection(
        clock.run(
          scope({ deadline: 40 }, async (s) => {
            s.spawn('task', async () => {
              taskError = await rejection(sleep(60_000))
            })
            nestedError = await rejection(
              scope({ deadline: 500 }, (nested) => {
                nested.spawn('deep task', async ({ signal }) => {
                  await rejection(sleep(60_000))
                  deepTaskReason = signal.reason
                })
              }),
            )
          }),
        ),
      )
      assert.ok(error instanceof DeadlineExceeded)
      assert.ok(taskError instanceof AbortError)
      assert.equal(taskError.reason, error)
      assert.ok(nestedError instanceof AbortError, 'only the scope whose deadline fired rejects with it')
      assert.equal(nestedError.reason, error)
      assert.equal(deepTaskReason, error)
    }),
  )

  test(
    'still waits for its work to return before it settles',
    inVirtualTime(async (clock) => {
      const start = clock.now()
      await rejection(clock.run(scope({ deadline: 10 }, (s) => s.spawn(() => sleepThroughCancellation(35)))))
      assert.equal(clock.now() - start, 35)
    }),
  )

  test(
    'that has already passed means its callback is never called',
    inVirtualTime(async (clock) => {
      let called = false
      const callback = (): void => {
        called = true
      }
      assert.ok((await rejection(scope({ deadline: 0 }, callback))) instanceof DeadlineExceeded)
      assert.ok(
        (await rejection(scope({ deadlineAt: clock.now() - 1 }, callback))) instanceof DeadlineExceeded,
      )
      assert.equal(called, false)
    }),
  )
})

describe("nested scopes inherit deadlines: the effective one is the earlier of their own and the parent's", () => {
  test(
    "a nested scope with a later deadline of its own gets its parent's",
    inVirtualTime(async (clock) => {
      const start = clock.now()
      await clock.run(
        scope({ deadline: 100 }, (outer) =>
          scope({ deadline: 1_000 }, (inner) => {
            assert.equal(inner.deadline, outer.deadline)
            assert.equal(inner.deadline, start + 100)
          }),
        ),
      )
    }),
  )

  test(
    'an earlier deadline of a nested scope applies to it, and the parent catching its DeadlineExceeded goes on',
    inVirtualTime(async (clock) => {
      const start = clock.now()
      const value = await clock.run(
        scope({ deadline: 100 }, async (outer) => {
          const error = await rejection(
            scope({ deadline: 20 }, (inner) => {
              assert.equal(inner.deadline, start + 20)
              return sleep(60_000)
            }),
          )
          assert.ok(error instanceof DeadlineExceeded, 'the nested scope whose own deadline fired')
          assert.equal(error.deadline, start + 20)
          assert.equal(outer.signal.aborted, false)
          await sleep(30)
          return 'outer went on'
        }),
      )
      assert.equal(value, 'outer went on')
      assert.equal(clock.now() - start, 50)
    }),
  )

  test(
    "a scope opened inside a task inherits the deadline of the task's scope",
    inVirtualTime(async (clock) => {
      const start = clock.now()
      let nestedError: unknown
      const error = await rejection(
        clock.run(
          scope({ deadline: 30 }, (s) => {
            s.spawn('opens a scope', async ({ deadline }) => {
              assert.equal(deadline, start + 30)
              nestedError = await rejection(
                scope((inner) => {
                  assert.equal(inner.deadline, start + 30)
                  return sleep(60_000)
                }),
              )
            })
          }),
        ),
      )
      assert.ok(error instanceof DeadlineExceeded)
      assert.ok(nestedError instanceof AbortError)
      assert.equal(nestedError.reason, error)
      assert.equal(clock.now() - start, 30)
    }),
  )

  test(
    'tasks receive the effective deadline in their context, and remaining() tells the time left',
    inVirtualTime(async (clock) => {
      const start = clock.now()
      await clock.run(
        scope({ deadline: 200 }, async (s) => {
          assert.equal(s.remaining(), 200)
          await sleep(50)
          assert.equal(s.remaining(), 150)
          const deadline = await s.spawn(({ deadline }) => deadline)
          assert.equal(deadline, start + 200)
        }),
      )
      await scope((s) => {
        assert.equal(s.deadline, undefined)
        assert.equal(s.remaining(), Infinity)
        assert.equal(s.spawn(({ deadline }) => deadline).deadline, undefined)
      })
    }),
  )
})

describe('a deadline timer', () => {
  test(
    'is cleared when the scope settles before it',
    // inVirtualTime asserts that no timer is left pending.
    inVirtualTime(async (clock) => {
      await clock.run(scope({ deadline: 60_000 }, () => sleep(10)))
      await assert.rejects(
        clock.run(
          scope({ deadline: 60_000 }, () => {
            throw new Error('failed')
          }),
        ),
      )
    }),
  )
})

describe('a deadline timer on the system clock', () => {
  test('does not fire at once for a deadline longer than 2^31 - 1 ms (about 24.8 days)', async () => {
    // Node's setTimeout fires after 1 ms any delay that does not fit in a signed 32-bit integer.
    const thirtyDays = 30 * 24 * 3600 * 1000
    assert.equal(await scope({ deadline: thirtyDays }, () => sleep(5).then(() => 'finished')), 'finished')
    assert.equal(
      await scope({ deadlineAt: Date.now() + thirtyDays }, () => sleep(5).then(() => 'finished')),
      'finished',
    )
  })
})
