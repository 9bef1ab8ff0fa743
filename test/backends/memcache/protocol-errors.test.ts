import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BackendRefused, ProtocolError } from 'weft'
import { memcacheClient } from 'weft/memcache'
import { emptyCache, fakeServer, type Responder } from './fake-server.ts'

/** Runs `test` against a fake server answering with `respond`, with a client of it. */
async function withServer(
  respond: Responder,
  test: (
    cache: ReturnType<typeof memcacheClient>,
    address: string,
    connections: () => number,
  ) => Promise<void>,
): Promise<void> {
  const server = await fakeServer(respond)
  const cache = memcacheClient({ servers: [server.address], timeout: 2000 })
  try {
    await test(cache, server.address, () => server.connections)
  } finally {
    await cache.close()
    await server.close()
  }
}

/** On the first connection, `first`; on later ones, memcached holding nothing. */
function firstConnection(first: Responder): Responder {
  return (line, connection, socket) =>
    connection === 0 ? first(line, connection, socket) : emptyCache(line, connection, socket)
}

function protocolError(address: string, pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof ProtocolError, String(error))
    assert.equal(error.backend, 'memcache')
    assert.equal(error.address, address)
    assert.match(error.message, pattern)
    return true
  }
}

describe('protocol errors', () => {
  it('fails the batch on a reply that is not meta protocol, then reconnects for the next call', async () => {
    await withServer(
      firstConnection(() => 'HELLO, I am not memcached\r\n'),
      async (cache, address, connections) => {
        const calls = [cache.get('a'), cache.get('b')]
        for (const call of calls)
          await assert.rejects(call, protocolError(address, /malformed reply: unknown reply "HELLO/))
        assert.equal(await cache.get('a'), undefined)
        assert.equal(connections(), 2)
        assert.equal(cache.stats()[0]?.state, 'up')
      },
    )
  })

  it('fails the batch when the batch end comes before its replies', async () => {
    await withServer(
      firstConnection((line) => (line === 'mn' ? 'MN\r\n' : undefined)),
      async (cache, address) => {
        await assert.rejects(cache.get('a'), protocolError(address, /out of step.*"MN" arrived before/))
        assert.equal(await cache.get('a'), undefined)
      },
    )
  })

  it('replaces the connection when a request gets two replies', async () => {
    await withServer(
      firstConnection((line) => (line === 'mn' ? 'MN\r\n' : 'EN\r\nEN\r\n')),
      async (cache, _address, connections) => {
        // The first EN answers the call; the second is caught as out of step and the connection dropped.
        assert.equal(await cache.get('a'), undefined)
        assert.equal(await cache.get('a'), undefined)
        assert.equal(connections(), 2)
      },
    )
  })

  it('fails only its own call on an error line, the rest of the batch and the connection unharmed', async () => {
    const respond: Responder = (line, ...rest) =>
      line.startsWith('mg broken ')
        ? 'SERVER_ERROR out of memory storing object\r\n'
        : emptyCache(line, ...rest)
    await withServer(respond, async (cache, address, connections) => {
      const [broken, fine] = await Promise.allSettled([cache.get('broken'), cache.get('fine')])
      assert.equal(broken.status, 'rejected')
      protocolError(
        address,
        /get: server replied "SERVER_ERROR out of memory storing object" to mg/,
      )(broken.status === 'rejected' ? broken.reason : undefined)
      assert.deepEqual(fine, { status: 'fulfilled', value: undefined })
      assert.equal(connections(), 1)
    })
  })

  it('fails the calls in flight with BackendRefused when the server closes the connection on them', async () => {
    await withServer(
      firstConnection((_line, _connection, socket) => {
        socket.destroy()
        return undefined
      }),
      async (cache, address) => {
        await assert.rejects(cache.get('a'), (error) => {
          assert.ok(error instanceof BackendRefused, String(error))
          assert.equal(error.address, address)
          return true
        })
      },
    )
  })
})
