// Bad options and bad calls fail at once, with a TypeError that names the argument, what was
// expected and what was received. Nothing is sent.
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import Fastify from 'fastify'
import { type RpcClientOptions, type RpcRequest, rpcClient, rpcClientFromEnv } from 'weft/rpc'

const app = Fastify()
let hits = 0
app.addHook('onRequest', async () => {
  hits += 1
})
const client = rpcClient({ app, name: 'geocoder' })
after(async () => {
  await client.close()
  await app.close()
})

function rejectsOptions(options: unknown, message: RegExp): void {
  assert.throws(() => rpcClient(options as RpcClientOptions), { name: 'TypeError', message })
}

function rejectsCall(request: unknown, message: RegExp): void {
  assert.throws(() => client.call(request as RpcRequest), { name: 'TypeError', message })
}

describe('rpcClient() misuse', () => {
  test('needs exactly one target: a base URL or an in-process app', () => {
    rejectsOptions(undefined, /rpcClient\(\): options must be an object, got undefined/)
    rejectsOptions({}, /give options.baseUrl \(a URL\) or options.app \(an in-process app\), exactly one/)
    rejectsOptions({ baseUrl: 'http://a', app }, /exactly one/)
    rejectsOptions({ app: {} }, /options.app must be an app with a Node HTTP server/)
  })

  test('the base URL must be http(s), without query or fragment', () => {
    rejectsOptions({ baseUrl: 42 }, /options.baseUrl must be a string, got 42/)
    rejectsOptions(
      { baseUrl: 'not a url' },
      /options.baseUrl must be an http: or https: URL, got "not a url"/,
    )
    rejectsOptions({ baseUrl: 'ftp://files' }, /http: or https: URL, got "ftp:\/\/files"/)
    rejectsOptions({ baseUrl: 'http://a/?x=1' }, /must not have a query or fragment/)
  })

  test('policies are checked where they are given', () => {
    rejectsOptions(
      { app, timeout: -1 },
      /options.timeout must be a finite number of milliseconds, 0 or more, got -1/,
    )
    rejectsOptions(
      { app, retry: { attempts: 0 } },
      /options.retry.attempts must be a whole number of at least 1, got 0/,
    )
    rejectsOptions({ app, hedge: {} }, /options.hedge.after must be a finite number of milliseconds/)
    rejectsOptions(
      { app, hedge: { after: 10, max: 1.5 } },
      /options.hedge.max must be a whole number of at least 1/,
    )
    rejectsOptions(
      { app, circuit: { failures: 0, resetAfter: 1 } },
      /options.circuit.failures must be a whole number/,
    )
    rejectsOptions({ app, circuit: { failures: 1 } }, /options.circuit.resetAfter must be a finite number/)
    rejectsOptions({ app, connections: 0 }, /options.connections must be a whole number of at least 1, got 0/)
    rejectsOptions({ app, name: 7 }, /options.name must be a string, got 7/)
  })

  test('headers must be strings, and the client writes the deadline and trace headers itself', () => {
    rejectsOptions({ app, headers: { 'x-n': 1 } }, /options.headers\["x-n"\] must be a string, got 1/)
    rejectsOptions(
      { app, headers: { 'Weft-Timeout-Ms': '100' } },
      /must not set "Weft-Timeout-Ms": the client sends it from the ambient deadline and span/,
    )
    rejectsOptions({ app, headers: { traceparent: 'x' } }, /must not set "traceparent"/)
  })
})

describe('RpcClient calls misuse', () => {
  test('method and path are checked and named in the message', () => {
    rejectsCall(
      undefined,
      /RpcClient.call\(geocoder undefined undefined\): the request must be an object, got undefined/,
    )
    rejectsCall({ path: '/a' }, /method must be a string, got undefined/)
    rejectsCall(
      { method: 'FETCH', path: '/a' },
      /RpcClient.call\(geocoder FETCH \/a\): method must be one of GET, HEAD, POST/,
    )
    rejectsCall({ method: 'GET', path: 'city' }, /path must start with "\/" and have no fragment, got "city"/)
    rejectsCall({ method: 'GET', path: '/a#b' }, /have no fragment/)
  })

  test('GET, HEAD and OPTIONS carry no body', () => {
    rejectsCall(
      { method: 'get', path: '/a', body: {} },
      /a GET call carries no body; send the data in options.query/,
    )
  })

  test('a body must be serialisable as JSON', () => {
    rejectsCall(
      { method: 'POST', path: '/a', body: { n: 1n } },
      /body must be serialisable as JSON: .*BigInt/,
    )
    rejectsCall(
      { method: 'POST', path: '/a', body: () => {} },
      /body must be serialisable as JSON, got function/,
    )
  })

  test('call options are checked', () => {
    rejectsCall(
      { method: 'GET', path: '/a', signal: 'stop' },
      /options.signal must be an AbortSignal, got "stop"/,
    )
    rejectsCall(
      { method: 'GET', path: '/a', deadline: Number.NaN },
      /options.deadline must be a finite number/,
    )
    rejectsCall({ method: 'GET', path: '/a', timeout: '1s' }, /options.timeout must be a finite number/)
    rejectsCall(
      { method: 'GET', path: '/a', idempotent: 'yes' },
      /options.idempotent must be a boolean, got yes/,
    )
    rejectsCall(
      { method: 'GET', path: '/a', query: { at: new Date() } },
      /options.query.at must be a string, number, boolean or undefined, got an object/,
    )
  })

  test('hedging a non-idempotent call is refused: it would be sent twice', () => {
    rejectsCall(
      { method: 'POST', path: '/order', body: {}, hedge: { after: 10 } },
      /hedging sends the call twice, which a non-idempotent call must not be; pass idempotent: true if it is safe/,
    )
  })

  test('hedge: true needs a hedge policy on the client', () => {
    rejectsCall(
      { method: 'GET', path: '/a', hedge: true },
      /options.hedge is true but the client has no hedge policy/,
    )
  })

  test('nothing was sent by any of these calls', () => {
    assert.equal(hits, 0)
  })
})

describe('rpcClientFromEnv() misuse', () => {
  test('a URL that is not a string is refused', () => {
    assert.throws(
      () => rpcClientFromEnv(8081 as unknown as string, app),
      /rpcClientFromEnv\(\): url must be a string or undefined, got number/,
    )
  })
})
