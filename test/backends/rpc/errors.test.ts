import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { AbortError, BackendRefused, BackendTimeout, ProtocolError } from 'weft'
import { RpcError } from 'weft/rpc'
import { isServerFailure, neverSent, translate } from '../../../src/backends/rpc/errors.ts'

const details = { backend: 'rpc', address: 'http://geocoder:8081' }

function coded(code: string, message = code): Error {
  return Object.assign(new Error(message), { code })
}

describe('rpc errors', () => {
  test('network failures become BackendRefused, naming the call and the server, keeping the cause', () => {
    const cause = coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:8081')
    const error = translate(cause, 'geocoder GET /city', details)
    assert.ok(error instanceof BackendRefused)
    assert.equal(error.message, 'rpc http://geocoder:8081: geocoder GET /city: connection refused')
    assert.equal(error.cause, cause)
    for (const code of ['ECONNRESET', 'UND_ERR_SOCKET', 'ENOTFOUND', 'EHOSTUNREACH']) {
      assert.ok(translate(coded(code), 'GET /', details) instanceof BackendRefused, code)
    }
  })

  test("the HTTP client's own timeouts become BackendTimeout; malformed HTTP becomes ProtocolError", () => {
    assert.ok(translate(coded('UND_ERR_HEADERS_TIMEOUT'), 'GET /', details) instanceof BackendTimeout)
    assert.ok(translate(coded('UND_ERR_CONNECT_TIMEOUT'), 'GET /', details) instanceof BackendTimeout)
    assert.ok(translate(coded('HPE_INVALID_CONSTANT'), 'GET /', details) instanceof ProtocolError)
    assert.ok(
      translate(coded('UND_ERR_RES_CONTENT_LENGTH_MISMATCH'), 'GET /', details) instanceof ProtocolError,
    )
  })

  test('errors it does not know (programming errors) pass through unchanged', () => {
    const bug = new TypeError('x is not a function')
    assert.equal(translate(bug, 'GET /', details), bug)
    const odd = coded('UND_ERR_INVALID_ARG')
    assert.equal(translate(odd, 'GET /', details), odd)
  })

  test('server failures are unreachable, slow or 5xx; 4xx, protocol errors and cancellations are not', () => {
    const status = (code: number) => new RpcError('', code, undefined, details)
    assert.ok(isServerFailure(new BackendRefused('', details)))
    assert.ok(isServerFailure(new BackendTimeout('', details)))
    assert.ok(isServerFailure(status(503)))
    assert.ok(!isServerFailure(status(404)))
    assert.ok(!isServerFailure(new ProtocolError('', details)))
    assert.ok(!isServerFailure(new AbortError('call', 'cancelled')))
  })

  test('only a refused or timed-out connection proves that the request never left', () => {
    const refused = translate(coded('ECONNREFUSED'), 'POST /', details)
    const connectTimeout = translate(coded('UND_ERR_CONNECT_TIMEOUT'), 'POST /', details)
    const reset = translate(coded('ECONNRESET'), 'POST /', details)
    assert.ok(neverSent(refused))
    assert.ok(neverSent(connectTimeout))
    assert.ok(!neverSent(reset), 'a reset may come after the server got the request')
    assert.ok(!neverSent(new RpcError('', 503, undefined, details)))
  })
})
