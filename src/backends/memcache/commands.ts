import { clock } from '../../core/clock.ts'
import type { WireKey } from './keys.ts'
import { describeReply, type MetaReply, type MetaRequest, replyFlag } from './protocol.ts'

/**
 * One operation of the `Memcache` interface as a meta request, with the decoder of its reply. The
 * decoders are the only place replies are interpreted, for memcached and the embedded store alike,
 * so both give the same results by construction.
 */
export interface Command<T> {
  /** The operation, for spans and errors: `'get'`, `'set'`, ... */
  readonly name: string
  readonly request: MetaRequest
  /** Reads issued in the same turn with the same key share one request; undefined for writes. */
  readonly shareKey: string | undefined
  /** Turns the reply into the caller's result. @throws {RejectedReply} for error and unexpected replies. */
  decode(reply: MetaReply): T
}

/** The server refused the command or answered out of turn; the connection itself is still in step. */
export class RejectedReply extends Error {
  override name = 'RejectedReply'
}

/** What `gets` returns: the value with its client flags and CAS token. */
export interface MemcacheItem {
  readonly value: Buffer
  /** The 32-bit client flags stored with the value. */
  readonly flags: number
  /** The item's CAS token, for {@link Memcache.cas}. */
  readonly cas: bigint
}

/** How `ms` stores: set (`S`), add (`E`, only if absent), replace (`R`, only if present). */
export type StoreMode = 'S' | 'E' | 'R'

/** Beyond this many seconds memcached reads a TTL as a Unix time (protocol.txt, "Expiration times"). */
const maxRelativeTtl = 60 * 60 * 24 * 30

/**
 * The TTL token for `seconds` from now. memcached takes a number above 30 days as an absolute Unix
 * time, so a longer TTL is sent as one (on weft's clock) rather than silently meaning "already expired".
 */
export function ttlToken(seconds: number): number {
  return seconds <= maxRelativeTtl ? seconds : Math.floor(clock().now() / 1000) + seconds
}

function keyFlags(key: WireKey, flags: string[]): string[] {
  return key.base64 ? ['b', ...flags] : flags
}

/** An `mg`: `hit` decodes a `VA` (or, without `v`, an `HD`) reply; an `EN` gives `miss`. */
function read<T, M>(
  name: string,
  key: WireKey,
  flags: string[],
  hit: (reply: MetaReply) => T,
  miss: M,
): Command<T | M> {
  const all = keyFlags(key, flags)
  const found = flags.includes('v') ? 'VA' : 'HD'
  return {
    name,
    request: { command: 'mg', key: key.token, flags: all },
    shareKey: `${all.join(' ')} ${key.token}`,
    decode: (reply) => (reply.status === 'EN' ? miss : hit(expect(reply, 'mg', found))),
  }
}

export function getCommand(key: WireKey): Command<Buffer | undefined> {
  return read('get', key, ['v'], (reply) => reply.value as Buffer, undefined)
}

export function getsCommand(key: WireKey): Command<MemcacheItem | undefined> {
  const item = (reply: MetaReply): MemcacheItem => ({
    value: reply.value as Buffer,
    flags: Number(replyFlag(reply, 'f') ?? 0),
    cas: BigInt(replyFlag(reply, 'c') ?? 0),
  })
  return read('gets', key, ['v', 'f', 'c'], item, undefined)
}

/** `mg` with `T` and no `v`: memcached's touch, answered `HD` (touched) or `EN` (no such item). */
export function touchCommand(key: WireKey, ttl: number): Command<boolean> {
  return read('touch', key, [`T${ttlToken(ttl)}`], () => true, false)
}

export interface StoreOptions {
  mode: StoreMode
  ttl: number
  flags: number
  cas?: bigint
}

/** An `ms`: true when stored, false when the mode (add, replace) or the CAS token said not to. */
export function storeCommand(
  name: string,
  key: WireKey,
  value: Buffer,
  options: StoreOptions,
): Command<boolean> {
  const flags = [`T${ttlToken(options.ttl)}`, `F${options.flags}`]
  if (options.mode !== 'S') flags.push(`M${options.mode}`)
  if (options.cas !== undefined) flags.push(`C${options.cas}`)
  return {
    name,
    request: { command: 'ms', key: key.token, flags: keyFlags(key, flags), value },
    shareKey: undefined,
    // A plain set has one right answer; the others may decline to store.
    decode:
      options.mode === 'S' && options.cas === undefined
        ? (reply) => expect(reply, 'ms', 'HD').status === 'HD'
        : (reply) => expect(reply, 'ms', 'HD', 'NS', 'EX', 'NF').status === 'HD',
  }
}

export function deleteCommand(key: WireKey): Command<boolean> {
  return {
    name: 'delete',
    request: { command: 'md', key: key.token, flags: keyFlags(key, []) },
    shareKey: undefined,
    decode: (reply) => expect(reply, 'md', 'HD', 'NF').status === 'HD',
  }
}

export interface CounterOptions {
  delta: bigint
  /** Create the counter with this value on a miss (the delta is then not applied). */
  initial?: bigint
  /** TTL of a counter created on a miss. */
  ttl: number
}

/** An `ma`: the counter's new value, or undefined when it does not exist (and was not created). */
export function counterCommand(
  name: 'incr' | 'decr',
  key: WireKey,
  options: CounterOptions,
): Command<bigint | undefined> {
  const flags = ['v', `D${options.delta}`]
  if (name === 'decr') flags.push('MD')
  if (options.initial !== undefined) flags.push(`N${ttlToken(options.ttl)}`, `J${options.initial}`)
  return {
    name,
    request: { command: 'ma', key: key.token, flags: keyFlags(key, flags) },
    shareKey: undefined,
    decode: (reply) => {
      if (reply.status === 'NF' || reply.status === 'NS') return undefined
      const digits = expect(reply, 'ma', 'VA').value?.toString('latin1').trim() ?? ''
      if (!/^\d+$/.test(digits))
        throw new RejectedReply(`ma returned a non-numeric value "${digits.slice(0, 30)}"`)
      return BigInt(digits)
    },
  }
}

function expect(reply: MetaReply, command: string, ...allowed: MetaReply['status'][]): MetaReply {
  if (allowed.includes(reply.status)) return reply
  const said = describeReply(reply)
  const errorLine = reply.status === 'ERROR' || reply.status.endsWith('_ERROR')
  throw new RejectedReply(
    errorLine ? `server replied "${said}" to ${command}` : `unexpected reply "${said}" to ${command}`,
  )
}
