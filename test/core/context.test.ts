import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { currentDeadline, currentScope, currentSignal, currentSpan, remaining, scope, sleep } from 'weft'
import { inVirtualTime, rejection, sleepThroughCancellation } from './support.ts'

/** What code deep in a call stack sees, read after a few awaits and with no argument passed down. */
async function ambientSeenDeepDown(depth = 3): Promise<{
  signal: AbortSignal
  deadline: number | undefined
  scope: unknown
  span: unknown
}> {
  if (depth > 0) {
    await sleep(1)
    return ambientSeenDeepDown(depth - 1)
  }
  await Promise.resolve()
  return { signal: currentSignal(), deadline: currentDeadline(), scope: currentScope(), span: currentSpan() }
}

describe('outside any scope', () => {
  test('nothing is aborted, there is no deadline, and no scope or span is current', () => {
    assert.equal(currentSignal().aborted, false)
    assert.equal(currentDeadline(), undefined)
    assert.equal(remaining(), Infinity)
    assert.equal(currentScope(), undefined)
    assert.equal(currentSpan(), undefined)
  })

  test('the signal stays unaborted after scopes have failed and been cancelled', async () => {
    await assert.rejects(scope({ signal: AbortSignal.abort('gone') }, () => {}))
    await assert.rejects(
      scope(() => {
        throw new Error('failed')
      }),
    )
    assert.equal(currentSignal().aborted, false)
  })

  test('after a scope settles, its caller sees its own context again', async () => {
    await scope({ deadline: 1_000 }, () => {})
    assert.equal(currentScope(), undefined)
    assert.equal(currentDeadline(), undefined)
    await scope(async (outer) => {
      await scope({ deadline: 1_000 }, () => {})
      assert.equal(currentScope(), outer)
      assert.equal(currentDeadline(), undefined)
    })
  })
})

describe('inside a scope, the current scope, signal, deadline and span are ambient', () => {
  test("in the scope's callback they are the scope's own", async () => {
    await scope({ deadline: 1_000, trace: true }, (s) => {
      assert.equal(currentScope(), s)
      assert.equal(currentSignal(), s.signal)
      assert.equal(currentDeadline(), s.deadline)
      assert.equal(currentSpan(), s.span)
    })
  })

  test(
    "inside a task, currentSignal() is the task's own signal: cancelling the task aborts it, not the scope's",
    inVirtualTime(async (clock) => {
      await clock.run(
        scope(async (s) => {
          let seen: AbortSignal | undefined
          const task = s.spawn('cancelled', async ({ signal }) => {
            seen = currentSignal()
            assert.equal(seen, signal)
            await sleep(60_000)
          })
          task.cancel('stop')
          assert.equal(seen?.aborted, true)
          assert.equal(currentSignal().aborted, false)
          assert.equal(s.signal.aborted, false)
        }),
      )
    }),
  )

  test(
    'code deep in a call stack sees them across awaits, without extra arguments',
    inVirtualTime(async (clock) => {
      await clock.run(
        scope({ deadline: 1_000, trace: true }, async (s) => {
          const task = s.spawn('calls deep code', () => ambientSeenDeepDown())
          const seen = await task
          assert.equal(seen.signal, task.signal)
          assert.equal(seen.deadline, s.deadline)
          assert.equal(seen.scope, s)
          assert.equal(seen.span, task.span)
        }),
      )
    }),
  )

  test(
    'concurrent tasks each see their own, however their awaits interleave',
    inVirtualTime(async (clock) => {
      await clock.run(
        scope(async (s) => {
          const tasks = [3, 1, 2].map((delay) =>
            s.spawn(async ({ signal }) => {
              for (let i = 0; i < 3; i++) {
                await sleep(delay)
                assert.equal(currentSignal(), signal)
              }
            }),
          )
          await Promise.all(tasks)
        }),
      )
    }),
  )

  test(
    'currentDeadline() is the effective deadline in epoch ms and remaining() the time left to it',
    inVirtualTime(async (clock) => {
      const start = clock.now()
      await clock.run(
        scope({ deadline: 100 }, async () => {
          assert.equal(currentDeadline(), start + 100)
          assert.equal(remaining(), 100)
          await sleep(30)
          assert.equal(remaining(), 70)
          await scope({ deadline: 500 }, () => {
            assert.equal(
              currentDeadline(),
              start + 100,
              "a later deadline of its own does not extend the parent's",
            )
          })
          await scope({ deadline: 20 }, () => {
            assert.equal(currentDeadline(), start + 50)
            assert.equal(remaining(), 20)
          })
        }),
      )
    }),
  )

  test(
    'remaining() is 0, never negative, once the deadline has passed',
    inVirtualTime(async (clock) => {
      let left: number | undefined
      await rejection(
        clock.run(
          scope({ deadline: 10 }, async () => {
            await sleepThroughCancellation(25)
            left = remaining()
          }),
        ),
      )
      assert.equal(left, 0)
    }),
  )
})
