import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { embeddedMemcache, memcacheClient, memcacheFromEnv } from 'weft/memcache'

const cache = embeddedMemcache()

/** Calls `fn` with anything for its argument, to check that the argument is refused. */
function refuses(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error) => {
    assert.ok(error instanceof TypeError, String(error))
    assert.match(error.message, pattern)
    return true
  })
}

describe('memcache misuse', () => {
  it('refuses keys memcached cannot take, naming the call', () => {
    refuses(() => cache.get(''), /memcache\.get\(\): key must be a non-empty string, got ""/)
    refuses(() => cache.get(42 as unknown as string), /key must be a non-empty string, got 42/)
    refuses(() => cache.set('a'.repeat(251), 'x'), /memcache\.set\(\): key is 251 bytes; .* at most 250/)
    refuses(() => cache.get('é'.repeat(126)), /key is 252 bytes/)
    refuses(
      () => cache.get('has space'),
      /space or control character \(0x20 at index 3\).*keyEncoding: 'base64'/,
    )
    refuses(() => cache.delete('new\nline'), /memcache\.delete\(\): .*\(0x0a at index 3\)/)
    refuses(() => cache.touch('del\u007f', 1), /0x7f/)
    refuses(() => cache.serverFor(''), /memcache\.serverFor\(\)/)
    const base64 = embeddedMemcache({ keyEncoding: 'base64' })
    refuses(() => base64.get('x'.repeat(188)), /188 bytes; base64 keys may be at most 187 bytes/)
  })

  it('refuses a text key exactly when its UTF-8 is over 250 bytes, whatever its characters', () => {
    // Characters of 1 to 4 bytes, in keys around the limit, and any code points at all.
    const nearTheLimit = fc
      .array(fc.constantFrom('a', 'é', '鍵', '😀'), { minLength: 60, maxLength: 130 })
      .map((characters) => characters.join(''))
    const anyText = fc
      .string({ unit: 'binary', minLength: 1, maxLength: 130 })
      .filter((key) => [...key].every((character) => character > ' ' && character !== '\u007f'))
    fc.assert(
      fc.property(fc.oneof(nearTheLimit, anyText), (key) => {
        const bytes = Buffer.byteLength(key)
        if (bytes > 250) refuses(() => cache.serverFor(key), new RegExp(`key is ${bytes} bytes`))
        else assert.equal(typeof cache.serverFor(key), 'string')
      }),
    )
  })

  it('refuses values that are neither strings nor bytes', () => {
    refuses(
      () => cache.set('k', 42 as unknown as string),
      /memcache\.set\(\): value must be a string or a Uint8Array/,
    )
    refuses(() => cache.add('k', { a: 1 } as unknown as string), /memcache\.add\(\): value must be/)
    refuses(() => cache.setJson('k', undefined), /memcache\.setJson\(\): undefined has no JSON form/)
  })

  it('refuses TTLs, flags and CAS tokens out of range', () => {
    refuses(
      () => cache.set('k', 'v', { ttl: -1 }),
      /options\.ttl must be a whole number of seconds, 0 or more, got -1/,
    )
    refuses(() => cache.set('k', 'v', { ttl: 1.5 }), /options\.ttl/)
    refuses(() => cache.touch('k', '10' as unknown as number), /memcache\.touch\(\): ttl must be/)
    refuses(
      () => cache.set('k', 'v', { flags: 2 ** 32 }),
      /options\.flags must be a whole number from 0 to 2\^32 - 1/,
    )
    refuses(() => cache.cas('k', 'v', 0n), /cas must be the bigint token returned by gets\(\), got 0/)
    refuses(() => cache.cas('k', 'v', 5 as unknown as bigint), /cas must be the bigint token/)
  })

  it('refuses counter deltas and initial values outside unsigned 64 bits', () => {
    refuses(() => cache.incr('k', -1), /memcache\.incr\(\): delta must be a whole number from 0 to 2\^64 - 1/)
    refuses(() => cache.decr('k', 2n ** 64n), /memcache\.decr\(\): delta/)
    refuses(() => cache.incr('k', 0.5), /delta/)
    refuses(() => cache.incr('k', 1, { initial: -5 }), /options\.initial must be/)
    refuses(
      () => cache.incr('k', 1, { ttl: 10 }),
      /options\.ttl is the TTL of a counter this call creates: give options\.initial too/,
    )
  })

  it('refuses call options of the wrong type', () => {
    refuses(() => cache.get('k', 'fast' as unknown as object), /memcache\.get\(\): options must be an object/)
    refuses(() => cache.get('k', { signal: {} as AbortSignal }), /options\.signal must be an AbortSignal/)
    refuses(() => cache.get('k', { timeout: -5 }), /options\.timeout must be a finite number of milliseconds/)
    refuses(
      () => cache.getMulti('k' as unknown as string[]),
      /memcache\.getMulti\(\): keys must be an iterable of strings/,
    )
    refuses(() => cache.getMulti(['ok', '']), /memcache\.getMulti\(\): key must be a non-empty string/)
  })

  it('refuses client options that cannot work', () => {
    refuses(
      () => memcacheClient(undefined as never),
      /memcacheClient\(\): options with a servers list are required/,
    )
    refuses(() => memcacheClient({ servers: [] }), /options\.servers must be a non-empty array/)
    refuses(
      () => memcacheClient({ servers: ['host:99999'] }),
      /options\.servers\[0\]: a server must be "host:port"/,
    )
    refuses(() => memcacheClient({ servers: ['::1'] }), /a server must be/)
    refuses(() => memcacheClient({ servers: ['a:1', 'a:0001'] }), /lists a:1 twice/)
    refuses(
      () => memcacheClient({ servers: [{ address: 'a:1', weight: 0 }] }),
      /weight must be a positive number/,
    )
    refuses(() => memcacheClient({ servers: ['a:1'], timeout: 0 }), /options\.timeout must be more than 0 ms/)
    refuses(
      () => memcacheClient({ servers: ['a:1'], keyEncoding: 'hex' as 'text' }),
      /keyEncoding must be 'text' or 'base64'/,
    )
    refuses(
      () => memcacheClient({ servers: ['a:1'], reconnect: { min: 500, max: 100 } }),
      /reconnect\.max \(100\) is below/,
    )
    refuses(
      () => embeddedMemcache({ shards: 0 }),
      /embeddedMemcache\(\): options\.shards must be a whole number of at least 1/,
    )
    refuses(() => embeddedMemcache({ maxBytes: 1.5 }), /options\.maxBytes/)
    refuses(
      () => memcacheFromEnv(42 as unknown as string),
      /memcacheFromEnv\(\): servers must be a comma-separated string/,
    )
  })

  it('accepts the address forms memcached clients use, naming each server with its port', async () => {
    const client = memcacheClient({ servers: ['cache1', '[::1]:11212', ' 10.0.0.7:11213 '] })
    assert.deepEqual(client.servers, ['cache1:11211', '[::1]:11212', '10.0.0.7:11213'])
    await client.close()
  })
})
