// The fault proxy on real sockets: an echo server of the test's own, then real Redis and PostgreSQL
// servers behind it.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { Redis as IORedis } from 'ioredis'
import pg from 'pg'
import { startFaultProxy } from '../../src/testing/fault-proxy.ts'
import { freePort } from '../../src/testing/free-port.ts'
import { startRedisServer } from '../../src/testing/redis.ts'

/** An echo server that keeps its sockets, so a test can see what the proxy did to the server side. */
let echo: Server
let echoTarget: string
const serverSockets: Socket[] = []

before(async () => {
  echo = createServer({ allowHalfOpen: true }, (socket) => {
    serverSockets.push(socket)
    socket.on('error', () => {})
    socket.pipe(socket)
  }).listen(0, '127.0.0.1')
  await once(echo, 'listening')
  echoTarget = `127.0.0.1:${(echo.address() as { port: number }).port}`
})
after(() => {
  for (const socket of serverSockets) socket.destroy()
  echo.close()
})

/** A connected client of `port`, with its bytes collected in `received`. */
async function client(port: number) {
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  await once(socket, 'connect')
  const state = { socket, received: '' }
  socket.setEncoding('utf8').on('data', (text: string) => {
    state.received += text
  })
  return state
}

/** Resolves once `socket` has received `length` characters. */
async function receive(state: { socket: Socket; received: string }, length: number): Promise<string> {
  while (state.received.length < length) await once(state.socket, 'data')
  return state.received
}

/** The code of the error `socket` fails with. */
async function failure(socket: Socket): Promise<string | undefined> {
  const [error] = (await once(socket, 'error')) as [NodeJS.ErrnoException]
  return error.code
}

/** Resolves once `socket` has closed, whatever ended it. */
const closed = (socket: Socket) =>
  new Promise<void>((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve())))

/** Waits `ms` of real time: only to show that nothing arrives meanwhile. */
const quietFor = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('startFaultProxy', () => {
  it('forwards both ways, counts connections, and close() leaves nothing open', async () => {
    const proxy = await startFaultProxy({ target: echoTarget })
    assert.match(proxy.address, /^127\.0\.0\.1:\d+$/)
    assert.equal(proxy.mode, 'forward')
    const a = await client(proxy.port)
    const b = await client(proxy.port)
    a.socket.write('hello')
    b.socket.write('world')
    assert.equal(await receive(a, 5), 'hello')
    assert.equal(await receive(b, 5), 'world')
    assert.deepEqual(proxy.stats(), { connections: 2, open: 2, resets: 0 })
    const serverSide = serverSockets.slice(-2)
    await proxy.close()
    assert.equal(proxy.stats().open, 0)
    await Promise.all([a.socket, b.socket, ...serverSide].map(closed)) // both ends of both connections
    const late = connect(proxy.port, '127.0.0.1')
    assert.equal(await failure(late), 'ECONNREFUSED')
    await proxy.close() // idempotent
    assert.throws(() => proxy.latency(1), /the proxy is closed/)
  })

  it('passes a half-close on: the client ends, the server sees it and answers before ending', async () => {
    await using proxy = await startFaultProxy({ target: echoTarget })
    const a = await client(proxy.port)
    a.socket.end('last words')
    await once(a.socket, 'end')
    assert.equal(a.received, 'last words')
  })

  it('delays each direction by its latency, keeping the order of the bytes', async () => {
    await using proxy = await startFaultProxy({ target: echoTarget })
    const a = await client(proxy.port)
    proxy.latency(80, 'upstream')
    let start = performance.now()
    for (const part of ['a', 'b', 'c', 'd']) a.socket.write(part)
    assert.equal(await receive(a, 4), 'abcd')
    const upstream = performance.now() - start
    assert.ok(upstream >= 75 && upstream < 400, `round trip ${upstream} ms`)

    proxy.latency(0, 'upstream')
    proxy.latency(60, 'downstream')
    start = performance.now()
    a.socket.write('e')
    await receive(a, 5)
    assert.ok(performance.now() - start >= 55)

    proxy.latency(40) // both ways: two delays per round trip
    start = performance.now()
    a.socket.write('f')
    assert.equal(await receive(a, 6), 'abcdef')
    assert.ok(performance.now() - start >= 75)
  })

  it('carries 8 MiB each way intact and in order through latency', async () => {
    await using proxy = await startFaultProxy({ target: echoTarget })
    proxy.latency(5)
    const socket = connect(proxy.port, '127.0.0.1')
    await once(socket, 'connect')
    const sent = Buffer.alloc(8 * 1024 * 1024, 0)
    for (let i = 0; i < sent.length; i += 4) sent.writeUInt32LE(i, i) // every offset different
    const chunks: Buffer[] = []
    let received = 0
    socket.write(sent)
    while (received < sent.length) {
      const [chunk] = (await once(socket, 'data')) as [Buffer]
      chunks.push(chunk)
      received += chunk.length
    }
    assert.ok(Buffer.concat(chunks).equals(sent))
    socket.destroy()
  })

  it('holds bytes while stalled, and delivers them in order on restore', async () => {
    await using proxy = await startFaultProxy({ target: echoTarget })
    const a = await client(proxy.port)
    proxy.stall()
    assert.equal(proxy.mode, 'stall')
    a.socket.write('one ')
    const b = await client(proxy.port) // new connections are held too
    b.socket.write('two')
    a.socket.write('three')
    await quietFor(100)
    assert.equal(a.received + b.received, '')
    await proxy.restore()
    assert.equal(await receive(a, 9), 'one three')
    assert.equal(await receive(b, 3), 'two')
  })

  it('reset() resets every open connection on both sides; new connections still work', async () => {
    await using proxy = await startFaultProxy({ target: echoTarget })
    const a = await client(proxy.port)
    a.socket.write('x')
    await receive(a, 1)
    const serverSide = serverSockets.at(-1) as Socket
    const serverClosed = closed(serverSide)
    const failed = failure(a.socket)
    assert.equal(proxy.reset(), 1)
    assert.equal(await failed, 'ECONNRESET')
    await serverClosed
    const b = await client(proxy.port)
    b.socket.write('again')
    assert.equal(await receive(b, 5), 'again')
    assert.deepEqual(proxy.stats(), { connections: 2, open: 1, resets: 1 })
  })

  it('drop() blackholes: connections are accepted, bytes vanish; restore() resets them and forwards again', async () => {
    await using proxy = await startFaultProxy({ target: echoTarget })
    const a = await client(proxy.port)
    await proxy.drop()
    assert.equal(proxy.mode, 'blackhole')
    a.socket.write('lost')
    const b = await client(proxy.port) // accepted, never connected to the server
    b.socket.write('lost too')
    await quietFor(100)
    assert.equal(a.received + b.received, '')
    const failedA = failure(a.socket)
    const failedB = failure(b.socket)
    await proxy.restore()
    assert.equal(await failedA, 'ECONNRESET')
    assert.equal(await failedB, 'ECONNRESET')
    const c = await client(proxy.port)
    c.socket.write('back')
    assert.equal(await receive(c, 4), 'back')
  })

  it("drop('refuse') resets open connections and refuses new ones; restore() listens again on the same port", async () => {
    await using proxy = await startFaultProxy({ target: echoTarget })
    const port = proxy.port
    const a = await client(port)
    const failed = failure(a.socket)
    await proxy.drop('refuse')
    assert.equal(await failed, 'ECONNRESET')
    assert.equal(await failure(connect(port, '127.0.0.1')), 'ECONNREFUSED')
    await proxy.restore()
    assert.equal(proxy.port, port)
    const b = await client(port)
    b.socket.write('up')
    assert.equal(await receive(b, 2), 'up')
  })

  it('a server that refuses: the client is reset', async () => {
    await using proxy = await startFaultProxy({ target: `127.0.0.1:${await freePort()}` })
    const a = connect(proxy.port, '127.0.0.1')
    assert.equal(await failure(a), 'ECONNRESET')
  })

  it('refuses bad options, naming them', async () => {
    await assert.rejects(startFaultProxy({ target: 'nowhere' }), /options.target must be "host:port"/)
    await assert.rejects(
      startFaultProxy({ target: '127.0.0.1:1', port: 70_000 }),
      /options.port must be a port number/,
    )
    await using proxy = await startFaultProxy({ target: echoTarget })
    assert.throws(() => proxy.latency(-1), /ms/)
    assert.throws(() => proxy.latency(1, 'sideways' as 'both'), /direction must be/)
    await assert.rejects(proxy.drop('melt' as 'refuse'), /how must be 'blackhole' or 'refuse'/)
  })
})

describe('startFaultProxy, in front of real servers', () => {
  it('Redis: slowed, then refused (commands fail), then restored (the client reconnects)', async () => {
    const server = await startRedisServer()
    await using proxy = await startFaultProxy({ target: `127.0.0.1:${server.port}` })
    const redis = new IORedis({ port: proxy.port, host: '127.0.0.1', maxRetriesPerRequest: 0 })
    redis.on('error', () => {})
    try {
      assert.equal(await redis.ping(), 'PONG')
      proxy.latency(100, 'upstream')
      const start = performance.now()
      assert.equal(await redis.set('k', 'v'), 'OK')
      assert.ok(performance.now() - start >= 95)
      await proxy.drop('refuse')
      await assert.rejects(redis.get('k'))
      await proxy.restore()
      assert.equal(await redis.get('k'), 'v') // the server kept its data; the client reconnected
      assert.ok(proxy.stats().connections >= 2)
    } finally {
      redis.disconnect()
      await server.stop()
    }
  })

  it('PostgreSQL: a query takes the injected latency; a reset fails the client', async () => {
    await using proxy = await startFaultProxy({ target: '127.0.0.1:5432' })
    const client = new pg.Client({ connectionString: `postgres://postgres@${proxy.address}/postgres` })
    client.on('error', () => {})
    await client.connect()
    try {
      proxy.latency(150, 'upstream')
      const start = performance.now()
      const { rows } = await client.query('SELECT 1 AS one')
      assert.deepEqual(rows, [{ one: 1 }])
      assert.ok(performance.now() - start >= 145)
      proxy.latency(0)
      proxy.reset()
      await assert.rejects(client.query('SELECT 1'))
    } finally {
      await client.end().catch(() => {})
    }
  })
})
