// weftFastify, driven through fastify's own inject() on the virtual clock: the request's scope, its
// deadline from the header, the 504 at the deadline, trace context. The client's side of the same
// contract (cancellation by a disconnecting caller included) is in client.test.ts.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { clock, currentDeadline, currentScope, currentSpan, scope, sleep, type Trace } from 'weft'
import { type WeftFastifyOptions, weftFastify } from 'weft/rpc'
import { withVirtualClock } from 'weft/testing'

async function app(
  routes: (app: FastifyInstance) => void,
  options: WeftFastifyOptions = {},
): Promise<FastifyInstance> {
  const instance = Fastify()
  await instance.register(weftFastify, options)
  routes(instance)
  await instance.ready()
  return instance
}

/** What a handler sees of its time budget: ms left when it starts, or null without a deadline. */
function budgetRoute(instance: FastifyInstance): void {
  instance.get('/budget', async () => {
    const deadline = currentDeadline()
    return { left: deadline === undefined ? null : deadline - clock().now() }
  })
}

describe('weftFastify', () => {
  test("runs each handler as the callback of the request's own scope", async () => {
    const server = await app((instance) => {
      instance.get('/scope', async (request) => {
        const s = currentScope()
        const child = await request.scope.spawn('lookup', async () => 'found')
        return { ambient: s === request.scope, root: s?.root === s, name: s?.name, child }
      })
    })
    const response = await server.inject({ url: '/scope' })
    assert.deepEqual(response.json(), { ambient: true, root: true, name: 'GET /scope', child: 'found' })
    await server.close()
  })

  test("the scope is named after the request's method and the route's pattern, not its URL", async () => {
    const names: string[] = []
    const server = await app((instance) => {
      instance.get('/users/:id', async (request) => {
        names.push(request.scope.name)
        return {}
      })
    })
    await server.inject({ url: '/users/42?full=1' })
    await server.inject({ method: 'HEAD', url: '/users/7' })
    assert.deepEqual(names, ['GET /users/:id', 'HEAD /users/:id'])
    await server.close()
  })

  test('a request made from inside a scope of this process still has a scope of its own', async () => {
    const server = await app(budgetRoute)
    // Awaited inside the callback, so that the request starts in the caller's context.
    const response = await scope({ deadline: 100 }, async () => await server.inject({ url: '/budget' }))
    assert.deepEqual(response.json(), { left: null }, "the caller's deadline only travels in the header")
    await server.close()
  })

  test("the caller's weft-timeout-ms is the scope's deadline, counted from the request's arrival", async () => {
    await withVirtualClock(async (virtual) => {
      const server = await app(budgetRoute)
      const response = await virtual.run(
        server.inject({ url: '/budget', headers: { 'weft-timeout-ms': '250' } }),
      )
      assert.deepEqual(response.json(), { left: 250 })
      await server.close()
    })
  })

  test('a budget longer than maxDeadline is cut to it', async () => {
    await withVirtualClock(async (virtual) => {
      const server = await app(budgetRoute, { maxDeadline: 1000 })
      const response = await virtual.run(
        server.inject({ url: '/budget', headers: { 'weft-timeout-ms': '90000' } }),
      )
      assert.deepEqual(response.json(), { left: 1000 })
      await server.close()
    })
  })

  test('without the header, defaultDeadline applies; without either, there is no deadline', async () => {
    await withVirtualClock(async (virtual) => {
      const withDefault = await app(budgetRoute, { defaultDeadline: 300 })
      assert.deepEqual((await virtual.run(withDefault.inject({ url: '/budget' }))).json(), { left: 300 })
      const without = await app(budgetRoute)
      assert.deepEqual((await virtual.run(without.inject({ url: '/budget' }))).json(), { left: null })
      await Promise.all([withDefault.close(), without.close()])
    })
  })

  test('answers 504 as the deadline passes, even while the handler ignores it; the scope still waits for the handler', async () => {
    await withVirtualClock(async (virtual) => {
      let handlerDone = false
      const server = await app((instance) => {
        instance.get('/stubborn', async () => {
          await sleep(5000, { signal: new AbortController().signal }) // ignores the request's signal
          handlerDone = true
          return { late: true }
        })
      })
      const start = virtual.now()
      const response = await virtual.run(
        server.inject({ url: '/stubborn', headers: { 'weft-timeout-ms': '100' } }),
      )
      assert.equal(virtual.now() - start, 100)
      assert.equal(response.statusCode, 504)
      assert.deepEqual(response.json(), {
        statusCode: 504,
        code: 'WEFT_DEADLINE_EXCEEDED',
        error: 'Gateway Timeout',
        message: 'scope "GET /stubborn": deadline exceeded',
      })
      assert.equal(handlerDone, false)
      await virtual.runAll()
      assert.equal(handlerDone, true)
      await server.close()
    })
  })

  test("a cooperative handler is cancelled at the deadline with the request's work", async () => {
    await withVirtualClock(async (virtual) => {
      let cancelled: unknown
      const server = await app((instance) => {
        instance.get('/slow', async (request) => {
          const work = request.scope.spawn('work', ({ signal }) => sleep(5000, { signal }))
          await work.catch((error: unknown) => {
            cancelled = error
            throw error
          })
          return {}
        })
      })
      const response = await virtual.run(
        server.inject({ url: '/slow', headers: { 'weft-timeout-ms': '50' } }),
      )
      assert.equal(response.statusCode, 504)
      assert.equal((cancelled as Error).name, 'AbortError')
      assert.equal(virtual.pendingTimers, 0)
      await server.close()
    })
  })

  test('a budget of 0 answers 504 without running the handler', async () => {
    let ran = false
    const server = await app((instance) => {
      instance.get('/late', async () => {
        ran = true
        return {}
      })
    })
    const response = await server.inject({ url: '/late', headers: { 'weft-timeout-ms': '0' } })
    assert.equal(response.statusCode, 504)
    assert.equal(ran, false)
    await server.close()
  })

  test('a malformed weft-timeout-ms is refused with 400 before the handler runs', async () => {
    let ran = false
    const server = await app((instance) => {
      instance.get('/budget', async () => {
        ran = true
        return {}
      })
    })
    const response = await server.inject({ url: '/budget', headers: { 'weft-timeout-ms': '2s' } })
    assert.equal(response.statusCode, 400)
    assert.deepEqual(response.json(), {
      statusCode: 400,
      code: 'WEFT_BAD_DEADLINE',
      error: 'Bad Request',
      message: 'weft-timeout-ms must be one whole number of milliseconds, got "2s"',
    })
    assert.equal(ran, false)
    await server.close()
  })

  test("a sampled traceparent traces the request in the caller's trace, under the caller's span", async () => {
    const traces: Trace[] = []
    const server = await app((instance) => {
      instance.get('/traced', async () => {
        const trace = currentSpan()?.trace
        if (trace !== undefined) traces.push(trace)
        return { traced: trace !== undefined }
      })
    })
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const sampled = await server.inject({
      url: '/traced',
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    })
    assert.deepEqual(sampled.json(), { traced: true })
    assert.equal(traces[0]?.id, traceId)
    assert.equal(traces[0]?.root?.toJSON().parentId, '00f067aa0ba902b7')
    const unsampled = await server.inject({
      url: '/traced',
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-00` },
    })
    assert.deepEqual(
      unsampled.json(),
      { traced: false },
      'tracing is off in this process, and the caller does not trace',
    )
    await server.close()
  })

  test("errors of the handler reach fastify's error handling unchanged", async () => {
    const server = await app((instance) => {
      instance.get('/teapot', async () => {
        throw Object.assign(new Error('short and stout'), { statusCode: 418 })
      })
    })
    const response = await server.inject({ url: '/teapot' })
    assert.equal(response.statusCode, 418)
    assert.equal(response.json().message, 'short and stout')
    await server.close()
  })

  test('HEAD requests of GET routes run the handler once, in one scope', async () => {
    let runs = 0
    const server = await app((instance) => {
      instance.get('/page', async (request) => {
        runs += 1
        assert.equal(request.scope.root, request.scope)
        return { ok: true }
      })
    })
    const response = await server.inject({ method: 'HEAD', url: '/page' })
    assert.equal(response.statusCode, 200)
    assert.equal(runs, 1)
    await server.close()
  })

  test('a callback-style handler runs in the scope until it answers through reply.send', async () => {
    let scopeWhileAnswering: boolean | undefined
    const server = await app((instance) => {
      instance.get('/later', (request, reply) => {
        setImmediate(() => {
          scopeWhileAnswering = currentScope() === request.scope && !request.scope.settled
          reply.send({ later: true })
        })
      })
    })
    const response = await server.inject({ url: '/later' })
    assert.deepEqual(
      [response.statusCode, response.json(), scopeWhileAnswering],
      [200, { later: true }, true],
    )
    await server.close()
  })

  test('work the handler leaves running after its answer is not cancelled when the connection then closes', async () => {
    let release = (): void => {}
    let after: Promise<string> | undefined
    const server = await app((instance) => {
      instance.get('/answer-then-work', async (request, reply) => {
        after = request.scope.spawn('after the answer', async ({ signal }) => {
          await new Promise<void>((resolve) => {
            release = resolve
          })
          return signal.aborted ? `aborted: ${String(signal.reason)}` : 'done'
        })
        reply.send({ answered: true })
        return reply
      })
    })
    const response = await server.inject({ url: '/answer-then-work' })
    assert.deepEqual(response.json(), { answered: true })
    await new Promise(setImmediate) // inject closes the response a tick after it ends it
    release()
    assert.equal(await after, 'done')
    await server.close()
  })

  test('handlers that answer through reply.send keep working', async () => {
    const server = await app((instance) => {
      instance.get('/manual', async (_request, reply) => {
        reply.code(201).send({ created: true })
        return reply
      })
    })
    const response = await server.inject({ url: '/manual' })
    assert.deepEqual([response.statusCode, response.json()], [201, { created: true }])
    await server.close()
  })
})
