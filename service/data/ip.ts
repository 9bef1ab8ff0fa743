/**
 * IP address parsing for the IP database and the geocoder. Strict on purpose: addresses arrive from
 * request headers and query strings, and a lenient parser (leading zeros read as octal, `1.2.3`,
 * surrounding spaces) would answer for an address the client never meant.
 */
import { isIPv6 } from 'node:net'

/**
 * A string that is not an IP address. Request handlers map it to a 400 answer; `code` is stable.
 */
export class InvalidIpAddress extends Error {
  override name = 'InvalidIpAddress'
  readonly code = 'INVALID_IP_ADDRESS'
  /** What was given instead of an address. */
  readonly input: unknown
  constructor(input: unknown, expected: string) {
    super(`not ${expected}: ${typeof input === 'string' ? JSON.stringify(input) : String(input)}`)
    this.input = input
  }
}

const dottedQuad = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/

/**
 * The IPv4 address `text` (dotted decimal, no leading zeros) as an unsigned 32-bit integer, the form
 * the IP database stores. Throws {@link InvalidIpAddress} for anything else.
 */
export function parseIPv4(text: unknown): number {
  const value = ipv4Value(text)
  if (value === undefined) throw new InvalidIpAddress(text, 'an IPv4 address')
  return value
}

/** The dotted-decimal form of an unsigned 32-bit integer address; the inverse of {@link parseIPv4}. */
export function formatIPv4(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`formatIPv4: expected an integer from 0 to 4294967295, got ${value}`)
  }
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`
}

/** An address in canonical form, with the family it belongs to. */
export interface IpAddress {
  version: 4 | 6
  /** Dotted decimal for IPv4; lower-case and compressed for IPv6. */
  address: string
}

/**
 * Classifies `text` as IPv4 or IPv6 and canonicalises it. IPv4-mapped IPv6 addresses
 * (`::ffff:8.8.8.8`, what a dual-stack socket reports for an IPv4 client) come back as the IPv4
 * address they carry. Zone indexes (`fe80::1%eth0`) are refused: they name a local interface, not a
 * place. Throws {@link InvalidIpAddress} for anything that is not an address.
 */
export function parseIp(text: unknown): IpAddress {
  const ipv4 = ipv4Value(text)
  if (ipv4 !== undefined) return { version: 4, address: formatIPv4(ipv4) }
  if (typeof text !== 'string' || !isIPv6(text) || text.includes('%')) {
    throw new InvalidIpAddress(text, 'an IP address')
  }
  // The WHATWG URL parser is Node's canonical IPv6 serialiser: lower case, longest zero run compressed,
  // embedded IPv4 written as two hextets.
  const canonical = new URL(`http://[${text}]/`).hostname.slice(1, -1)
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical)
  if (mapped !== null) {
    return {
      version: 4,
      address: formatIPv4(Number.parseInt(mapped[1]!, 16) * 65536 + Number.parseInt(mapped[2]!, 16)),
    }
  }
  return { version: 6, address: canonical }
}

function ipv4Value(text: unknown): number | undefined {
  const match = typeof text === 'string' ? dottedQuad.exec(text) : null
  if (match === null) return undefined
  let value = 0
  for (let i = 1; i <= 4; i++) {
    const octet = Number(match[i])
    if (octet > 255) return undefined
    value = value * 256 + octet
  }
  return value
}
