import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { AbortError, scope } from 'weft'
import { type Memcache, memcacheClient } from 'weft/memcache'
import { type FakeServer, fakeServer } from './fake-server.ts'

// Answers `mg <key> v` with the key upper-cased as the value, so a reply given to the wrong caller shows.
const echo = (line: string): string | undefined => {
  if (line === 'mn') return 'MN\r\n'
  const key = line.split(' ')[1] ?? ''
  return `VA ${key.length} \r\n${key.toUpperCase()}\r\n`
}

describe('cancellation', () => {
  let server: FakeServer
  let cache: Memcache
  before(async () => {
    server = await fakeServer(echo)
    cache = memcacheClient({ servers: [server.address], timeout: 5000 })
  })
  after(async () => {
    server.holding = false
    await cache.close()
    await server.close()
  })

  it('answers a call cancelled after its batch left at once, then drops its reply, staying in step', async () => {
    server.holding = true
    const controller = new AbortController()
    const sent = server.lines.length
    const cancelled = cache.get('first', { signal: controller.signal })
    await server.received(sent + 2) // the mg and the batch's mn
    controller.abort('no longer needed')
    await assert.rejects(
      cancelled,
      (error) => error instanceof AbortError && error.reason === 'no longer needed',
    )
    const next = cache.get('second')
    await server.received(sent + 4)
    server.holding = false
    assert.equal((await next)?.toString(), 'SECOND')
    const [stats] = cache.stats()
    assert.equal(stats?.discarded, 1)
    assert.equal(stats?.cancelled, 1)
    assert.equal(server.connections, 1)
  })

  it('keeps a shared request for the callers still waiting when one of them cancels', async () => {
    server.holding = true
    const controller = new AbortController()
    const sent = server.lines.length
    const leaving = cache.get('shared', { signal: controller.signal })
    const staying = cache.get('shared')
    await server.received(sent + 2)
    controller.abort()
    await assert.rejects(leaving, AbortError)
    server.holding = false
    assert.equal((await staying)?.toString(), 'SHARED')
  })

  it('cancels the calls of a task when its scope fails', async () => {
    server.holding = true
    const sent = server.lines.length
    const cancelledBefore = cache.stats()[0]?.cancelled ?? 0
    await assert.rejects(
      scope(async (s) => {
        s.spawn('read', () => cache.get('slow'))
        s.spawn('fail', async () => {
          await server.received(sent + 2)
          throw new Error('sibling failed')
        })
      }),
      /sibling failed/,
    )
    assert.equal((cache.stats()[0]?.cancelled ?? 0) - cancelledBefore, 1)
    server.holding = false
    assert.equal((await cache.get('after'))?.toString(), 'AFTER')
  })

  it('fails a call made by a cancelled task at once, without queueing it', async () => {
    const requests = cache.stats()[0]?.requests ?? 0
    let call: Promise<unknown> | undefined
    await assert.rejects(
      scope(async (s) => {
        await s.spawn('read', () => {
          s.abort('gone')
          call = cache.get('never')
          return call
        })
      }),
      AbortError,
    )
    await assert.rejects(
      call as Promise<unknown>,
      (error) => error instanceof AbortError && error.reason === 'gone',
    )
    await cache.get('flush') // a later batch shows whether the first call went out
    assert.equal(cache.stats()[0]?.requests, requests + 1)
  })

  it('fails a call whose signal is already aborted without queueing it', async () => {
    const requests = cache.stats()[0]?.requests
    await assert.rejects(cache.get('never', { signal: AbortSignal.abort('gone') }), AbortError)
    await cache.get('flush') // a later batch shows whether the first call went out
    assert.equal(cache.stats()[0]?.requests, (requests ?? 0) + 1)
  })
})
