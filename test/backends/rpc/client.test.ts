// The contract of the rpc client, run twice: against a real local HTTP server over TCP, and against
// the same app in process. Every test builds its own app, so each one reads as the behaviour it checks.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import Fastify from 'fastify'
import {
  AbortError,
  BackendRefused,
  BackendTimeout,
  BackendUnavailable,
  currentDeadline,
  currentSignal,
  currentSpan,
  DeadlineExceeded,
  ProtocolError,
  scope,
  sleep,
  type Trace,
} from 'weft'
import { type RpcClient, RpcError, rpcClient } from 'weft/rpc'
import { withVirtualClock } from 'weft/testing'
import { type Service, service, signalled, type Transport, transports } from './support.ts'

/** Resolves with the ambient signal's reason once it aborts: a handler that works until cancelled. */
function untilCancelled(): Promise<unknown> {
  const signal = currentSignal()
  return new Promise((resolve) =>
    signal.addEventListener('abort', () => resolve(signal.reason), { once: true }),
  )
}

async function withService(
  transport: Transport,
  routes: Parameters<typeof service>[1],
  body: (svc: Service) => Promise<void>,
): Promise<void> {
  const svc = await service(transport, routes)
  try {
    await body(svc)
  } finally {
    await svc.close()
  }
}

for (const transport of transports) {
  describe(`rpc client, ${transport.name}`, () => {
    test('GET and POST send the query and the JSON body, and decode the JSON answer', async () => {
      await withService(
        transport,
        (app) => {
          app.get('/city', async (request) => ({ query: request.query }))
          app.post('/echo', async (request) => ({
            echoed: request.body,
            type: request.headers['content-type'],
          }))
          app.delete('/session', async (_request, reply) => reply.code(204).send())
        },
        async (svc) => {
          const client = await svc.client()
          assert.deepEqual(
            await client.get('/city', { query: { ip: '192.0.2.1', exact: true, skip: undefined } }),
            {
              query: { ip: '192.0.2.1', exact: 'true' },
            },
          )
          assert.deepEqual(await client.post('/echo', { name: 'Zoë', tags: [1, 2] }), {
            echoed: { name: 'Zoë', tags: [1, 2] },
            type: 'application/json',
          })
          assert.equal(await client.delete('/session'), undefined)
        },
      )
    })

    test("sends the time left as weft-timeout-ms; the handler's scope has the caller's deadline", async () => {
      let seen: { header: unknown; deadline: number | undefined } | undefined
      await withService(
        transport,
        (app) => {
          app.get('/budget', async (request) => {
            seen = { header: request.headers['weft-timeout-ms'], deadline: currentDeadline() }
            // The service learns the deadline from the header: its scope is a request of its own.
            assert.equal(request.scope.root, request.scope)
            return {}
          })
        },
        async (svc) => {
          const client = await svc.client()
          const callerDeadline = await scope({ deadline: 2000 }, async () => {
            await client.get('/budget')
            return currentDeadline() as number
          })
          const header = Number(seen?.header)
          assert.ok(
            Number.isInteger(header) && header > 1500 && header <= 2000,
            `header ${String(seen?.header)}`,
          )
          // Same process, same clock: the server's deadline is the caller's, plus the transit time and
          // under a millisecond of rounding up, never earlier.
          const serverDeadline = seen?.deadline as number
          assert.ok(serverDeadline >= callerDeadline, `${serverDeadline} >= ${callerDeadline}`)
          assert.ok(serverDeadline - callerDeadline < 500, `${serverDeadline - callerDeadline} ms late`)
        },
      )
    })

    test("the service runs outside the caller's context, like a remote one: only the headers carry it", async () => {
      const seenByHooks: unknown[] = []
      await withService(
        transport,
        (app) => {
          // Hooks run before weftFastify opens the request's scope: they see what the connection carries.
          app.addHook('onRequest', async () => {
            seenByHooks.push(currentDeadline())
          })
          app.get('/ok', async () => ({}))
        },
        async (svc) => {
          const client = await svc.client({ connections: 1 })
          await scope({ deadline: 1000 }, () => client.get('/ok'))
          await scope({ deadline: 2000 }, () => client.get('/ok')) // on the connection the first call opened
          assert.deepEqual(seenByHooks, [undefined, undefined])
        },
      )
    })

    test('without a deadline, no weft-timeout-ms is sent and the handler has no deadline', async () => {
      await withService(
        transport,
        (app) => {
          app.get('/budget', async (request) => ({
            header: request.headers['weft-timeout-ms'] ?? null,
            deadline: currentDeadline() ?? null,
          }))
        },
        async (svc) => {
          const client = await svc.client()
          assert.deepEqual(await client.get('/budget'), { header: null, deadline: null })
        },
      )
    })

    test("sends a traceparent naming the call's client span; the server traces the request under it", async () => {
      const serverTraces: Trace[] = []
      let received: string | undefined
      await withService(
        transport,
        (app) => {
          app.get('/traced', async (request) => {
            received = request.headers.traceparent as string
            const root = currentSpan()
            root?.trace && serverTraces.push(root.trace)
            return {}
          })
        },
        async (svc) => {
          const client = await svc.client({ name: 'geocoder' })
          const traces: Trace[] = []
          await scope({ name: 'request', trace: (trace) => traces.push(trace) }, () => client.get('/traced'))
          const [trace] = traces
          const call = trace?.spans.find((span) => span.kind === 'client')
          assert.ok(call !== undefined, 'a client span was recorded')
          assert.equal(received, `00-${trace?.id}-${call.spanId}-01`)
          const serverRoot = serverTraces[0]?.root
          assert.equal(serverRoot?.trace.id, trace?.id)
          assert.equal(serverRoot?.toJSON().parentId, call.spanId)
        },
      )
    })

    test('records one client span per call: method, URL, server, status', async () => {
      await withService(
        transport,
        (app) => {
          app.get('/ok', async () => ({}))
          app.get('/missing', async (_request, reply) => reply.code(404).send({ message: 'no such thing' }))
        },
        async (svc) => {
          const client = await svc.client({ name: 'geocoder' })
          const traces: Trace[] = []
          await scope({ name: 'request', trace: (trace) => traces.push(trace) }, async () => {
            await client.get('/ok', { query: { a: 1 } })
            await client.get('/missing').catch(() => {})
          })
          const calls = traces[0]?.spans.filter((span) => span.kind === 'client') ?? []
          assert.deepEqual(
            calls.map((span) => [span.name, span.status, span.attributes['http.response.status_code']]),
            [
              ['rpc GET /ok', 'ok', 200],
              ['rpc GET /missing', 'error', 404],
            ],
          )
          const [first] = calls
          assert.equal(first?.attributes['http.request.method'], 'GET')
          assert.match(String(first?.attributes['url.full']), /^http:\/\/[^/]+\/ok\?a=1$/)
          assert.equal(first?.attributes['rpc.service'], 'geocoder')
          assert.equal(typeof first?.attributes['server.address'], 'string')
        },
      )
    })

    test("cancelling the caller aborts the request: the call rejects with AbortError and the handler's signal aborts", async () => {
      const started = signalled()
      const serverCancelled = signalled<unknown>()
      await withService(
        transport,
        (app) => {
          app.get('/slow', async () => {
            started.resolve()
            serverCancelled.resolve(await untilCancelled())
            return {}
          })
        },
        async (svc) => {
          const client = await svc.client()
          await scope(async (s) => {
            const call = s.spawn('call', () => client.get('/slow'))
            await started.promise
            call.cancel('the user navigated away')
            await assert.rejects(call, (error) => error instanceof AbortError)
          })
          const reason = await serverCancelled.promise
          assert.ok(
            reason instanceof Error && reason.name === 'AbortError',
            'the server saw the client go away',
          )
        },
      )
    })

    test("a passing deadline rejects the call with AbortError (reason DeadlineExceeded) and cancels the server's work", async () => {
      const serverCancelled = signalled<unknown>()
      await withService(
        transport,
        (app) => {
          app.get('/slow', async () => {
            serverCancelled.resolve(await untilCancelled())
            return {}
          })
        },
        async (svc) => {
          const client = await svc.client({ name: 'geocoder' })
          let callError: unknown
          const outcome = await scope({ deadline: 50 }, async () => {
            callError = await client.get('/slow').catch((error: unknown) => error)
          }).catch((error: unknown) => error)
          assert.ok(callError instanceof AbortError, String(callError))
          assert.ok(callError.reason instanceof DeadlineExceeded)
          assert.match(
            callError.message,
            /^rpc \S+ geocoder GET \/slow was cancelled: DeadlineExceeded: scope "scope": deadline of 50 ms exceeded$/,
          )
          // The caller's scope fails with its own deadline.
          assert.ok(outcome instanceof DeadlineExceeded, String(outcome))
          await serverCancelled.promise
        },
      )
    })

    test("a call's own deadline bounds it (DeadlineExceeded) and travels in the header", async () => {
      // Virtual time: the deadline passes once the server has the call, however slow the machine.
      const header = Promise.withResolvers<unknown>()
      await withService(
        transport,
        (app) => {
          app.get('/slow', async (request) => {
            header.resolve(request.headers['weft-timeout-ms'])
            await untilCancelled()
            return {}
          })
        },
        async (svc) => {
          const client = await svc.client()
          await withVirtualClock(async (clock) => {
            const rejected = assert.rejects(client.get('/slow', { deadline: 40 }), (error) => {
              assert.ok(error instanceof DeadlineExceeded, String(error))
              assert.match(error.message, /GET \/slow/)
              return true
            })
            assert.equal(await header.promise, '40')
            await clock.advance(40)
            await rejected
          })
        },
      )
    })

    test('a call made once its scope is cancelled is not sent', async () => {
      let hits = 0
      await withService(
        transport,
        (app) => {
          app.get('/ok', async () => ({ hits: ++hits }))
        },
        async (svc) => {
          const client = await svc.client()
          const controller = new AbortController()
          controller.abort(new Error('request abandoned'))
          await assert.rejects(client.get('/ok', { signal: controller.signal }), (error) => {
            assert.ok(error instanceof AbortError)
            assert.equal((error.reason as Error).message, 'request abandoned')
            return true
          })
          await assert.rejects(client.get('/ok', { deadline: 0 }), DeadlineExceeded)
          assert.equal(hits, 0)
        },
      )
    })

    test('an explicit signal cancels the call like the ambient one', async () => {
      const started = signalled()
      await withService(
        transport,
        (app) => {
          app.get('/slow', async () => {
            started.resolve()
            await untilCancelled()
            return {}
          })
        },
        async (svc) => {
          const client = await svc.client()
          const controller = new AbortController()
          const call = client.get('/slow', { signal: controller.signal })
          await started.promise
          controller.abort(new Error('shutting down'))
          await assert.rejects(call, (error) => {
            assert.ok(error instanceof AbortError)
            assert.equal((error.reason as Error).message, 'shutting down')
            return true
          })
        },
      )
    })

    test("an attempt's timeout fails it with BackendTimeout naming the server, and cancels the server's work", async () => {
      const serverCancelled = signalled<unknown>()
      let header: unknown
      await withService(
        transport,
        (app) => {
          app.get('/slow', async (request) => {
            header = request.headers['weft-timeout-ms']
            serverCancelled.resolve(await untilCancelled())
            return {}
          })
        },
        async (svc) => {
          const client = await svc.client({ timeout: 40 })
          await assert.rejects(client.get('/slow'), (error) => {
            assert.ok(error instanceof BackendTimeout, String(error))
            assert.equal(error.address, client.address)
            assert.match(error.message, /GET \/slow: no answer within 40 ms/)
            return true
          })
          assert.equal(header, '40', 'the server is told the budget of the attempt')
          await serverCancelled.promise
        },
      )
    })

    test('error statuses fail with RpcError carrying the status and the decoded body', async () => {
      await withService(
        transport,
        (app) => {
          app.get('/missing', async (_request, reply) => reply.code(404).send({ message: 'no such city' }))
          app.get('/broken', async (_request, reply) =>
            reply.code(500).type('text/plain').send('disk on fire'),
          )
        },
        async (svc) => {
          const client = await svc.client({ name: 'geocoder' })
          await assert.rejects(client.get('/missing'), (error) => {
            assert.ok(error instanceof RpcError)
            assert.deepEqual(
              [error.status, error.body, error.backend],
              [404, { message: 'no such city' }, 'rpc'],
            )
            assert.equal(error.code, 'WEFT_RPC_STATUS')
            assert.match(error.message, /geocoder GET \/missing: HTTP 404: "no such city"/)
            return true
          })
          await assert.rejects(client.get('/broken'), (error) => {
            assert.ok(error instanceof RpcError)
            assert.deepEqual([error.status, error.body], [500, 'disk on fire'])
            return true
          })
        },
      )
    })

    test('retries idempotent calls after server failures, never the others', async () => {
      const hits = { get: 0, post: 0, marked: 0 }
      const flaky =
        (key: keyof typeof hits) => async (_request: unknown, reply: import('fastify').FastifyReply) =>
          ++hits[key] < 3 ? reply.code(503).send({ message: 'busy' }) : { key, hits: hits[key] }
      await withService(
        transport,
        (app) => {
          app.get('/get', flaky('get'))
          app.post('/post', flaky('post'))
          app.post('/marked', flaky('marked'))
        },
        async (svc) => {
          const client = await svc.client({ retry: { attempts: 3, backoff: 1 } })
          const traces: Trace[] = []
          const got = await scope({ trace: (trace) => traces.push(trace) }, () => client.get('/get'))
          assert.deepEqual(got, { key: 'get', hits: 3 })
          const attempts = traces[0]?.spans.filter((span) => span.kind === 'client') ?? []
          assert.deepEqual(
            attempts.map((span) => span.attributes['http.response.status_code']),
            [503, 503, 200],
            'one client span per attempt',
          )
          await assert.rejects(
            client.post('/post', {}),
            (error) => error instanceof RpcError && error.status === 503,
          )
          assert.equal(hits.post, 1, 'a POST is sent once')
          assert.deepEqual(await client.post('/marked', {}, { idempotent: true }), { key: 'marked', hits: 3 })
        },
      )
    })

    test('4xx answers are final: not retried', async () => {
      let hits = 0
      await withService(
        transport,
        (app) => {
          app.get('/bad', async (_request, reply) => {
            hits += 1
            return reply.code(400).send({ message: 'bad ip' })
          })
        },
        async (svc) => {
          const client = await svc.client({ retry: { attempts: 3, backoff: 1 } })
          await assert.rejects(
            client.get('/bad'),
            (error) => error instanceof RpcError && error.status === 400,
          )
          assert.equal(hits, 1)
        },
      )
    })

    test('a slow call is hedged: the second attempt wins and the first is cancelled on the server', async () => {
      let hits = 0
      const firstCancelled = signalled<unknown>()
      await withService(
        transport,
        (app) => {
          app.get('/replica', async () => {
            const hit = ++hits
            if (hit === 1) firstCancelled.resolve(await untilCancelled())
            return { hit }
          })
        },
        async (svc) => {
          const client = await svc.client({ hedge: { after: 20 } })
          assert.deepEqual(await client.get('/replica'), { hit: 2 })
          await firstCancelled.promise
          assert.equal(hits, 2)
        },
      )
    })

    test('hedge: false turns the policy off for one call', async () => {
      let hits = 0
      await withService(
        transport,
        (app) => {
          app.get('/slow', async () => {
            hits += 1
            await sleep(60)
            return { hits }
          })
        },
        async (svc) => {
          const client = await svc.client({ hedge: { after: 5 } })
          assert.deepEqual(await client.get('/slow', { hedge: false }), { hits: 1 })
        },
      )
    })

    test('non-idempotent calls are not hedged by the client policy', async () => {
      let hits = 0
      await withService(
        transport,
        (app) => {
          app.post('/slow', async () => {
            hits += 1
            await sleep(60)
            return { hits }
          })
        },
        async (svc) => {
          const client = await svc.client({ hedge: { after: 5 } })
          assert.deepEqual(await client.post('/slow', {}), { hits: 1 })
        },
      )
    })

    test('the circuit opens after consecutive failures, fails fast, and a successful trial closes it', async () => {
      let healthy = false
      let hits = 0
      await withService(
        transport,
        (app) => {
          app.get('/status', async (_request, reply) => {
            hits += 1
            return healthy ? { ok: true } : reply.code(503).send({ message: 'down' })
          })
        },
        async (svc) => {
          const client = await svc.client({ circuit: { failures: 2, resetAfter: 1000 } })
          // The breaker reads weft's clock: virtual time moves it past resetAfter without waiting.
          await withVirtualClock(async (clock) => {
            for (let i = 0; i < 2; i++) await assert.rejects(client.get('/status'), RpcError)
            assert.equal(client.circuitState, 'open')
            await assert.rejects(client.get('/status'), (error) => {
              assert.ok(error instanceof BackendUnavailable, String(error))
              assert.equal(error.address, client.address)
              assert.ok(error.cause instanceof RpcError, 'the last failure is the cause')
              return true
            })
            assert.equal(hits, 2, 'an open circuit does not reach the server')
            await clock.advance(1000)
            assert.equal(client.circuitState, 'half-open')
            healthy = true
            assert.deepEqual(await client.get('/status'), { ok: true })
            assert.equal(client.circuitState, 'closed')
          })
        },
      )
    })

    test('an answer that is not JSON fails with ProtocolError', async () => {
      await withService(
        transport,
        (app) => {
          app.get('/html', async (_request, reply) => reply.type('text/html').send('<h1>Welcome</h1>'))
        },
        async (svc) => {
          const client = await svc.client()
          await assert.rejects(client.get('/html'), (error) => {
            assert.ok(error instanceof ProtocolError, String(error))
            assert.equal(error.code, 'WEFT_BACKEND_PROTOCOL')
            assert.match(error.message, /not JSON \(text\/html\): "<h1>Welcome<\/h1>"/)
            return true
          })
        },
      )
    })

    test('keeps at most `connections` connections open and reuses them; a cancelled call leaves the pool usable', async () => {
      const started = signalled()
      await withService(
        transport,
        (app) => {
          app.get('/ok', async () => ({ ok: true }))
          app.get('/slow', async () => {
            started.resolve()
            await untilCancelled()
            return {}
          })
        },
        async (svc) => {
          const client = await svc.client({ connections: 2 })
          for (let i = 0; i < 20; i++) await client.get('/ok')
          await Promise.all(Array.from({ length: 6 }, () => client.get('/ok')))
          assert.ok(svc.connections <= 2, `${svc.connections} connections`)
          const controller = new AbortController()
          const call = client.get('/slow', { signal: controller.signal })
          await started.promise
          controller.abort()
          await assert.rejects(call, AbortError)
          // Aborting an HTTP/1.1 request closes its connection; the pool opens a fresh one.
          assert.deepEqual(await client.get('/ok'), { ok: true })
        },
      )
    })
  })
}

describe('rpc client, unreachable servers', () => {
  test('a refused connection fails with BackendRefused naming the address', async () => {
    const app = Fastify()
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as { port: number }
    await app.close()
    const client = rpcClient({ baseUrl: `http://127.0.0.1:${port}`, name: 'geocoder', retry: false })
    try {
      await assert.rejects(client.get('/city'), (error) => {
        assert.ok(error instanceof BackendRefused, String(error))
        assert.equal(error.address, `http://127.0.0.1:${port}`)
        assert.match(
          error.message,
          /^rpc http:\/\/127\.0\.0\.1:\d+: geocoder GET \/city: connection refused$/,
        )
        return true
      })
    } finally {
      await client.close()
    }
  })

  test('an in-process app that fails to start refuses calls with BackendRefused', async () => {
    const app = Fastify()
    app.register(async () => {
      throw new Error('missing GeoLite2 database')
    })
    const client = rpcClient({ app, name: 'geocoder', retry: false })
    try {
      await assert.rejects(client.get('/city'), (error) => {
        assert.ok(error instanceof BackendRefused, String(error))
        assert.equal(error.address, 'in-process:geocoder')
        assert.match(error.message, /missing GeoLite2 database/)
        return true
      })
    } finally {
      await client.close()
      await app.close().catch(() => {})
    }
  })

  test('a refused POST is retried: a request that never left is safe to send again', async () => {
    const app = Fastify()
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as { port: number }
    await app.close()
    let client: RpcClient | undefined
    try {
      // Nothing listens: every attempt is refused, and the attempts show in the trace.
      client = rpcClient({
        baseUrl: `http://127.0.0.1:${port}`,
        retry: { attempts: 3, backoff: 1 },
        circuit: false,
      })
      const traces: Trace[] = []
      await scope({ trace: (trace) => traces.push(trace) }, () => client?.post('/session', {})).catch(
        () => {},
      )
      const attempts = traces[0]?.spans.filter((span) => span.kind === 'client') ?? []
      assert.equal(attempts.length, 3)
    } finally {
      await client?.close()
    }
  })
})
