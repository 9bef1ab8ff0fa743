import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { test } from 'node:test'
import { Redis as IORedis } from 'ioredis'
import { startRedisServer } from '../../src/testing/redis.ts'

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

test('startRedisServer starts a server of its own on a free port, and stop ends it', async () => {
  const server = await startRedisServer()
  assert.equal(server.url, `redis://127.0.0.1:${server.port}`)
  const client = new IORedis(server.url)
  assert.equal(await client.ping(), 'PONG')
  assert.equal(await client.dbsize(), 0, 'an empty server, not the machine’s')
  client.disconnect()
  await server.stop()
  assert.equal(await listening(server.port), false)
  await server.stop() // harmless
})

test('a killed server can be started again on its port', async () => {
  const first = await startRedisServer()
  await first.kill()
  assert.equal(await listening(first.port), false)
  const second = await startRedisServer({ port: first.port })
  assert.equal(await listening(first.port), true)
  await second.stop()
})

test('a server that cannot start rejects with why', async () => {
  const server = await startRedisServer()
  try {
    await assert.rejects(
      startRedisServer({ port: server.port }),
      /exited .* before accepting connections:[\s\S]*in use/i,
    )
    await assert.rejects(startRedisServer({ binary: '/nonexistent/redis-server' }), /ENOENT/)
  } finally {
    await server.stop()
  }
})
