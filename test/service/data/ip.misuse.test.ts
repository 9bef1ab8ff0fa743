import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatIPv4, InvalidIpAddress, parseIPv4, parseIp } from '../../../service/data/ip.ts'

const notIPv4 = [
  '',
  '1.2.3',
  '1.2.3.4.5',
  '256.1.1.1',
  '1.2.3.999',
  '01.2.3.4', // leading zeros: octal to inet_aton, decimal to others; refused rather than guessed
  '1.2.3.04',
  ' 1.2.3.4',
  '1.2.3.4 ',
  '1.2.3.4\n',
  '1..3.4',
  '1.2.3.-4',
  '1.2.3.4/24',
  '0x1.2.3.4',
  '١.٢.٣.٤', // Arabic-Indic digits match \d in some engines, never in an address
  '::1',
]

test('parseIPv4 refuses anything but plain dotted decimal, with an InvalidIpAddress carrying a stable code', () => {
  for (const input of notIPv4) {
    assert.throws(
      () => parseIPv4(input),
      (error) =>
        error instanceof InvalidIpAddress &&
        error.code === 'INVALID_IP_ADDRESS' &&
        error.input === input &&
        error.message === `not an IPv4 address: ${JSON.stringify(input)}`,
      JSON.stringify(input),
    )
  }
})

test('parseIPv4 refuses non-strings the same way', () => {
  for (const input of [undefined, null, 16843009, ['1.1.1.1'], {}]) {
    assert.throws(() => parseIPv4(input), InvalidIpAddress)
  }
})

test('parseIp calls what it refuses "not an IP address", a bad dotted quad included', () => {
  assert.throws(() => parseIp('999.1.1.1'), {
    name: 'InvalidIpAddress',
    message: 'not an IP address: "999.1.1.1"',
  })
})

test('parseIp refuses malformed addresses and zone indexes', () => {
  for (const input of [
    '',
    'localhost',
    '1.2.3',
    '01.2.3.4',
    '1::2::3',
    '12345::',
    'fe80::1%eth0',
    '[::1]',
    42,
  ]) {
    assert.throws(() => parseIp(input), InvalidIpAddress, JSON.stringify(input))
  }
})

test('formatIPv4 refuses numbers outside the 32-bit range with a RangeError', () => {
  for (const value of [-1, 4294967296, 1.5, Number.NaN]) {
    assert.throws(() => formatIPv4(value), RangeError)
  }
})
