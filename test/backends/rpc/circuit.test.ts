import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { BackendUnavailable } from 'weft'
import { withVirtualClock } from 'weft/testing'
import { Circuit } from '../../../src/backends/rpc/circuit.ts'

const details = { backend: 'rpc', address: 'http://geocoder:8081' }
const failure = new Error('503')

function circuit(failures = 3, resetAfter = 1000): Circuit {
  return new Circuit({ failures, resetAfter }, details)
}

function fail(breaker: Circuit, times: number): void {
  for (let i = 0; i < times; i++) breaker.admit('GET /city').failed(failure)
}

describe('circuit breaker', () => {
  test('stays closed below the threshold of consecutive failures', async () => {
    await withVirtualClock(() => {
      const breaker = circuit(3)
      fail(breaker, 2)
      assert.equal(breaker.state, 'closed')
      breaker.admit('GET /city').succeeded()
      fail(breaker, 2)
      assert.equal(breaker.state, 'closed', 'a success resets the streak')
    })
  })

  test('opens after `failures` consecutive failures and then fails calls fast, naming the last failure', async () => {
    await withVirtualClock(() => {
      const breaker = circuit(3)
      fail(breaker, 3)
      assert.equal(breaker.state, 'open')
      assert.throws(
        () => breaker.admit('GET /city'),
        (error) => {
          assert.ok(error instanceof BackendUnavailable)
          assert.equal(error.code, 'WEFT_BACKEND_UNAVAILABLE')
          assert.equal(error.address, details.address)
          assert.equal(error.cause, failure)
          assert.match(
            error.message,
            /GET \/city: circuit open after 3 consecutive failures \(next trial in 1000 ms\)/,
          )
          return true
        },
      )
    })
  })

  test('after resetAfter, lets one trial through; others fail fast while it runs', async () => {
    await withVirtualClock(async (clock) => {
      const breaker = circuit(1, 1000)
      fail(breaker, 1)
      await clock.advance(999)
      assert.throws(() => breaker.admit('GET /city'), BackendUnavailable)
      await clock.advance(1)
      assert.equal(breaker.state, 'half-open')
      const trial = breaker.admit('GET /city')
      assert.throws(() => breaker.admit('GET /city'), /a trial call is under way/)
      trial.succeeded()
      assert.equal(breaker.state, 'closed')
      breaker.admit('GET /city').succeeded()
    })
  })

  test('a failed trial opens the circuit again for another resetAfter', async () => {
    await withVirtualClock(async (clock) => {
      const breaker = circuit(2, 1000)
      fail(breaker, 2)
      await clock.advance(1000)
      breaker.admit('GET /city').failed(failure)
      assert.equal(breaker.state, 'open')
      await clock.advance(999)
      assert.equal(breaker.state, 'open')
      await clock.advance(1)
      assert.equal(breaker.state, 'half-open')
    })
  })

  test('an abandoned trial (the caller cancelled) decides nothing: the next call is the trial', async () => {
    await withVirtualClock(async (clock) => {
      const breaker = circuit(1, 1000)
      fail(breaker, 1)
      await clock.advance(1000)
      breaker.admit('GET /city').abandoned()
      assert.equal(breaker.state, 'half-open')
      breaker.admit('GET /city').succeeded()
      assert.equal(breaker.state, 'closed')
    })
  })

  test('failures of calls already under way when it opened do not prolong the open period', async () => {
    await withVirtualClock(async (clock) => {
      const breaker = circuit(1, 1000)
      const straggler = breaker.admit('GET /city')
      fail(breaker, 1)
      await clock.advance(600)
      straggler.failed(failure)
      await clock.advance(400)
      assert.equal(breaker.state, 'half-open')
    })
  })

  test('an outcome reported twice counts once', async () => {
    await withVirtualClock(() => {
      const breaker = circuit(2)
      const pass = breaker.admit('GET /city')
      pass.failed(failure)
      pass.failed(failure)
      assert.equal(breaker.state, 'closed')
    })
  })

  test('sets no timer: an open circuit costs nothing while no call arrives', async () => {
    await withVirtualClock((clock) => {
      const breaker = circuit(1)
      fail(breaker, 1)
      assert.equal(clock.pendingTimers, 0)
    })
  })
})
