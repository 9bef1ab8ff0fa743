import assert from 'node:assert/strict'
import { test } from 'node:test'
import { criticalPath } from 'weft'
import { span } from './helpers.ts'

test('criticalPath() refuses what is not a trace, saying what it got', () => {
  for (const [input, got] of [
    [undefined, 'undefined'],
    [42, '42'],
    [{ spans: 'none' }, 'an object'],
    ['trace.json', '"trace.json"'],
  ] as const) {
    assert.throws(
      () => criticalPath(input as never),
      (error: Error) =>
        error instanceof TypeError &&
        error.message ===
          `criticalPath(): trace must be a Trace, a TraceData or an array of spans, got ${got}`,
    )
  }
})

test('criticalPath() refuses two spans with one id', () => {
  assert.throws(
    () => criticalPath([span('root', undefined, 0, 10), span('a', 'root', 0, 5), span('a', 'root', 1, 2)]),
    { name: 'TypeError', message: 'criticalPath(): two spans have the id "a"' },
  )
})

test('criticalPath() refuses parents that form a cycle', () => {
  assert.throws(
    () => criticalPath([span('root', undefined, 0, 10), span('a', 'b', 0, 5), span('b', 'a', 1, 2)]),
    {
      name: 'TypeError',
      message: 'criticalPath(): span "a" does not lead to a root: its ancestors form a cycle',
    },
  )
  assert.throws(() => criticalPath([span('a', 'a', 0, 5)]), {
    name: 'TypeError',
    message: "criticalPath(): the spans' parents form a cycle: no span is a root",
  })
})
