// The behaviour every weft Redis keeps, real or embedded: one suite, run against both
// (real.test.ts, embedded.test.ts), so that neither drifts from the other.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import {
  AbortError,
  BackendUnavailable,
  DeadlineExceeded,
  ProtocolError,
  type SpanData,
  scope,
  sleep,
  type Trace,
} from 'weft'
import type { Redis } from 'weft/redis'

/** How the suite reaches one kind of Redis. */
export interface ContractTarget {
  /** A new client whose keys all start with `keyPrefix`. */
  open(keyPrefix: string): Redis
  /** Deletes every key starting with `keyPrefix`, once the suite is done. */
  cleanup(keyPrefix: string): Promise<void>
}

/** Runs `fn` in a traced request and returns its spans, the root scope's first. */
async function traced(fn: () => Promise<unknown>): Promise<SpanData[]> {
  let trace: Trace | undefined
  await scope({ name: 'request', trace: (finished) => (trace = finished) }, fn)
  return trace?.toJSON().spans ?? []
}

function redisSpans(spans: SpanData[]): SpanData[] {
  return spans.filter((span) => span.name.startsWith('redis.'))
}

export function redisContract(name: string, target: ContractTarget): void {
  describe(`${name} keeps the Redis contract`, () => {
    const prefix = `weft-test:${randomUUID()}:`
    let redis: Redis
    let counter = 0
    /** A key no other test uses. */
    const key = (label: string): string => `${label}:${++counter}`

    before(() => {
      redis = target.open(prefix)
    })
    after(async () => {
      await redis.close()
      await target.cleanup(prefix)
    })

    describe('strings', () => {
      test('get returns what set stored, and undefined for a missing key', async () => {
        const k = key('string')
        assert.equal(await redis.set(k, 'héllo wörld'), true)
        assert.equal(await redis.get(k), 'héllo wörld')
        assert.equal(await redis.get(key('missing')), undefined)
      })

      test('set with nx writes only a missing key, set with xx only an existing one', async () => {
        const k = key('conditional')
        assert.equal(await redis.set(k, 'first', { xx: true }), false)
        assert.equal(await redis.get(k), undefined)
        assert.equal(await redis.set(k, 'first', { nx: true }), true)
        assert.equal(await redis.set(k, 'second', { nx: true }), false)
        assert.equal(await redis.get(k), 'first')
        assert.equal(await redis.set(k, 'third', { xx: true }), true)
        assert.equal(await redis.get(k), 'third')
      })

      test('set with px gives the key an expiry; set without px removes it', async () => {
        const k = key('expiring')
        await redis.set(k, 'v', { px: 60_000 })
        const ttl = await redis.pttl(k)
        assert.ok(ttl !== undefined && ttl > 59_000 && ttl <= 60_000, `pttl was ${ttl}`)
        await redis.set(k, 'w')
        assert.equal(await redis.pttl(k), Infinity)
      })

      test('mget returns the values in order, undefined for missing keys and keys of another type', async () => {
        const [a, b, hash] = [key('a'), key('b'), key('hash')]
        await Promise.all([redis.set(a, '1'), redis.set(b, '2'), redis.hset(hash, { f: 'v' })])
        assert.deepEqual(await redis.mget([b, key('missing'), a, hash]), ['2', undefined, '1', undefined])
        assert.deepEqual(await redis.mget([]), [])
      })

      test('del deletes the keys and counts those that existed', async () => {
        const [a, b] = [key('a'), key('b')]
        await Promise.all([redis.set(a, '1'), redis.hset(b, { f: 'v' })])
        assert.equal(await redis.del(a, b, key('missing')), 2)
        assert.deepEqual(await redis.mget([a, b]), [undefined, undefined])
        assert.equal(await redis.del(), 0)
      })
    })

    describe('counters', () => {
      test('incr counts from 0 and adds by, negative or positive', async () => {
        const k = key('counter')
        assert.equal(await redis.incr(k), 1)
        assert.equal(await redis.incr(k, { by: 41 }), 42)
        assert.equal(await redis.incr(k, { by: -50 }), -8)
        assert.equal(await redis.get(k), '-8')
      })

      test('incr of a value that is not an integer fails with a ProtocolError, leaving it as it was', async () => {
        const k = key('text')
        await redis.set(k, '1.5')
        await assert.rejects(
          redis.incr(k),
          (error) => error instanceof ProtocolError && /not an integer/.test(error.message),
        )
        await assert.rejects(
          redis.incr(k, { px: 1000 }),
          (error) => error instanceof ProtocolError && /not an integer/.test(error.message),
        )
        assert.equal(await redis.get(k), '1.5')
      })

      test('incr with px expires a new counter, and keeps the expiry of an existing one', async () => {
        const k = key('window')
        assert.equal(await redis.incr(k, { px: 10_000 }), 1)
        const first = await redis.pttl(k)
        assert.ok(first !== undefined && first > 9000 && first <= 10_000, `pttl was ${first}`)
        assert.equal(await redis.incr(k, { px: 50_000, by: 2 }), 3)
        const second = await redis.pttl(k)
        assert.ok(second !== undefined && second <= first, `pttl went from ${first} to ${second}`)
      })

      test('incr with px gives an expiry to a counter that had none', async () => {
        const k = key('unbounded')
        await redis.incr(k)
        assert.equal(await redis.pttl(k), Infinity)
        await redis.incr(k, { px: 5000 })
        const ttl = await redis.pttl(k)
        assert.ok(ttl !== undefined && ttl > 4000 && ttl <= 5000, `pttl was ${ttl}`)
      })
    })

    describe('expiry', () => {
      test('pexpire sets an expiry on an existing key and answers false for a missing one', async () => {
        const k = key('expire')
        assert.equal(await redis.pexpire(k, 1000), false)
        await redis.set(k, 'v')
        assert.equal(await redis.pexpire(k, 30_000), true)
        const ttl = await redis.pttl(k)
        assert.ok(ttl !== undefined && ttl > 29_000 && ttl <= 30_000, `pttl was ${ttl}`)
      })

      test('pexpire with 0 deletes the key', async () => {
        const k = key('expire-now')
        await redis.set(k, 'v')
        assert.equal(await redis.pexpire(k, 0), true)
        assert.equal(await redis.get(k), undefined)
      })

      test('pttl is undefined for a missing key and Infinity for a key without expiry', async () => {
        const k = key('persistent')
        assert.equal(await redis.pttl(k), undefined)
        await redis.set(k, 'v')
        assert.equal(await redis.pttl(k), Infinity)
      })
    })

    describe('hashes', () => {
      test('hset counts the new fields; hget and hgetall read them back', async () => {
        const k = key('hash')
        assert.equal(await redis.hset(k, { name: 'Ada', city: 'London' }), 2)
        assert.equal(await redis.hset(k, { city: 'Paris', lang: 'fr' }), 1)
        assert.equal(await redis.hget(k, 'city'), 'Paris')
        assert.equal(await redis.hget(k, 'missing'), undefined)
        assert.deepEqual(await redis.hgetall(k), { name: 'Ada', city: 'Paris', lang: 'fr' })
        assert.deepEqual(await redis.hgetall(key('missing')), {})
      })

      test('a field named __proto__ is an ordinary field', async () => {
        const k = key('proto')
        await redis.hset(k, JSON.parse('{"__proto__": "x"}'))
        const all = await redis.hgetall(k)
        assert.equal(Object.getPrototypeOf(all), Object.prototype)
        assert.deepEqual(Object.entries(all), [['__proto__', 'x']])
      })

      test('hdel counts the deleted fields, and the key goes with its last field', async () => {
        const k = key('fields')
        await redis.hset(k, { a: '1', b: '2' })
        assert.equal(await redis.hdel(k, 'a', 'missing'), 1)
        assert.deepEqual(await redis.hgetall(k), { b: '2' })
        assert.equal(await redis.hdel(k, 'b'), 1)
        assert.equal(await redis.pttl(k), undefined)
      })
    })

    describe('errors', () => {
      test('a command on a key of the wrong type fails with a ProtocolError naming redis, the address and WRONGTYPE', async () => {
        const [text, hash] = [key('text'), key('hash')]
        await Promise.all([redis.set(text, 'v'), redis.hset(hash, { f: 'v' })])
        for (const call of [() => redis.get(hash), () => redis.incr(hash), () => redis.hget(text, 'f')]) {
          await assert.rejects(call(), (error) => {
            assert.ok(error instanceof ProtocolError)
            assert.equal(error.code, 'WEFT_BACKEND_PROTOCOL')
            assert.equal(error.backend, 'redis')
            assert.equal(error.address, redis.address)
            assert.match(error.message, /^redis .+: \w+: WRONGTYPE/)
            return true
          })
        }
      })

      test('one failing command does not fail the others sent with it', async () => {
        const [text, hash] = [key('text'), key('hash')]
        await redis.hset(hash, { f: 'v' })
        const results = await Promise.allSettled([redis.set(text, 'v'), redis.get(hash), redis.get(text)])
        assert.deepEqual(
          results.map((result) => result.status),
          ['fulfilled', 'rejected', 'fulfilled'],
        )
        assert.equal((results[2] as PromiseFulfilledResult<string>).value, 'v')
      })
    })

    describe('cancellation and deadlines', () => {
      test('a call in a cancelled scope rejects at once with an AbortError naming redis, the call and why', async () => {
        const failure = new Error('sibling failed')
        let error: unknown
        await assert.rejects(
          scope(async (s) => {
            s.spawn('fails', async () => {
              throw failure
            })
            await sleep(10_000).catch(() => {})
            error = await redis.get(key('any')).catch((e: unknown) => e)
          }),
          failure,
        )
        assert.ok(error instanceof AbortError, String(error))
        assert.equal(error.reason, failure)
        assert.match(error.message, /^redis .+ get was cancelled: Error: sibling failed/)
      })

      test('a call cancelled in the turn it was made is never sent', async () => {
        const k = key('dropped')
        await scope(async (s) => {
          const write = s.spawn('write', () => redis.set(k, 'v'))
          write.cancel('changed my mind')
          await assert.rejects(write, AbortError)
        })
        assert.equal(await redis.get(k), undefined)
      })

      test('a call made once the deadline passed rejects with an AbortError whose reason is DeadlineExceeded', async () => {
        let error: unknown
        await assert.rejects(
          scope({ name: 'request', deadline: 10 }, async () => {
            await sleep(10_000).catch(() => {})
            error = await redis.get(key('late')).catch((e: unknown) => e)
          }),
          DeadlineExceeded,
        )
        assert.ok(error instanceof AbortError, String(error))
        assert.ok(error.reason instanceof DeadlineExceeded)
        assert.match(error.message, /^redis .+ get was cancelled/)
      })
    })

    describe('tracing', () => {
      test('each call records a client span with the server, the command, the batch size, bytes, hits and misses', async () => {
        const [a, b] = [key('a'), key('b')]
        await redis.set(a, 'value')
        const spans = redisSpans(
          await traced(() => Promise.all([redis.get(a), redis.mget([a, b]), redis.get(b)])),
        )
        assert.deepEqual(
          spans.map((span) => [span.name, span.kind, span.status]),
          [
            ['redis.get', 'client', 'ok'],
            ['redis.mget', 'client', 'ok'],
            ['redis.get', 'client', 'ok'],
          ],
        )
        const [hit, many, miss] = spans as [SpanData, SpanData, SpanData]
        for (const span of spans) {
          assert.equal(span.attributes['db.system'], 'redis')
          assert.equal(typeof span.attributes['server.address'], 'string')
          assert.equal(span.attributes['db.operation.batch.size'], 3, 'the three calls went out together')
          assert.ok((span.attributes['db.bytes_sent'] as number) > 0)
        }
        assert.equal(hit.attributes['db.operation.name'], 'GET')
        assert.deepEqual([hit.attributes['db.hits'], hit.attributes['db.misses']], [1, 0])
        assert.equal(hit.attributes['db.bytes_received'], 5)
        assert.deepEqual([many.attributes['db.hits'], many.attributes['db.misses']], [1, 1])
        assert.deepEqual([miss.attributes['db.hits'], miss.attributes['db.misses']], [0, 1])
      })

      test('a failed call ends its span in error, a cancelled one as cancelled', async () => {
        const hash = key('hash')
        await redis.hset(hash, { f: 'v' })
        const spans = redisSpans(
          await traced(async () => {
            await redis.get(hash).catch(() => {})
            await scope(async (s) => {
              const read = s.spawn('read', () => redis.get(hash))
              read.cancel()
              await read.catch(() => {})
            })
          }),
        )
        assert.deepEqual(
          spans.map((span) => span.status),
          ['error', 'cancelled'],
        )
        assert.match(spans[0]?.error ?? '', /ProtocolError: .*WRONGTYPE/)
        assert.match(spans[1]?.error ?? '', /AbortError/)
      })
    })

    describe('closing', () => {
      test('close waits for the calls already made; later calls fail with BackendUnavailable', async () => {
        const client = target.open(prefix)
        const k = key('closing')
        const write = client.set(k, 'v')
        const read = client.get(k)
        await client.close()
        assert.equal(await write, true)
        assert.equal(await read, 'v')
        await assert.rejects(
          client.get(k),
          (error) =>
            error instanceof BackendUnavailable &&
            error.address === client.address &&
            /closed/.test(error.message),
        )
        await client.close() // harmless
      })

      test('ping answers while the server is reachable', async () => {
        assert.equal(await redis.ping(), undefined)
      })
    })

    test('clients with different key prefixes do not see each other’s keys', async () => {
      const other = target.open(`${prefix}other:`)
      const k = key('shared-name')
      try {
        await Promise.all([redis.set(k, 'mine'), other.set(k, 'theirs')])
        assert.deepEqual(await Promise.all([redis.get(k), other.get(k)]), ['mine', 'theirs'])
      } finally {
        await other.close()
      }
    })
  })
}
