import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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

test('with append-only persistence, what a killed server held is there after a restart on its port', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-redis-'))
  const args = ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir]
  try {
    const first = await startRedisServer({ args })
    const client = new IORedis(first.url, { lazyConnect: true })
    await client.connect()
    await client.set('kept', 'yes')
    client.disconnect()
    await first.kill()
    const second = await startRedisServer({ port: first.port, args })
    const again = new IORedis(second.url, { lazyConnect: true })
    await again.connect()
    assert.equal(await again.get('kept'), 'yes')
    again.disconnect()
    await second.stop()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
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
