// The deadline travels as the time left, in whole milliseconds.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { formatTimeout, parseTimeout } from '../../../src/backends/rpc/deadline-header.ts'

describe('weft-timeout-ms', () => {
  test('sends whole milliseconds, rounded up so that the caller gives up first', () => {
    assert.equal(formatTimeout(249.2), '250')
    assert.equal(formatTimeout(250), '250')
    assert.equal(formatTimeout(0), '0')
    assert.equal(formatTimeout(-3), '0')
  })

  test('reads a whole number of milliseconds; absent means no deadline', () => {
    assert.equal(parseTimeout('250'), 250)
    assert.equal(parseTimeout('0'), 0)
    assert.equal(parseTimeout(undefined), undefined)
  })

  test('refuses anything else with a RangeError that shows the value', () => {
    for (const bad of ['', '-1', '1.5', '1e3', ' 250', 'soon', '12345678901', ['1', '2']]) {
      assert.throws(() => parseTimeout(bad), RangeError, JSON.stringify(bad))
    }
    assert.throws(
      () => parseTimeout('soon'),
      /weft-timeout-ms must be one whole number of milliseconds, got "soon"/,
    )
  })
})
