import assert from 'node:assert/strict'
import { hash } from 'node:crypto'
import { describe, it } from 'node:test'
import { KetamaRing, memcacheClient } from 'weft/memcache'
import { hashKey } from '../../../src/backends/memcache/ketama.ts'

const keys = Array.from({ length: 20_000 }, (_, i) => `user:${i}:session`)
const three = ['10.0.0.1:11211', '10.0.0.2:11211', '10.0.0.3:11211']

describe('KetamaRing', () => {
  it('places keys exactly as libketama does (its published test vectors)', () => {
    // The server list and weights of libketama's ketama.servers test file, with keys and the servers
    // libketama maps them to.
    const ring = new KetamaRing(
      [
        ['10.0.1.1', 600],
        ['10.0.1.2', 300],
        ['10.0.1.3', 200],
        ['10.0.1.4', 350],
        ['10.0.1.5', 1000],
        ['10.0.1.6', 800],
        ['10.0.1.7', 950],
        ['10.0.1.8', 100],
      ].map(([host, weight]) => ({ address: `${host}:11211`, weight: weight as number })),
    )
    const expected: [string, number, string][] = [
      ['12936', 3769287096, '10.0.1.7:11211'],
      ['27804', 435768809, '10.0.1.5:11211'],
      ['37045', 1996655674, '10.0.1.2:11211'],
      ['50829', 2954822664, '10.0.1.1:11211'],
      ['65422', 1423001712, '10.0.1.6:11211'],
      ['74912', 3809055594, '10.0.1.6:11211'],
    ]
    for (const [key, hash, server] of expected) {
      assert.equal(hashKey(key), hash)
      assert.equal(ring.locate(key), server, key)
    }
  })

  it('hashes a key as the MD5 of its UTF-8 bytes, whatever characters it holds', () => {
    for (const key of ['user:42', 'café:€', 'ключ:键:🔑', 'x'.repeat(250)]) {
      assert.equal(hashKey(key), hash('md5', key, 'buffer').readUInt32LE(0), key)
    }
  })

  it('spreads keys evenly over equal servers', () => {
    const ring = new KetamaRing(three)
    const counts = new Map<string, number>()
    for (const key of keys) {
      const server = ring.locate(key)
      counts.set(server, (counts.get(server) ?? 0) + 1)
    }
    for (const server of three) {
      const share = (counts.get(server) ?? 0) / keys.length
      assert.ok(share > 0.25 && share < 0.42, `${server} got ${share}`)
    }
  })

  it('moves about a quarter of the keys, all to the new server, when a fourth server joins three', () => {
    const before = new KetamaRing(three)
    const after = new KetamaRing([...three, '10.0.0.4:11211'])
    let moved = 0
    for (const key of keys) {
      const from = before.locate(key)
      const to = after.locate(key)
      if (from === to) continue
      moved += 1
      assert.equal(to, '10.0.0.4:11211', `${key} moved between old servers`)
    }
    const fraction = moved / keys.length
    assert.ok(fraction > 0.18 && fraction < 0.32, `moved ${fraction} of the keys`)
  })

  it('moves only the keys of a server that leaves', () => {
    const before = new KetamaRing([...three, '10.0.0.4:11211'])
    const after = new KetamaRing(three)
    for (const key of keys) {
      if (before.locate(key) !== '10.0.0.4:11211') assert.equal(after.locate(key), before.locate(key))
    }
  })

  it('does not depend on the order the servers are listed in', () => {
    const ring = new KetamaRing(three)
    const reversed = new KetamaRing([...three].reverse())
    for (const key of keys.slice(0, 2000)) assert.equal(reversed.locate(key), ring.locate(key))
  })

  it('gives a heavier server a proportionally larger share', () => {
    const ring = new KetamaRing([
      { address: 'a:1', weight: 1 },
      { address: 'b:1', weight: 3 },
    ])
    const onB = keys.filter((key) => ring.locate(key) === 'b:1').length / keys.length
    assert.ok(onB > 0.65 && onB < 0.85, `b got ${onB}`)
  })

  it('places keys the same way in a client, whatever form the addresses are written in', async () => {
    const before = memcacheClient({ servers: ['10.0.0.1', '10.0.0.2:11211', ' 10.0.0.3:11211'] })
    const after = memcacheClient({ servers: [...three, '10.0.0.4:11211'] })
    const ring = new KetamaRing(three)
    let moved = 0
    for (const key of keys.slice(0, 4000)) {
      assert.equal(before.serverFor(key), ring.locate(key))
      if (after.serverFor(key) !== before.serverFor(key)) moved += 1
    }
    assert.ok(moved / 4000 > 0.18 && moved / 4000 < 0.32, `moved ${moved / 4000}`)
    await Promise.all([before.close(), after.close()])
  })
})
