import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { withVirtualClock } from 'weft/testing'
import { EmbeddedServer } from '../../../src/backends/redis/embedded-server.ts'
import { ReplyError } from '../../../src/backends/redis/errors.ts'
import { incrWithExpiry } from '../../../src/backends/redis/scripts.ts'

// The in-process server at the wire level: what the contract suite cannot reach through the client.

function rejects(server: EmbeddedServer, wire: string[], message: string): void {
  assert.throws(
    () => server.execute(wire),
    (error) => error instanceof ReplyError && error.message === message,
  )
}

describe('EmbeddedServer', () => {
  test('integers are 64-bit, as on the server: the largest is kept exactly, overflow is an error', () => {
    const server = new EmbeddedServer()
    server.execute(['set', 'n', '9223372036854775806'])
    // The reply is a JavaScript number, as ioredis's is: rounded; the stored value is exact.
    assert.equal(server.execute(['incrby', 'n', '1']), Number(2n ** 63n - 1n))
    assert.equal(server.execute(['get', 'n']), '9223372036854775807')
    rejects(server, ['incrby', 'n', '1'], 'ERR increment or decrement would overflow')
    assert.equal(server.execute(['get', 'n']), '9223372036854775807')
    rejects(server, ['incrby', 'n', '9223372036854775808'], 'ERR value is not an integer or out of range')
  })

  test('only integers written as the server writes them count', () => {
    const server = new EmbeddedServer()
    for (const text of ['01', '+1', '-0', ' 1', '1e3', '', '0x10']) {
      server.execute(['set', 'n', text])
      rejects(server, ['incrby', 'n', '1'], 'ERR value is not an integer or out of range')
    }
  })

  test('set parses its options like the server', () => {
    const server = new EmbeddedServer()
    rejects(server, ['set', 'k', 'v', 'px', '0'], "ERR invalid expire time in 'set' command")
    rejects(server, ['set', 'k', 'v', 'nx', 'xx'], 'ERR syntax error')
    rejects(server, ['set', 'k', 'v', 'ex'], 'ERR syntax error')
    assert.equal(server.execute(['SET', 'k', 'v', 'PX', '100', 'NX']), 'OK')
  })

  test('wrong arity and unknown commands are errors, not crashes', () => {
    const server = new EmbeddedServer()
    rejects(server, ['get'], "ERR wrong number of arguments for 'get' command")
    rejects(server, ['hset', 'h', 'f'], "ERR wrong number of arguments for 'hset' command")
    rejects(server, ['flushall'], "ERR unknown command 'flushall'")
  })

  test('eval runs weft’s own scripts and refuses any other', () => {
    const server = new EmbeddedServer()
    assert.equal(server.execute(['eval', incrWithExpiry.lua, '1', 'n', '5', '1000']), 5)
    rejects(
      server,
      ['eval', "return redis.call('FLUSHALL')", '0'],
      "ERR the embedded redis runs only weft's own scripts",
    )
  })

  test('expired keys nobody reads are reclaimed as other keys are written', async () => {
    await withVirtualClock(async (clock) => {
      const server = new EmbeddedServer()
      for (let i = 0; i < 1000; i++) server.execute(['set', `session:${i}`, 'v', 'px', '1000'])
      await clock.advance(1000)
      for (let i = 0; i < 1000; i++) server.execute(['set', `counter:${i}`, '1'])
      assert.equal(server.execute(['dbsize']), 1000, 'only the keys without expiry are left')
    })
  })
})
