import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigError, loadConfig } from '../../service/config.ts'

test('the trace store keeps 200 traces, all sampled but at most 10 a second, requests of 500 ms or more counted slow, unless told otherwise', () => {
  const defaults = loadConfig({})
  assert.deepEqual(
    [defaults.traceCapacity, defaults.traceSampleRate, defaults.traceKeepPerSecond, defaults.traceSlowMs],
    [200, 1, 10, 500],
  )
  const set = loadConfig({
    TRACE_CAPACITY: '50',
    TRACE_SAMPLE_RATE: '0.1',
    TRACE_KEEP_PER_SECOND: '0',
    TRACE_SLOW_MS: '0',
  })
  assert.deepEqual(
    [set.traceCapacity, set.traceSampleRate, set.traceKeepPerSecond, set.traceSlowMs],
    [50, 0.1, 0, 0],
  )
  for (const [text, rate] of [
    ['0', 0],
    ['1', 1],
    ['.25', 0.25],
    ['1.0', 1],
  ] as const) {
    assert.equal(loadConfig({ TRACE_SAMPLE_RATE: text }).traceSampleRate, rate)
  }
})

for (const [variable, value, expected] of [
  ['TRACE_CAPACITY', '0', /^TRACE_CAPACITY must be a whole number from 1 to 100000, got "0"$/],
  ['TRACE_CAPACITY', 'lots', /^TRACE_CAPACITY must be a whole number/],
  ['TRACE_SAMPLE_RATE', '1.5', /^TRACE_SAMPLE_RATE must be a number from 0 to 1 \(like 0\.1\), got "1\.5"$/],
  ['TRACE_SAMPLE_RATE', '10%', /^TRACE_SAMPLE_RATE must be a number from 0 to 1/],
  ['TRACE_SAMPLE_RATE', '-0.1', /^TRACE_SAMPLE_RATE must be a number from 0 to 1/],
  ['TRACE_SAMPLE_RATE', '1e-1', /^TRACE_SAMPLE_RATE must be a number from 0 to 1/],
  ['TRACE_SLOW_MS', '-5', /^TRACE_SLOW_MS must be a whole number from 0 to 600000/],
  ['TRACE_KEEP_PER_SECOND', '-1', /^TRACE_KEEP_PER_SECOND must be a whole number from 0 to 1000000/],
  ['TRACE_KEEP_PER_SECOND', '2.5', /^TRACE_KEEP_PER_SECOND must be a whole number/],
] as const) {
  test(`${variable}=${JSON.stringify(value)} is refused, naming the variable`, () => {
    assert.throws(
      () => loadConfig({ [variable]: value }),
      (error) => error instanceof ConfigError && error.variable === variable && expected.test(error.message),
    )
  })
}
