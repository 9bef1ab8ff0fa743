import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { describe, it } from 'node:test'
import { startMemcached } from '../../src/testing/memcached.ts'

/** Sends `command` to `address` and returns the first reply line ('refused' when nothing listens). */
function ask(address: string, command: string): Promise<string> {
  const [host, port] = address.split(':')
  return new Promise((resolve) => {
    const socket = connect({ host, port: Number(port) })
    socket.once('error', () => resolve('refused'))
    socket.once('connect', () => socket.write(`${command}\r\n`))
    socket.setEncoding('latin1').once('data', (text: string) => {
      socket.destroy()
      resolve(text.split('\r\n')[0] ?? '')
    })
  })
}

describe('startMemcached', () => {
  it('starts servers on distinct free ports of 127.0.0.1, each answering', async () => {
    const memcached = await startMemcached({ servers: 3 })
    try {
      assert.equal(new Set(memcached.addresses).size, 3)
      for (const address of memcached.addresses) {
        assert.match(address, /^127\.0\.0\.1:\d+$/)
        assert.equal(await ask(address, 'mn'), 'MN')
      }
    } finally {
      await memcached.stop()
    }
  })

  it('kills a server, and restarts it empty on the same port', async () => {
    const memcached = await startMemcached({ servers: 2 })
    try {
      const [first, second] = memcached.addresses as [string, string]
      assert.equal(await ask(first, 'ms k 1 T0\r\nx'), 'HD')
      await memcached.kill(0)
      assert.equal(await ask(first, 'mn'), 'refused')
      assert.equal(await ask(second, 'mn'), 'MN')
      await memcached.restart(0)
      assert.equal(await ask(first, 'mg k v'), 'EN')
    } finally {
      await memcached.stop()
    }
  })

  it('stops every server, once however often it is asked', async () => {
    const memcached = await startMemcached({ servers: 2 })
    await Promise.all([memcached.stop(), memcached.stop()])
    for (const address of memcached.addresses) assert.equal(await ask(address, 'mn'), 'refused')
    await memcached.stop()
  })

  it('reports a binary that cannot be started', async () => {
    await assert.rejects(
      startMemcached({ binary: '/nonexistent/memcached' }),
      /cannot start \/nonexistent\/memcached/,
    )
  })

  it('refuses options that cannot work', async () => {
    await assert.rejects(
      startMemcached({ servers: 0 }),
      /startMemcached\(\): options\.servers must be a whole number of at least 1/,
    )
    await assert.rejects(startMemcached({ memory: -1 }), TypeError)
  })
})
