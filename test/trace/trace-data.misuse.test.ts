import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseTrace } from 'weft'
import { span } from './helpers.ts'

const root = span('root', undefined, 0, 10)

/** A trace whose second span has `fields` replaced (undefined removes a field). */
function withSpan(fields: Record<string, unknown>): unknown {
  const bad: Record<string, unknown> = { ...span('a', 'root', 1, 5), ...fields }
  for (const [key, value] of Object.entries(fields)) if (value === undefined) delete bad[key]
  return { traceId: 'trace', spans: [root, bad] }
}

const cases: [string, unknown, string][] = [
  ['text that is not JSON', '{"traceId":', 'the text is not JSON ('],
  ['null', null, 'the trace must be an object { traceId, spans }, got null'],
  [
    'a bare array of spans',
    [root],
    'the trace must be an object { traceId, spans }, got an array (of spans? wrap them in one)',
  ],
  ['no traceId', { spans: [] }, 'traceId must be a non-empty string, got undefined'],
  ['spans not an array', { traceId: 'trace', spans: {} }, 'spans must be an array, got an object'],
  [
    'a span that is not an object',
    { traceId: 'trace', spans: [root, 7] },
    'spans[1] must be an object, got 7',
  ],
  [
    'a span of another trace',
    withSpan({ traceId: 'other' }),
    'spans[1].traceId must be the trace\'s id "trace", got "other"',
  ],
  [
    'a span without id',
    withSpan({ spanId: undefined }),
    'spans[1].spanId must be a non-empty string, got undefined',
  ],
  [
    'a numeric parent id',
    withSpan({ parentId: 3 }),
    'spans[1].parentId must be a non-empty string, or absent for the root, got 3',
  ],
  ['a name that is not a string', withSpan({ name: ['a'] }), 'spans[1].name must be a string, got an array'],
  [
    'an unknown kind',
    withSpan({ kind: 'rpc' }),
    'spans[1].kind must be one of scope, task, client, batch, server, producer, consumer, internal, got "rpc"',
  ],
  [
    'a start that is a date string',
    withSpan({ start: '2026-01-01' }),
    'spans[1].start must be a number of epoch milliseconds, got "2026-01-01"',
  ],
  [
    'an end before the start',
    withSpan({ end: 0 }),
    'spans[1].end must be a number of epoch milliseconds, at least start (1767225600001), or absent while open, got 0',
  ],
  [
    'an unknown status',
    withSpan({ status: 'failed' }),
    'spans[1].status must be one of unset, ok, error, cancelled, got "failed"',
  ],
  [
    'an error that is not a string',
    withSpan({ error: { message: 'x' } }),
    'spans[1].error must be a string or absent, got an object',
  ],
  [
    'attributes that are an array',
    withSpan({ attributes: [] }),
    'spans[1].attributes must be an object, got an array',
  ],
  [
    'an attribute holding an object',
    withSpan({ attributes: { db: { name: 'x' } } }),
    'spans[1].attributes["db"] must be a string, number, boolean, or an array of only strings or only numbers, got an object',
  ],
  [
    'an attribute mixing types',
    withSpan({ attributes: { ids: [1, 'a'] } }),
    'spans[1].attributes["ids"] must be a string, number, boolean, or an array of only strings or only numbers, got an array',
  ],
  ['two spans with one id', withSpan({ spanId: 'root' }), 'two spans have the id "root"'],
  [
    'a span its own parent',
    withSpan({ parentId: 'a' }),
    'span "a" does not lead to a root: its ancestors form a cycle',
  ],
]

for (const [what, input, message] of cases) {
  test(`parseTrace() refuses ${what}, naming the field`, () => {
    assert.throws(
      () => parseTrace(input),
      (error: Error) => error instanceof TypeError && error.message.startsWith(`parseTrace(): ${message}`),
      `expected: parseTrace(): ${message}`,
    )
  })
}
