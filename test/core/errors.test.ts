import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  AbortError,
  BackendError,
  BackendRefused,
  BackendTimeout,
  BackendUnavailable,
  DeadlineExceeded,
  isAbort,
  ProtocolError,
  ScopeClosedError,
  WeftError,
} from 'weft'

describe('every weft error', () => {
  test('is a WeftError and an Error, with its own name and a stable code', () => {
    const details = { backend: 'memcache', address: '127.0.0.1:11211' }
    const cases: [Error & { code: string }, string, string][] = [
      [new AbortError('task "t"', 'stop'), 'AbortError', 'WEFT_CANCELLED'],
      [new DeadlineExceeded('scope "s"', 0, 10), 'DeadlineExceeded', 'WEFT_DEADLINE_EXCEEDED'],
      [new ScopeClosedError('s', 't'), 'ScopeClosedError', 'WEFT_SCOPE_CLOSED'],
      [new BackendRefused('refused', details), 'BackendRefused', 'WEFT_BACKEND_REFUSED'],
      [new BackendTimeout('timed out', details), 'BackendTimeout', 'WEFT_BACKEND_TIMEOUT'],
      [new ProtocolError('bad reply', details), 'ProtocolError', 'WEFT_BACKEND_PROTOCOL'],
      [new BackendUnavailable('shard down', details), 'BackendUnavailable', 'WEFT_BACKEND_UNAVAILABLE'],
    ]
    for (const [error, name, code] of cases) {
      assert.ok(error instanceof WeftError, name)
      assert.ok(error instanceof Error, name)
      assert.equal(error.name, name)
      assert.equal(error.code, code)
      assert.ok(String(error).startsWith(`${name}: `), name)
      assert.ok(error.stack?.includes(name), name)
    }
  })
})

describe('AbortError', () => {
  test('keeps the reason, also as its cause, and says in its message what was cancelled and why', () => {
    const why = new Error('sibling failed')
    const error = new AbortError('task "lookup"', why)
    assert.equal(error.reason, why)
    assert.equal(error.cause, why)
    assert.equal(error.message, 'task "lookup" was cancelled: Error: sibling failed')
  })

  test('describes a reason that is a string, missing, or itself an AbortError', () => {
    assert.match(new AbortError('x', 'not needed').message, /was cancelled: not needed$/)
    assert.match(new AbortError('x', undefined).message, /was cancelled: no reason given$/)
    const inner = new AbortError('scope "outer"', 'client left')
    assert.equal(
      new AbortError('task "t"', inner).message,
      'task "t" was cancelled: scope "outer" was cancelled: client left',
    )
  })
})

describe('DeadlineExceeded', () => {
  test('carries the deadline in epoch ms and names the budget when there was one', () => {
    const withBudget = new DeadlineExceeded('scope "search"', 1_000, 250)
    assert.equal(withBudget.deadline, 1_000)
    assert.equal(withBudget.message, 'scope "search": deadline of 250 ms exceeded')
    assert.equal(new DeadlineExceeded('scope "search"', 1_000).message, 'scope "search": deadline exceeded')
  })
})

describe('ScopeClosedError', () => {
  test('names the task refused and the scope, and says how to avoid it', () => {
    const error = new ScopeClosedError('request', 'late')
    assert.match(error.message, /cannot spawn "late": scope "request" has already settled/)
    assert.match(error.message, /spawn inside the scope's callback/)
  })
})

describe('backend errors', () => {
  test('carry the backend and the address, in the message too, and chain the cause', () => {
    const cause = new Error('ECONNREFUSED')
    const error = new BackendRefused('connection refused', {
      backend: 'redis',
      address: '127.0.0.1:6379',
      cause,
    })
    assert.ok(error instanceof BackendError)
    assert.equal(error.backend, 'redis')
    assert.equal(error.address, '127.0.0.1:6379')
    assert.equal(error.cause, cause)
    assert.equal(error.message, 'redis 127.0.0.1:6379: connection refused')
  })
})

describe('isAbort()', () => {
  test("is true for cancellations: weft's AbortError, DOMException AbortErrors, DeadlineExceeded", () => {
    assert.equal(isAbort(new AbortError('x', 'why')), true)
    assert.equal(isAbort(new DOMException('aborted', 'AbortError')), true)
    assert.equal(isAbort(AbortSignal.abort().reason), true)
    assert.equal(isAbort(new DeadlineExceeded('x', 0)), true)
  })

  test('is false for failures and for values that are not errors', () => {
    assert.equal(isAbort(new Error('failed')), false)
    assert.equal(isAbort(new ScopeClosedError('s', 't')), false)
    assert.equal(isAbort(new BackendTimeout('slow', { backend: 'sql', address: 'db' })), false)
    assert.equal(isAbort('AbortError'), false)
    assert.equal(isAbort({ name: 'AbortError' }), false)
    assert.equal(isAbort(undefined), false)
  })
})
