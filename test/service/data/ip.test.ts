import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { formatIPv4, parseIPv4, parseIp } from '../../../service/data/ip.ts'

test('parseIPv4 reads dotted decimal as an unsigned 32-bit integer', () => {
  assert.equal(parseIPv4('0.0.0.0'), 0)
  assert.equal(parseIPv4('1.1.1.1'), 16843009)
  assert.equal(parseIPv4('255.255.255.255'), 4294967295)
})

test('formatIPv4 writes the integer back as dotted decimal', () => {
  assert.equal(formatIPv4(0), '0.0.0.0')
  assert.equal(formatIPv4(16843009), '1.1.1.1')
  assert.equal(formatIPv4(4294967295), '255.255.255.255')
})

test('parseIPv4 and formatIPv4 are inverses over the whole address space', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => parseIPv4(formatIPv4(n)) === n))
  fc.assert(fc.property(fc.ipV4(), (ip) => formatIPv4(parseIPv4(ip)) === ip))
})

test('parseIp tells IPv4 from IPv6 and canonicalises IPv6', () => {
  assert.deepEqual(parseIp('8.8.8.8'), { version: 4, address: '8.8.8.8' })
  assert.deepEqual(parseIp('2001:DB8:0:0::1'), { version: 6, address: '2001:db8::1' })
  assert.deepEqual(parseIp('::1'), { version: 6, address: '::1' })
})

test('parseIp unwraps IPv4-mapped IPv6 addresses, as dual-stack sockets report IPv4 clients', () => {
  assert.deepEqual(parseIp('::ffff:8.8.8.8'), { version: 4, address: '8.8.8.8' })
  assert.deepEqual(parseIp('::FFFF:0808:0404'), { version: 4, address: '8.8.4.4' })
  assert.deepEqual(parseIp('0:0:0:0:0:ffff:102:304'), { version: 4, address: '1.2.3.4' })
})
