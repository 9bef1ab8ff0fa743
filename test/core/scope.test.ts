import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { AbortError, type Scope, ScopeClosedError, scope, sleep, startSpan, type Trace } from 'weft'
import { inVirtualTime, rejection, sleepThroughCancellation } from './support.ts'

describe('a scope settles only after every task it spawned has settled', () => {
  test(
    'fulfils with the value of its callback once every task has returned',
    inVirtualTime(async (clock) => {
      const start = clock.now()
      const returned: string[] = []
      const value = await clock.run(
        scope(async (s) => {
          s.spawn('a', async () => {
            await sleep(10)
            returned.push('a')
          })
          s.spawn('b', async () => {
            await sleep(20)
            returned.push('b')
          })
          return 'done'
        }),
      )
      assert.equal(value, 'done')
      assert.deepEqual(returned, ['a', 'b'])
      assert.equal(clock.now() - start, 20)
    }),
  )

  test(
    'waits for its tasks when its callback returns early',
    inVirtualTime(async (clock) => {
      const start = clock.now()
      let settledAt: number | undefined
      const settled = scope((s) => {
        s.spawn('slow', () => sleep(50))
        return 'returned at once'
      }).then((value) => {
        settledAt = clock.now()
        return value
      })
      await clock.advance(49)
      assert.equal(settledAt, undefined)
      await clock.advance(1)
      assert.equal(await settled, 'returned at once')
      assert.equal(settledAt, start + 50)
    }),
  )

  test(
    'waits for its tasks when its callback throws',
    inVirtualTime(async (clock) => {
      const start = clock.now()
      const failure = new Error('callback failed')
      let cleanedUp = false
      const error = await rejection(
        clock.run(
          scope(async (s) => {
            s.spawn('cleans up slowly', async () => {
              try {
                await sleep(1_000)
              } finally {
                await sleepThroughCancellation(30)
                cleanedUp = true
              }
            })
            await sleep(10)
            throw failure
          }),
        ),
      )
      assert.equal(error, failure)
      assert.equal(cleanedUp, true)
      assert.equal(clock.now() - start, 40)
    }),
  )

  test(
    'waits for its tasks when its callback throws synchronously',
    inVirtualTime(async (clock) => {
      const start = clock.now()
      const failure = new Error('thrown before any await')
      const error = await rejection(
        clock.run(
          scope((s) => {
            s.spawn('ignores cancellation', () => sleepThroughCancellation(25))
            throw failure
          }),
        ),
      )
      assert.equal(error, failure)
      assert.equal(clock.now() - start, 25)
    }),
  )

  test(
    'waits for tasks that its tasks spawned after its callback returned',
    inVirtualTime(async (clock) => {
      const start = clock.now()
      const returned: string[] = []
      await clock.run(
        scope((s) => {
          s.spawn('parent', async () => {
            await sleep(10)
            s.spawn('child', async () => {
              await sleep(20)
              returned.push('child')
            })
            returned.push('parent')
          })
        }),
      )
      assert.deepEqual(returned, ['parent', 'child'])
      assert.equal(clock.now() - start, 30)
    }),
  )

  test('fulfils at once with the value of a synchronous callback that spawned nothing', async () => {
    assert.equal(await scope(() => 42), 42)
  })
})

describe('the first failure cancels the scope and is the error it rejects with', () => {
  test(
    "aborts the scope's signal with the failing task's error, cancelling its siblings at once",
    inVirtualTime(async (clock) => {
      const start = clock.now()
      const failure = new Error('task failed')
      let scopeSignal: AbortSignal | undefined
      let siblingSignal: AbortSignal | undefined
      const error = await rejection(
        clock.run(
          scope((s) => {
            scopeSignal = s.signal
            s.spawn('sibling', async ({ signal }) => {
              siblingSignal = signal
              await sleep(60_000)
            })
            s.spawn('fails', async () => {
              await sleep(10)
              throw failure
            })
          }),
        ),
      )
      assert.equal(error, failure)
      assert.equal(scopeSignal?.reason, failure)
      assert.equal(siblingSignal?.aborted, true)
      assert.equal(siblingSignal?.reason, failure)
      assert.equal(clock.now() - start, 10, 'the sibling was cancelled, not waited out')
    }),
  )

  test(
    "a failure of the callback cancels the scope's running tasks",
    inVirtualTime(async (clock) => {
      const start = clock.now()
      const failure = new Error('callback failed')
      let taskSignal: AbortSignal | undefined
      const error = await rejection(
        clock.run(
          scope(async (s) => {
            s.spawn('runs long', async ({ signal }) => {
              taskSignal = signal
              await sleep(60_000)
            })
            await sleep(5)
            throw failure
          }),
        ),
      )
      assert.equal(error, failure)
      assert.equal(taskSignal?.reason, failure)
      assert.equal(clock.now() - start, 5)
    }),
  )

  test(
    'a task failure fails the scope even when the callback catches it',
    inVirtualTime(async (clock) => {
      const failure = new Error('task failed')
      const error = await rejection(
        clock.run(
          scope(async (s) => {
            const task = s.spawn('fails', async () => {
              throw failure
            })
            try {
              await task
            } catch {
              return 'fallback'
            }
          }),
        ),
      )
      assert.equal(error, failure)
    }),
  )

  test(
    'rejects with the first error, not with errors raised after it',
    inVirtualTime(async (clock) => {
      const first = new Error('first')
      const error = await rejection(
        clock.run(
          scope((s) => {
            s.spawn('fails second', async () => {
              await sleepThroughCancellation(20)
              throw new Error('second')
            })
            s.spawn('fails first', async () => {
              await sleep(10)
              throw first
            })
          }),
        ),
      )
      assert.equal(error, first)
    }),
  )

  test(
    'keeps the errors raised after the first failure on error.suppressed and on s.suppressed, in order',
    inVirtualTime(async (clock) => {
      const first = new Error('first')
      const fromTask = new Error('cleanup of a task failed')
      const fromCallback = new Error('cleanup of the callback failed')
      let handle: Scope | undefined
      const error = await rejection(
        clock.run(
          scope(async (s) => {
            handle = s
            s.spawn('fails first', async () => {
              await sleep(10)
              throw first
            })
            s.spawn('fails in cleanup', async () => {
              try {
                await sleep(60_000)
              } finally {
                await sleepThroughCancellation(5)
                // biome-ignore lint/correctness/noUnsafeFinally: this models cleanup code that fails.
                throw fromTask
              }
            })
            await sleepThroughCancellation(30)
            throw fromCallback
          }),
        ),
      )
      assert.equal(error, first)
      assert.deepEqual((error as { suppressed?: unknown[] }).suppressed, [fromTask, fromCallback])
      assert.deepEqual(handle?.suppressed, [fromTask, fromCallback])
    }),
  )

  test(
    'does not count the cancellation itself among the suppressed errors',
    inVirtualTime(async (clock) => {
      const first = new Error('first')
      let handle: Scope | undefined
      const error = await rejection(
        clock.run(
          scope(async (s) => {
            handle = s
            // Each sibling ends with the cancellation in one of the forms code meets in practice.
            s.spawn('rejects with AbortError from sleep', () => sleep(60_000))
            s.spawn('rethrows the abort reason', async ({ signal }) => {
              await sleep(60_000).catch(() => {})
              signal.throwIfAborted()
            })
            s.spawn('rejects with a DOMException AbortError', async ({ signal }) => {
              await new Promise((_, reject) =>
                signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))),
              )
            })
            const awaited = s.spawn('awaited by the callback', () => sleep(60_000))
            s.spawn('fails', async () => {
              await sleep(10)
              throw first
            })
            await awaited
          }),
        ),
      )
      assert.equal(error, first)
      assert.deepEqual(handle?.suppressed, [])
      assert.deepEqual((error as { suppressed?: unknown[] }).suppressed ?? [], [])
    }),
  )

  test(
    'keeps later errors on s.suppressed when the first failure is not an object',
    inVirtualTime(async (clock) => {
      const later = new Error('later')
      let handle: Scope | undefined
      const error = await rejection(
        clock.run(
          scope((s) => {
            handle = s
            s.spawn('fails later', async () => {
              await sleepThroughCancellation(10)
              throw later
            })
            s.spawn('throws a string', () => {
              throw 'first'
            })
          }),
        ),
      )
      assert.equal(error, 'first')
      assert.deepEqual(handle?.suppressed, [later])
    }),
  )

  test(
    'never lets the errors of failed or cancelled work surface as unhandled rejections',
    // inVirtualTime fails the test on any unhandled rejection.
    inVirtualTime(async (clock) => {
      const error = await rejection(
        clock.run(
          scope(async (s) => {
            const tasks = [
              s.spawn('awaited and cancelled', () => sleep(60_000)),
              s.spawn('never awaited, fails', async () => {
                await sleep(10)
                throw new Error('failed')
              }),
              s.spawn('never awaited, fails after cancellation', async () => {
                await sleepThroughCancellation(20)
                throw new Error('also failed')
              }),
            ]
            await Promise.all(tasks)
          }),
        ),
      )
      assert.equal((error as Error).message, 'failed')
    }),
  )
})

describe('spawn on a scope that has settled', () => {
  test('throws a ScopeClosedError (code WEFT_SCOPE_CLOSED) naming the scope and the task', async () => {
    let settled: Scope | undefined
    await scope({ name: 'request' }, (s) => {
      settled = s
    })
    let called = false
    assert.equal(settled?.settled, true)
    assert.throws(
      () =>
        settled?.spawn('too late', () => {
          called = true
        }),
      (error: unknown) =>
        error instanceof ScopeClosedError &&
        error.code === 'WEFT_SCOPE_CLOSED' &&
        error.message.includes('"too late"') &&
        error.message.includes('"request"'),
    )
    assert.equal(called, false)
  })

  test('throws the same way on a scope that settled by failing', async () => {
    let settled: Scope | undefined
    await assert.rejects(
      scope((s) => {
        settled = s
        throw new Error('failed')
      }),
    )
    assert.throws(() => settled?.spawn(() => 1), ScopeClosedError)
  })
})

describe('a scope cancelled from outside', () => {
  test(
    "rejects with an AbortError whose reason is the parent signal's, cancelling its tasks",
    inVirtualTime(async (clock) => {
      const start = clock.now()
      const parent = new AbortController()
      const why = new Error('client went away')
      let taskSignal: AbortSignal | undefined
      const work = scope({ signal: parent.signal }, (s) => {
        s.spawn('runs long', async ({ signal }) => {
          taskSignal = signal
          await sleep(60_000)
        })
      })
      clock.setTimeout(() => parent.abort(why), 10)
      const error = await rejection(clock.run(work))
      assert.ok(error instanceof AbortError)
      assert.equal(error.reason, why)
      assert.equal(taskSignal?.reason, why)
      assert.equal(clock.now() - start, 10)
    }),
  )

  test('never calls its callback when the parent signal is already aborted', async () => {
    const why = new Error('already gone')
    let called = false
    const error = await rejection(
      scope({ signal: AbortSignal.abort(why) }, () => {
        called = true
      }),
    )
    assert.equal(called, false)
    assert.ok(error instanceof AbortError)
    assert.equal(error.reason, why)
  })

  test(
    'a scope opened inside a cancelled scope never calls its callback',
    inVirtualTime(async (clock) => {
      const failure = new Error('sibling failed')
      let called = false
      let nested: unknown
      await rejection(
        clock.run(
          scope(async (s) => {
            s.spawn('fails', () => {
              throw failure
            })
            nested = await rejection(
              scope(() => {
                called = true
              }),
            )
          }),
        ),
      )
      assert.equal(called, false)
      assert.ok(nested instanceof AbortError)
      assert.equal(nested.reason, failure)
    }),
  )
})

describe('a scope settles only after the cleanup of the work it cancelled has run', () => {
  test(
    'runs abort handlers and the finally blocks of cancelled tasks before it settles',
    inVirtualTime(async (clock) => {
      const events: string[] = []
      const error = await rejection(
        clock.run(
          scope((s) => {
            s.spawn('cleans up', async ({ signal }) => {
              signal.addEventListener('abort', () => events.push('abort handler'))
              try {
                await sleep(60_000)
              } finally {
                await sleepThroughCancellation(20)
                events.push('finally block')
              }
            })
            s.spawn('fails', async () => {
              await sleep(10)
              throw new Error('failed')
            })
          }).finally(() => events.push('scope settled')),
        ),
      )
      assert.equal((error as Error).message, 'failed')
      assert.deepEqual(events, ['abort handler', 'finally block', 'scope settled'])
    }),
  )

  test(
    'a failure the caller catches leaves the caller not cancelled: its other tasks go on',
    inVirtualTime(async (clock) => {
      const start = clock.now()
      const inner = new Error('inner scope failed')
      let caught: unknown
      let outerSignal: AbortSignal | undefined
      const value = await clock.run(
        scope(async (s) => {
          outerSignal = s.signal
          const other = s.spawn('other work', async () => {
            await sleep(30)
            return 'other finished'
          })
          try {
            await scope(async () => {
              await sleep(10)
              throw inner
            })
          } catch (error) {
            caught = error
          }
          assert.equal(s.signal.aborted, false)
          return other
        }),
      )
      assert.equal(caught, inner)
      assert.equal(outerSignal?.aborted, false)
      assert.equal(value, 'other finished')
      assert.equal(clock.now() - start, 30)
    }),
  )

  test(
    "a task that catches a nested scope's failure is not cancelled and its scope fulfils",
    inVirtualTime(async (clock) => {
      const value = await clock.run(
        scope((s) =>
          s.spawn('recovers', async ({ signal }) => {
            const recovered = await scope(() => {
              throw new Error('nested failed')
            }).catch(() => 'recovered')
            return `${recovered}, task aborted: ${signal.aborted}`
          }),
        ),
      )
      assert.equal(value, 'recovered, task aborted: false')
    }),
  )
})

describe('tracing: a traced scope records a span for itself and for every task and nested scope', () => {
  /** Runs a traced request and returns its spans as `name (kind) < parent: status` lines. */
  async function spansOf(run: (listener: (trace: Trace) => void) => Promise<unknown>): Promise<string[]> {
    let finished: Trace | undefined
    await run((trace) => {
      finished = trace
    }).catch(() => {})
    assert.ok(finished, 'the trace listener was called')
    return finished.spans.map(
      (span) => `${span.name} (${span.kind}) < ${span.parent?.name ?? 'none'}: ${span.status}`,
    )
  }

  test(
    'gives each span the span of what opened it as parent, and ok when it fulfilled',
    inVirtualTime(async (clock) => {
      const spans = await spansOf((trace) =>
        clock.run(
          scope({ name: 'request', trace }, async (s) => {
            await s.spawn('lookup', async () => {
              await scope({ name: 'fan-out' }, (inner) => inner.spawn('query', () => sleep(5)))
            })
          }),
        ),
      )
      assert.deepEqual(spans, [
        'request (scope) < none: ok',
        'lookup (task) < request: ok',
        'fan-out (scope) < lookup: ok',
        'query (task) < fan-out: ok',
      ])
    }),
  )

  test(
    'marks failed work error and the work it cancelled cancelled',
    inVirtualTime(async (clock) => {
      const spans = await spansOf((trace) =>
        clock.run(
          scope({ name: 'request', trace }, (s) => {
            s.spawn('done early', () => 'ok')
            s.spawn('cancelled', () => sleep(60_000))
            s.spawn('opens a scope', () => scope({ name: 'nested' }, () => sleep(60_000)))
            s.spawn('fails', async () => {
              await sleep(10)
              throw new Error('failed')
            })
          }),
        ),
      )
      assert.deepEqual(spans, [
        'request (scope) < none: error',
        'done early (task) < request: ok',
        'cancelled (task) < request: cancelled',
        'opens a scope (task) < request: cancelled',
        'nested (scope) < opens a scope: cancelled',
        'fails (task) < request: error',
      ])
    }),
  )

  test(
    'closes each span at the virtual time its work ended, with the error it ended with',
    inVirtualTime(async (clock) => {
      const start = clock.now()
      let finished: Trace | undefined
      await rejection(
        clock.run(
          scope(
            {
              name: 'request',
              deadline: 30,
              trace: (trace) => {
                finished = trace
              },
            },
            (s) => {
              s.spawn('quick', () => sleep(10))
              s.spawn('slow', () => sleep(60_000))
            },
          ),
        ),
      )
      const [request, quick, slow] = finished?.spans.map((span) => span.toJSON()) ?? []
      assert.equal(request?.status, 'error')
      assert.match(request?.error ?? '', /^DeadlineExceeded: /)
      assert.deepEqual([quick?.start, quick?.end], [start, start + 10])
      assert.deepEqual([slow?.status, slow?.end], ['cancelled', start + 30])
      assert.match(slow?.error ?? '', /^AbortError: /)
      assert.equal(request?.end, start + 30)
    }),
  )

  test(
    'settles even when its trace listener throws, reporting that error as a process warning',
    inVirtualTime(async (clock) => {
      const warnings: string[] = []
      const onWarning = (warning: Error): void => {
        warnings.push(warning.message)
      }
      const throwing = (): void => {
        throw new Error('exporter down')
      }
      process.on('warning', onWarning)
      try {
        assert.equal(await clock.run(scope({ trace: throwing }, () => 'sync')), 'sync')
        assert.equal(await clock.run(scope({ trace: throwing }, async () => 'async')), 'async')
      } finally {
        process.off('warning', onWarning)
      }
      assert.equal(warnings.length, 2)
      assert.match(warnings[0] ?? '', /exporter down/)
    }),
  )

  test('records nothing for a scope with tracing off', async () => {
    await scope({ trace: false }, async (s) => {
      assert.equal(s.span, undefined)
      assert.equal(s.spawn(() => 1).span, undefined)
    })
  })

  test(
    'a nested scope with `span: false` records no span: its tasks and calls nest under the enclosing span',
    inVirtualTime(async (clock) => {
      const spans = await spansOf((trace) =>
        clock.run(
          scope({ name: 'request', trace }, async (s) => {
            await s.spawn('lookup', () =>
              scope({ name: 'budget', deadline: 50, span: false }, async (inner) => {
                assert.equal(inner.span?.name, 'lookup')
                startSpan('backend call', 'client')?.finish('ok')
                await inner.spawn('query', () => sleep(5))
              }),
            )
          }),
        ),
      )
      assert.deepEqual(spans, [
        'request (scope) < none: ok',
        'lookup (task) < request: ok',
        'backend call (client) < lookup: ok',
        'query (task) < lookup: ok',
      ])
    }),
  )

  test(
    'a scope without a span leaves the enclosing span open, whatever it ends with; its errors still name it',
    inVirtualTime(async (clock) => {
      let error: unknown
      const spans = await spansOf((trace) =>
        clock.run(
          scope({ name: 'request', trace }, async (s) => {
            await s.spawn('lookup', async () => {
              error = await scope({ name: 'budget', deadline: 10, span: false }, () => sleep(60_000)).catch(
                (e: unknown) => e,
              )
              await scope({ name: 'bare', span: false }, () => sleep(5))
            })
          }),
        ),
      )
      assert.match(String(error), /^DeadlineExceeded: scope "budget"/)
      assert.deepEqual(spans, ['request (scope) < none: ok', 'lookup (task) < request: ok'])
    }),
  )

  test('`span: false` is ignored by a scope that starts a request or a trace: its span is the root', async () => {
    let names: string[] = []
    await scope(
      { name: 'request', trace: (t) => (names = t.spans.map((span) => span.name)), span: false },
      () =>
        scope({ name: 'own trace', trace: true, span: false }, (s) =>
          assert.equal(s.span?.name, 'own trace'),
        ),
    )
    assert.deepEqual(names, ['request'])
  })
})

describe('a scope settles only after the work nested in it has settled', () => {
  test(
    'waits for the cleanup of nested scopes its callback started but did not wait for',
    inVirtualTime(async (clock) => {
      const events: string[] = []
      await rejection(
        clock.run(
          scope(async () => {
            // Promise.all gives up at the first rejection: the other nested scope is cancelled, still cleaning up.
            await Promise.all([
              scope((s) => {
                s.spawn('cleans up slowly', async () => {
                  try {
                    await sleep(60_000)
                  } finally {
                    await sleepThroughCancellation(50)
                    events.push('cleanup of the nested scope done')
                  }
                })
              }),
              scope(async () => {
                await sleep(10)
                throw new Error('sibling scope failed')
              }),
            ])
          }).finally(() => events.push('outer scope settled')),
        ),
      )
      await clock.runAll()
      assert.deepEqual(events, ['cleanup of the nested scope done', 'outer scope settled'])
    }),
  )

  test(
    'waits for a nested scope opened by a task that did not wait for it',
    inVirtualTime(async (clock) => {
      const events: string[] = []
      await clock.run(
        scope((s) => {
          s.spawn('fire and forget', () => {
            void scope(async () => {
              await sleep(20)
              events.push('nested scope done')
            })
          })
        }).finally(() => events.push('outer scope settled')),
      )
      await clock.runAll()
      assert.deepEqual(events, ['nested scope done', 'outer scope settled'])
    }),
  )
})

describe('tracing', () => {
  test(
    'closes the span of a task spawned into a cancelled scope as cancelled',
    inVirtualTime(async (clock) => {
      let finished: Trace | undefined
      await rejection(
        clock.run(
          scope({ trace: (trace) => (finished = trace) }, (s) => {
            s.spawn('fails', () => {
              throw new Error('failed')
            })
            s.spawn('spawned after the failure', () => 'never called')
          }),
        ),
      )
      const late = finished?.spans.find((span) => span.name === 'spawned after the failure')
      assert.equal(late?.status, 'cancelled')
      assert.notEqual(late?.end, undefined)
    }),
  )
})

describe('a scope settles whatever its first error is', () => {
  test(
    'settles when its first error is frozen and errors follow it',
    inVirtualTime(async (clock) => {
      const first = Object.freeze(new Error('frozen'))
      const outcome = await clock.run(
        scope((s) => {
          s.spawn('fails later', async () => {
            await sleepThroughCancellation(10)
            throw new Error('later')
          })
          throw first
        }).catch((error: unknown) => error),
      )
      assert.equal(outcome, first)
    }),
  )
})

describe('suppressed errors stay reachable', () => {
  test(
    'keeps on error.suppressed the later errors of every scope the first error passed through',
    inVirtualTime(async (clock) => {
      const first = new Error('first')
      const innerLater = new Error('cleanup in the inner scope failed')
      const outerLater = new Error('cleanup in the outer scope failed')
      const failsInCleanup = (error: Error) => async () => {
        try {
          await sleep(60_000)
        } finally {
          await sleepThroughCancellation(5)
          // biome-ignore lint/correctness/noUnsafeFinally: this models cleanup code that fails.
          throw error
        }
      }
      const error = await rejection(
        clock.run(
          scope((outer) => {
            outer.spawn('fails in cleanup', failsInCleanup(outerLater))
            outer.spawn('opens a scope', () =>
              scope((inner) => {
                inner.spawn('fails in cleanup', failsInCleanup(innerLater))
                inner.spawn('fails', async () => {
                  await sleep(10)
                  throw first
                })
              }),
            )
          }),
        ),
      )
      assert.equal(error, first)
      const suppressed = (error as { suppressed?: unknown[] }).suppressed ?? []
      assert.ok(suppressed.includes(innerLater), "the inner scope's later error was lost")
      assert.ok(suppressed.includes(outerLater), "the outer scope's later error was lost")
    }),
  )
})
