import { describe } from '../../core/validate.ts'

/** memcached refuses longer keys (`KEY_MAX_LENGTH`); with base64 keys the limit applies to the encoded form. */
export const maxKeyBytes = 250

/** How keys travel: as they are (`'text'`), or base64-encoded with the meta `b` flag (`'base64'`). */
export type KeyEncoding = 'text' | 'base64'

/** A checked key: the text the user gave (hashed onto the ring) and the token put on the wire. */
export interface WireKey {
  readonly key: string
  readonly token: string
  readonly base64: boolean
}

// Space, control characters and DEL end or corrupt a command line; everything else (UTF-8 included)
// memcached takes as opaque bytes.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused.
const forbidden = /[\u0000-\u0020\u007f]/

/**
 * Checks `key` for the wire and returns its token. Text keys must be 1 to 250 bytes of UTF-8 without
 * spaces or control characters; base64 keys may hold anything, up to 187 bytes (250 once encoded).
 * Throws a TypeError naming the call (`where`) otherwise, before anything is sent: a bad key would
 * otherwise cost a round trip and, in an `ms`, desynchronise the connection (memcached then reads
 * the data block as a command).
 */
export function wireKey(where: string, key: unknown, encoding: KeyEncoding): WireKey {
  if (typeof key !== 'string' || key.length === 0) {
    throw new TypeError(`${where}: key must be a non-empty string, got ${describe(key)}`)
  }
  if (encoding === 'base64') {
    const token = Buffer.from(key).toString('base64')
    if (token.length > maxKeyBytes) {
      throw new TypeError(
        `${where}: key is ${Buffer.byteLength(key)} bytes; base64 keys may be at most 187 bytes (250 once encoded)`,
      )
    }
    return { key, token, base64: true }
  }
  // A UTF-16 code unit is at most 3 bytes of UTF-8, so a key of up to 83 of them needs no counting:
  // most keys are, and counting is a call into node (Buffer.byteLength) on every memcache call.
  if (key.length * 3 > maxKeyBytes) {
    const bytes = Buffer.byteLength(key)
    if (bytes > maxKeyBytes) {
      throw new TypeError(
        `${where}: key is ${bytes} bytes; memcached keys may be at most ${maxKeyBytes} bytes`,
      )
    }
  }
  const bad = forbidden.exec(key)
  if (bad !== null) {
    const code = bad[0].charCodeAt(0).toString(16).padStart(2, '0')
    throw new TypeError(
      `${where}: key contains a space or control character (0x${code} at index ${bad.index}); ` +
        `use keyEncoding: 'base64' for arbitrary keys`,
    )
  }
  return { key, token: key, base64: false }
}
