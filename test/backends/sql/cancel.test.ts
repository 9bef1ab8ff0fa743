import assert from 'node:assert/strict'
import { type AddressInfo, createServer } from 'node:net'
import { describe, test } from 'node:test'
import { withVirtualClock } from 'weft/testing'
import { cancelUntilSettled, sendCancelRequest } from '../../../src/backends/sql/cancel.ts'

describe('sendCancelRequest', () => {
  test('sends the 16-byte CancelRequest and resolves once the server closes the connection', async () => {
    const received = Promise.withResolvers<Buffer>()
    const server = createServer((socket) => {
      const chunks: Buffer[] = []
      socket.on('data', (chunk) => chunks.push(chunk))
      socket.on('end', () => {
        received.resolve(Buffer.concat(chunks))
        socket.end() // the server acknowledges by closing, as PostgreSQL does
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = server.address() as AddressInfo
      await sendCancelRequest({ host: '127.0.0.1', port, processId: 4242, secretKey: -1_405_004_126 })
      const packet = await received.promise
      assert.equal(packet.length, 16)
      assert.deepEqual(
        [packet.readInt32BE(0), packet.readInt32BE(4), packet.readInt32BE(8), packet.readInt32BE(12)],
        [16, 80877102, 4242, -1_405_004_126],
      )
    } finally {
      server.close()
    }
  })

  test('rejects when the server cannot be reached', async () => {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await assert.rejects(sendCancelRequest({ host: '127.0.0.1', port, processId: 1, secretKey: 1 }), {
      code: 'ECONNREFUSED',
    })
  })
})

describe('cancelUntilSettled', () => {
  test('sends one request when the statement settles after it', async () => {
    const statement = Promise.withResolvers<void>()
    let sent = 0
    const acknowledged = await cancelUntilSettled(statement.promise, async () => {
      sent += 1
      statement.reject(new Error('canceling statement due to user request'))
    })
    assert.equal(acknowledged, true)
    assert.equal(sent, 1)
  })

  test('sends another request, with growing waits, while the statement ignores them', async () => {
    await withVirtualClock(async (clock) => {
      const statement = Promise.withResolvers<void>()
      const sentAt: number[] = []
      const start = clock.now()
      const cancelling = cancelUntilSettled(
        statement.promise,
        async () => {
          sentAt.push(clock.now() - start)
          // The first two arrive before the statement started and are lost; the third one hits.
          if (sentAt.length === 3) statement.resolve()
        },
        { retryAfter: 20, attempts: 5 },
      )
      assert.equal(await clock.run(cancelling), true)
      assert.deepEqual(sentAt, [0, 20, 60])
    })
  })

  test('gives up after its attempts while the statement still runs', async () => {
    await withVirtualClock(async (clock) => {
      let sent = 0
      const cancelling = cancelUntilSettled(
        new Promise(() => {}),
        async () => {
          sent += 1
        },
        { retryAfter: 10, attempts: 3 },
      )
      assert.equal(await clock.run(cancelling), false)
      assert.equal(sent, 3)
      assert.equal(clock.pendingTimers, 0)
    })
  })

  test('reports a request that could not be sent: the connection is not to be trusted', async () => {
    const statement = Promise.withResolvers<void>()
    const acknowledged = await cancelUntilSettled(statement.promise, async () => {
      statement.resolve()
      throw new Error('ECONNREFUSED')
    })
    assert.equal(acknowledged, false)
  })
})
