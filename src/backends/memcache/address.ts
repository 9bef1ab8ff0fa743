import { isIP } from 'node:net'
import { describe } from '../../core/validate.ts'

/** A memcached server's address, parsed. */
export interface Address {
  readonly host: string
  readonly port: number
  /** `host:port` (`[v6]:port` for IPv6): how the shard is named in errors, spans and on the ring. */
  readonly text: string
}

const defaultPort = 11211

/**
 * Parses `host:port`, `[ipv6]:port` or a bare host (port 11211). The canonical text always carries
 * the port, so `'cache1'` and `'cache1:11211'` are one server, at one place on the ring.
 */
export function parseAddress(where: string, value: unknown): Address {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new TypeError(`${where}: a server must be a "host:port" string, got ${describe(value)}`)
  }
  const text = value.trim()
  const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:[\]\s]+)(?::(\d+))?$/.exec(text)
  const host = match?.[1]
  const port = match?.[2] === undefined ? defaultPort : Number(match[2])
  if (host === undefined || (text.startsWith('[') && isIP(host) !== 6) || !(port >= 1 && port <= 65535)) {
    throw new TypeError(
      `${where}: a server must be "host:port", "[ipv6]:port" or "host", got ${describe(value)}`,
    )
  }
  return { host, port, text: isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}` }
}
