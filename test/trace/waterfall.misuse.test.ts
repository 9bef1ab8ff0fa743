import assert from 'node:assert/strict'
import { test } from 'node:test'
import { renderWaterfall } from 'weft'
import { span } from './helpers.ts'

const spans = [span('request', undefined, 0, 10)]

test('renderWaterfall() refuses a width that is not a whole number of at least 40 columns', () => {
  for (const [width, got] of [
    [39, '39'],
    [80.5, '80.5'],
    ['80', '"80"'],
    [Number.NaN, 'NaN'],
  ] as const) {
    assert.throws(() => renderWaterfall(spans, { width: width as number }), {
      name: 'TypeError',
      message: `renderWaterfall(): options.width must be a whole number of at least 40, got ${got}`,
    })
  }
})

test('renderWaterfall() refuses options that are not an object, and a colour that is not a boolean', () => {
  assert.throws(() => renderWaterfall(spans, 80 as never), {
    name: 'TypeError',
    message: 'renderWaterfall(): options must be an object, got 80',
  })
  assert.throws(() => renderWaterfall(spans, { color: 'yes' as never }), {
    name: 'TypeError',
    message: 'renderWaterfall(): options.color must be a boolean, got "yes"',
  })
})

test('renderWaterfall() refuses what is not a trace', () => {
  assert.throws(() => renderWaterfall('trace.json' as never), {
    name: 'TypeError',
    message: 'renderWaterfall(): trace must be a Trace, a TraceData or an array of spans, got "trace.json"',
  })
})
