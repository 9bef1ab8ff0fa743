import assert from 'node:assert/strict'
import { Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { Redis as IORedis } from 'ioredis'
import {
  AbortError,
  BackendRefused,
  BackendTimeout,
  BackendUnavailable,
  DeadlineExceeded,
  scope,
  sleep,
} from 'weft'
import { type Redis, redisClient } from 'weft/redis'
import { type RedisServer, startRedisServer } from '../../../src/testing/redis.ts'
import { redisContract } from './contract.ts'

const MACHINE_REDIS = 'redis://127.0.0.1:6379'

/** Deletes every key under `prefix` on the machine's Redis, a SCAN page at a time. */
async function deletePrefix(prefix: string): Promise<void> {
  const admin = new IORedis(MACHINE_REDIS)
  try {
    let cursor = '0'
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
      if (keys.length > 0) await admin.del(...keys)
      cursor = next
    } while (cursor !== '0')
  } finally {
    admin.disconnect()
  }
}

redisContract('redisClient() on the machine’s Redis', {
  open: (keyPrefix) => redisClient({ url: MACHINE_REDIS, keyPrefix }),
  cleanup: deletePrefix,
})

/** How many times `fn` writes to a socket connected to `port`. */
async function countingWrites(port: number, fn: () => Promise<unknown>): Promise<number> {
  const original = Socket.prototype.write
  let writes = 0
  Socket.prototype.write = function (this: Socket, ...args: unknown[]) {
    if (this.remotePort === port) writes++
    return (original as (...args: unknown[]) => boolean).apply(this, args)
  } as typeof original
  try {
    await fn()
  } finally {
    Socket.prototype.write = original
  }
  return writes
}

/** Resolves on the next turn of the event loop, after the auto-pipeline has written what was queued. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('redisClient() on a server of its own', () => {
  let server: RedisServer
  let admin: IORedis
  let redis: Redis

  before(async () => {
    server = await startRedisServer()
    admin = new IORedis(server.url)
    redis = redisClient({ url: server.url, timeout: 2000 })
    await redis.ping()
  })
  after(async () => {
    await redis.close()
    admin.disconnect()
    await server.stop()
  })

  /** Stops the server from answering anyone for `ms` (the commands wait, in order, server-side). */
  const pause = (ms: number) => admin.call('client', 'pause', String(ms), 'ALL')
  /** How many times the server ran `command` since the stats were last reset. */
  async function calls(command: string): Promise<number> {
    const stats = String(await admin.call('info', 'commandstats'))
    return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
  }

  test('calls made in one turn reach the server in one write', async () => {
    await redis.ping()
    const writes = await countingWrites(server.port, () =>
      Promise.all([redis.set('p:a', '1'), redis.set('p:b', '2'), redis.get('p:a'), redis.get('p:b')]),
    )
    assert.equal(writes, 1)
    assert.deepEqual(await Promise.all([redis.get('p:a'), redis.get('p:b')]), ['1', '2'])
  })

  test('a call cancelled before its turn ended never reaches the server', async () => {
    await admin.call('config', 'resetstat')
    await scope(async (s) => {
      const write = s.spawn('write', () => redis.set('never', 'sent'))
      write.cancel()
      await assert.rejects(write, AbortError)
    })
    assert.equal(await redis.get('never'), undefined)
    assert.equal(await calls('set'), 0)
    assert.equal(await calls('get'), 1)
  })

  test('a call made by a cancelled task fails at once and is never sent', async () => {
    await admin.call('config', 'resetstat')
    let call: Promise<unknown> | undefined
    await assert.rejects(
      scope(async (s) => {
        await s.spawn('write', () => {
          s.abort('gone')
          call = redis.set('never', 'sent')
          return call
        })
      }),
      AbortError,
    )
    await assert.rejects(
      call as Promise<unknown>,
      (error) => error instanceof AbortError && error.reason === 'gone',
    )
    assert.equal(await calls('set'), 0)
  })

  test('a call cancelled while the connection is being opened is never sent', async () => {
    await admin.call('config', 'resetstat')
    await pause(300) // the new connection's handshake waits: so do the calls made meanwhile
    const fresh = redisClient({ url: server.url })
    try {
      await scope(async (s) => {
        const write = s.spawn('write', () => fresh.set('never', 'sent'))
        await nextTurn()
        write.cancel()
        await assert.rejects(write, AbortError)
      })
      assert.equal(await fresh.get('never'), undefined)
      assert.equal(await calls('set'), 0)
    } finally {
      await fresh.close()
    }
  })

  test('a call that times out while the connection is being opened says so', async () => {
    await pause(300)
    const fresh = redisClient({ url: server.url, timeout: 50 })
    try {
      await assert.rejects(
        fresh.get('k'),
        (error) =>
          error instanceof BackendTimeout &&
          /timed out after 50 ms \(still waiting for a connection\)/.test(error.message),
      )
    } finally {
      await fresh.close()
    }
  })

  test('a call cancelled after it was sent rejects at once; its reply is dropped and the connection stays in step', async () => {
    await Promise.all([redis.set('first', 'one'), redis.set('second', 'two')])
    await pause(300)
    const started = performance.now()
    let late: Promise<string | undefined> | undefined
    const cancelled = scope(async (s) => {
      const read = s.spawn('read', () => redis.get('first'))
      await nextTurn() // the GET is on the wire now, held by the paused server
      read.cancel('user navigated away')
      await assert.rejects(
        read,
        (error) => error instanceof AbortError && error.reason === 'user navigated away',
      )
      late = redis.get('second') // sent behind the cancelled GET, on the same connection
    })
    await cancelled
    assert.ok(performance.now() - started < 250, 'the cancelled call did not wait for the server')
    assert.equal(await late, 'two', 'the reply to the cancelled GET was not taken for the next one')
    assert.equal(await redis.get('first'), 'one')
  })

  test('a call past the client’s timeout fails with BackendTimeout naming the address; the connection stays usable', async () => {
    const impatient = redisClient({ url: server.url, timeout: 50 })
    try {
      await impatient.set('slow', 'value')
      await pause(300)
      const started = performance.now()
      await assert.rejects(impatient.get('slow'), (error) => {
        assert.ok(error instanceof BackendTimeout)
        assert.equal(error.address, `127.0.0.1:${server.port}`)
        assert.match(error.message, /get timed out after 50 ms/)
        return true
      })
      assert.ok(performance.now() - started < 250)
      await sleep(300) // the pause is over: the next call is answered, by its own reply
      assert.equal(await impatient.get('slow'), 'value')
    } finally {
      await impatient.close()
    }
  })

  test('a call past the scope’s deadline rejects with an AbortError whose reason is DeadlineExceeded', async () => {
    await pause(300)
    let error: unknown
    const started = performance.now()
    await assert.rejects(
      scope({ name: 'request', deadline: 40 }, async () => {
        error = await redis.get('first').catch((e: unknown) => e)
      }),
      DeadlineExceeded,
    )
    assert.ok(performance.now() - started < 250)
    assert.ok(error instanceof AbortError && error.reason instanceof DeadlineExceeded, String(error))
    assert.equal(await redis.get('first'), 'one')
  })
})

describe('redisClient() when the server is down', () => {
  test('with nothing listening, calls fail with BackendRefused, then fast with BackendUnavailable', async () => {
    const server = await startRedisServer()
    await server.stop() // its port is now (almost certainly) free
    const redis = redisClient({ url: server.url })
    try {
      await assert.rejects(redis.get('k'), (error) => {
        assert.ok(error instanceof BackendRefused, String(error))
        assert.equal(error.code, 'WEFT_BACKEND_REFUSED')
        assert.equal(error.address, `127.0.0.1:${server.port}`)
        assert.match(error.message, /ECONNREFUSED/)
        return true
      })
      const started = performance.now()
      await assert.rejects(redis.get('k'), BackendUnavailable)
      assert.ok(performance.now() - started < 50, 'a known-down server fails calls at once')
    } finally {
      await redis.close()
    }
  })

  test('a crash fails the calls in flight with BackendRefused; after a restart the client reconnects', async () => {
    let server = await startRedisServer()
    const admin = new IORedis(server.url)
    const redis = redisClient({ url: server.url })
    try {
      await redis.set('k', 'v')
      await admin.call('client', 'pause', '5000', 'ALL')
      const inFlight = assert.rejects(
        redis.get('k'),
        (error) => error instanceof BackendRefused && /lost before the reply/.test(error.message),
      )
      await nextTurn()
      admin.disconnect()
      await server.kill()
      await inFlight
      server = await startRedisServer({ port: server.port })
      // Reconnection runs in the background on its own backoff: poll until it has happened.
      let answered = false
      for (let attempt = 0; attempt < 100 && !answered; attempt++) {
        answered = await redis.ping().then(
          () => true,
          (error: unknown) => {
            assert.ok(error instanceof BackendUnavailable || error instanceof BackendRefused, String(error))
            return sleep(50).then(() => false)
          },
        )
      }
      assert.ok(answered, 'the client reconnected')
      assert.equal(await redis.get('k'), undefined, 'a fresh server (nothing was persisted)')
    } finally {
      await redis.close()
      await server.stop()
    }
  })
})
