import assert from 'node:assert/strict'
import { test } from 'node:test'
import { countLines, lines, parseCsvLine } from '../../../service/data/csv.ts'
import { parseNetworks } from '../../../service/data/ip-networks.ts'

test('splits plain fields on commas, keeping empty ones', () => {
  assert.deepEqual(parseCsvLine('1,2,,Google LLC'), ['1', '2', '', 'Google LLC'])
  assert.deepEqual(parseCsvLine(''), [''])
})

test('quoted fields keep their commas and read a doubled quote as one', () => {
  assert.deepEqual(parseCsvLine('1,2,13335,"Cloudflare, Inc."'), ['1', '2', '13335', 'Cloudflare, Inc.'])
  assert.deepEqual(parseCsvLine('1,"LLC ""SPUTNIK""",x'), ['1', 'LLC "SPUTNIK"', 'x'])
  assert.deepEqual(parseCsvLine('"",""""'), ['', '"'])
})

test('refuses unterminated, misplaced and stray quotes', () => {
  for (const line of ['1,"open', '1,"a"b', '1,a"b'])
    assert.throws(() => parseCsvLine(line), SyntaxError, line)
})

test('lines strips LF and CRLF breaks and ignores one final empty line; countLines agrees', () => {
  for (const [text, expected] of [
    ['a\nb\n', ['a', 'b']],
    ['a\r\nb', ['a', 'b']],
    ['a\n\nb\n', ['a', '', 'b']],
    ['', []],
  ] as const) {
    assert.deepEqual([...lines(text)], expected)
    assert.equal(countLines(text), expected.length)
  }
})

test('parseNetworks reads the asn CSV rows as numeric ranges', () => {
  const text = '16777216,16777471,13335,"Cloudflare, Inc."\n1737150976,1737151231,4294967294,AS4294967294\n'
  assert.deepEqual(
    [...parseNetworks(text)],
    [
      { start: 16777216, end: 16777471, asn: 13335, org: 'Cloudflare, Inc.' },
      { start: 1737150976, end: 1737151231, asn: 4294967294, org: 'AS4294967294' },
    ],
  )
})

test('parseNetworks names the file and line of a malformed row', () => {
  for (const row of [
    '1,2,3',
    '1,2,x,org',
    '1,,3,org',
    '4294967296,1,1,org',
    '1,2,3,org,extra',
    '-1,2,3,org',
  ]) {
    assert.throws(() => [...parseNetworks(`1,2,3,ok\n${row}\n`, 'asn.csv')], {
      name: 'SyntaxError',
      message: /^asn\.csv:2: expected start,end,asn,org/,
    })
  }
})
