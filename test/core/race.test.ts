import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { AbortError, DeadlineExceeded, race, scope, sleep } from 'weft'
import { withVirtualClock } from 'weft/testing'

describe('race', () => {
  test('the first success wins and the losers are cancelled before race settles', async () => {
    await withVirtualClock(async (clock) => {
      const cleanedUp: string[] = []
      const replica =
        (name: string, ms: number) =>
        async ({ signal }: { signal: AbortSignal }) => {
          try {
            await sleep(ms, { signal })
            return name
          } finally {
            cleanedUp.push(name)
          }
        }
      const winner = await clock.run(race([replica('a', 30), replica('b', 10), replica('c', 50)]))
      assert.equal(winner, 'b')
      assert.deepEqual(cleanedUp.sort(), ['a', 'b', 'c'])
      assert.equal(clock.pendingTimers, 0)
    })
  })

  test('a failure does not end the race while another attempt may still succeed', async () => {
    await withVirtualClock(async (clock) => {
      const winner = await clock.run(
        race([
          async () => {
            throw new Error('replica a is down')
          },
          async ({ signal }) => {
            await sleep(20, { signal })
            return 'b'
          },
        ]),
      )
      assert.equal(winner, 'b')
    })
  })

  test('when every attempt fails, rejects with an AggregateError of their errors in order', async () => {
    const error = await race([
      async () => {
        await sleep(2)
        throw new Error('first')
      },
      async () => {
        throw new Error('second')
      },
    ]).catch((caught: unknown) => caught)
    assert.ok(error instanceof AggregateError)
    assert.deepEqual(
      error.errors.map((e: Error) => e.message),
      ['first', 'second'],
    )
  })

  test('losers see an AbortError-named reason, and the deadline of the enclosing scope applies', async () => {
    await withVirtualClock(async (clock) => {
      let loserReason: unknown
      await clock.run(
        race<string>([
          async () => 'quick',
          async ({ signal }) => {
            await sleep(100, { signal }).catch(() => {
              loserReason = signal.reason
            })
            return 'slow'
          },
        ]),
      )
      assert.equal((loserReason as Error).name, 'AbortError')

      const outcome = clock.run(scope({ deadline: 50 }, () => race([() => sleep(1000), () => sleep(2000)])))
      await assert.rejects(outcome, DeadlineExceeded)
    })
  })

  test('functions are called with { signal, deadline }', async () => {
    await withVirtualClock(async (clock) => {
      const seen = await clock.run(
        scope({ deadline: 500 }, () =>
          race([async (context) => ({ deadline: context.deadline, aborted: context.signal.aborted })]),
        ),
      )
      assert.equal(seen.deadline, clock.now() + 500)
      assert.equal(seen.aborted, false)
    })
  })

  test('bad input is a TypeError naming the argument', () => {
    assert.throws(() => race([]), /race\(\): fns must contain at least one function, got none/)
    assert.throws(() => race([async () => 1, 'x' as never]), /race\(\): fns\[1\] must be a function, got "x"/)
    assert.throws(() => race([async () => 1], 5 as never), /race\(\): options must be an object, got 5/)
  })

  test('a cancelled enclosing scope rejects the race with an AbortError', async () => {
    const controller = new AbortController()
    const outcome = scope({ signal: controller.signal }, () => race([() => sleep(10_000)]))
    controller.abort(new Error('client went away'))
    await assert.rejects(outcome, AbortError)
  })
})
