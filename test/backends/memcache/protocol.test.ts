import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { encodeRequest, MalformedReply, ReplyParser } from '../../../src/backends/memcache/protocol.ts'

function parseAll(bytes: Buffer, cut: number[] = []): ReturnType<ReplyParser['push']> {
  const parser = new ReplyParser()
  const out: ReturnType<ReplyParser['push']> = []
  let from = 0
  for (const at of [...cut, bytes.length]) {
    out.push(...parser.push(bytes.subarray(from, at)))
    from = at
  }
  return out
}

describe('meta protocol', () => {
  it('encodes a command line, and an ms data block without copying the value', () => {
    const value = Buffer.from('hello')
    const chunks = encodeRequest({ command: 'ms', key: 'k', flags: ['T60', 'F3'], value })
    assert.equal(Buffer.concat(chunks).toString(), 'ms k 5 T60 F3\r\nhello\r\n')
    assert.equal(chunks[1], value)
    assert.equal(
      Buffer.concat(encodeRequest({ command: 'mg', key: 'k', flags: ['v'] })).toString(),
      'mg k v\r\n',
    )
    assert.equal(Buffer.concat(encodeRequest({ command: 'md', key: 'k', flags: [] })).toString(), 'md k\r\n')
  })

  it('parses values, statuses, flags and error lines with their wire sizes', () => {
    const wire = Buffer.from(
      'VA 3 f5 c9\r\nbar\r\nEN\r\nHD c10\r\nCLIENT_ERROR bad command line format\r\nMN\r\n',
    )
    const replies = parseAll(wire)
    assert.deepEqual(
      replies.map(({ reply }) => [reply.status, reply.flags, reply.value?.toString()]),
      [
        ['VA', ['f5', 'c9'], 'bar'],
        ['EN', [], undefined],
        ['HD', ['c10'], undefined],
        ['CLIENT_ERROR', ['bad', 'command', 'line', 'format'], undefined],
        ['MN', [], undefined],
      ],
    )
    assert.equal(
      replies.reduce((sum, { bytes }) => sum + bytes, 0),
      wire.length,
    )
  })

  it('parses the same replies however the stream is cut into chunks', () => {
    const value = Buffer.alloc(5000, 'x')
    const wire = Buffer.concat([Buffer.from('VA 5000\r\n'), value, Buffer.from('\r\nVA 0\r\n\r\nMN\r\n')])
    const whole = parseAll(wire).map(({ reply }) => [reply.status, reply.value?.length])
    for (const cuts of [[1], [8, 9, 10], [9 + 5000, 9 + 5001], [100, 2000, 4999, 5010, 5015]]) {
      assert.deepEqual(
        parseAll(wire, cuts).map(({ reply }) => [reply.status, reply.value?.length]),
        whole,
      )
    }
    const byteByByte = parseAll(
      wire,
      Array.from({ length: wire.length - 1 }, (_, i) => i + 1),
    )
    assert.deepEqual(byteByByte[0]?.reply.value, value)
  })

  it('rejects what is not a meta reply', () => {
    assert.throws(() => parseAll(Buffer.from('HELLO there\r\n')), MalformedReply)
    assert.throws(() => parseAll(Buffer.from('VA x\r\n')), MalformedReply)
    assert.throws(() => parseAll(Buffer.from('VA 2\r\nabcd\r\n')), MalformedReply)
    assert.throws(() => parseAll(Buffer.from('HD\n')), MalformedReply)
    assert.throws(() => parseAll(Buffer.alloc(10_000, 'a')), MalformedReply)
  })
})
