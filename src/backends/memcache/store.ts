import { clock } from '../../core/clock.ts'
import type { MetaReply, MetaRequest } from './protocol.ts'

/** Bounds of one in-process shard. */
export interface StoreLimits {
  /** Bytes of items (keys, values and memcached's per-item overhead) kept before the least recently used go. */
  maxBytes: number
  /** Items kept before the least recently used go. */
  maxItems: number
  /** The largest item, overhead included (memcached's `-I`, 1 MiB by default). */
  maxItemBytes: number
}

interface Item {
  value: Buffer
  flags: number
  cas: number
  /** Epoch ms on weft's clock when the item expires; 0 for never. */
  expires: number
  size: number
}

/** memcached's item header with a CAS field: what an item costs beyond its key and value. */
const itemOverhead = 56
const maxRelativeTtl = 60 * 60 * 24 * 30
const u64 = 2n ** 64n

const nonNumeric: MetaReply = {
  status: 'CLIENT_ERROR',
  flags: 'cannot increment or decrement non-numeric value'.split(' '),
}
const tooLarge: MetaReply = { status: 'SERVER_ERROR', flags: 'object too large for cache'.split(' ') }

/**
 * One in-process memcached shard: executes meta requests and answers with the replies memcached
 * gives, for the flags weft's client sends (`b v f c t s k T` on `mg`; `b T F M C c` on `ms`; `b C`
 * on `md`; `b v D M N J` on `ma`). Items expire on weft's clock, so tests of TTLs run on the virtual
 * clock; the least recently used items are evicted past `maxBytes` or `maxItems`.
 *
 * It mirrors memcached down to its quirks, so code tested on it behaves the same in production: an
 * item may be at most `maxItemBytes` including a 56-byte header, key and value; a failed oversized
 * set also removes the old value; a decremented counter keeps its length, padded with spaces; an
 * incremented one wraps at 2^64.
 */
export class MemoryStore {
  readonly #limits: StoreLimits
  /** In least-recently-used-first order: a read or write moves the item to the end. */
  readonly #items = new Map<string, Item>()
  #bytes = 0
  #cas = 0

  constructor(limits: StoreLimits) {
    this.#limits = limits
  }

  /** Items currently held, expired ones not yet collected included. */
  get items(): number {
    return this.#items.size
  }

  /** Bytes currently held, as memcached would count them. */
  get bytes(): number {
    return this.#bytes
  }

  execute(request: MetaRequest): MetaReply {
    const flags = parseFlags(request.flags)
    if (flags === undefined) return { status: 'CLIENT_ERROR', flags: ['invalid', 'or', 'duplicate', 'flag'] }
    const key = request.key
    switch (request.command) {
      case 'mg':
        return this.#get(key, flags)
      case 'ms':
        return this.#set(key, request.value ?? Buffer.alloc(0), flags)
      case 'md':
        return this.#delete(key, flags)
      case 'ma':
        return this.#arithmetic(key, flags)
    }
  }

  #get(key: string, flags: Map<string, string>): MetaReply {
    const item = this.#live(key)
    if (item === undefined) return { status: 'EN', flags: [] }
    const touch = flags.get('T')
    if (touch !== undefined) item.expires = expiry(Number(touch))
    const returned: string[] = []
    for (const flag of flags.keys()) {
      if (flag === 'f') returned.push(`f${item.flags}`)
      else if (flag === 'c') returned.push(`c${item.cas}`)
      else if (flag === 's') returned.push(`s${item.value.length}`)
      else if (flag === 'k') returned.push(`k${key}`)
      else if (flag === 't')
        returned.push(`t${item.expires === 0 ? -1 : Math.ceil((item.expires - now()) / 1000)}`)
    }
    if (flags.has('b') && flags.has('k')) returned.push('b')
    // Copies in and out, as the network would: no caller can change a stored value by mutating a Buffer.
    if (!flags.has('v')) return { status: 'HD', flags: returned }
    return { status: 'VA', flags: returned, value: Buffer.from(item.value) }
  }

  #set(key: string, value: Buffer, flags: Map<string, string>): MetaReply {
    const size = itemOverhead + keyBytes(key, flags) + 1 + value.length + 2
    if (size > this.#limits.maxItemBytes) {
      // memcached unlinks the old value rather than keep serving what the caller meant to replace.
      this.#remove(key)
      return tooLarge
    }
    const current = this.#live(key)
    const mode = flags.get('M') ?? 'S'
    if (mode === 'E' && current !== undefined) return { status: 'NS', flags: [] }
    if (mode === 'R' && current === undefined) return { status: 'NS', flags: [] }
    const cas = flags.get('C')
    if (cas !== undefined) {
      if (current === undefined) return { status: 'NF', flags: [] }
      if (String(current.cas) !== cas) return { status: 'EX', flags: [] }
    }
    const item = this.#store(key, {
      value: Buffer.from(value),
      flags: Number(flags.get('F') ?? 0) >>> 0,
      cas: 0,
      expires: expiry(Number(flags.get('T') ?? 0)),
      size,
    })
    return { status: 'HD', flags: flags.has('c') ? [`c${item.cas}`] : [] }
  }

  #delete(key: string, flags: Map<string, string>): MetaReply {
    const item = this.#live(key)
    if (item === undefined) return { status: 'NF', flags: [] }
    const cas = flags.get('C')
    if (cas !== undefined && String(item.cas) !== cas) return { status: 'EX', flags: [] }
    this.#remove(key)
    return { status: 'HD', flags: [] }
  }

  #arithmetic(key: string, flags: Map<string, string>): MetaReply {
    const item = this.#live(key)
    let digits: string
    if (item === undefined) {
      const vivify = flags.get('N')
      if (vivify === undefined) return { status: 'NF', flags: [] }
      digits = String(BigInt(flags.get('J') ?? '0'))
      this.#store(key, {
        value: Buffer.from(digits),
        flags: 0,
        cas: 0,
        expires: expiry(Number(vivify)),
        size: itemOverhead + keyBytes(key, flags) + 1 + digits.length + 2,
      })
    } else {
      const current = parseCounter(item.value)
      if (current === undefined) return nonNumeric
      const delta = BigInt(flags.get('D') ?? '1')
      const mode = flags.get('M') ?? 'I'
      const next =
        mode === 'D' || mode === '-' ? (current > delta ? current - delta : 0n) : (current + delta) % u64
      digits = String(next)
      // Like memcached's in-place update: a shorter number keeps the item's length, padded with spaces.
      const value = Buffer.from(digits.padEnd(item.value.length, ' '))
      this.#store(key, { ...item, value, size: item.size - item.value.length + value.length })
    }
    return flags.has('v')
      ? { status: 'VA', flags: [], value: Buffer.from(digits) }
      : { status: 'HD', flags: [] }
  }

  /** The item under `key` unless it expired (then it is dropped), moved to the most recently used end. */
  #live(key: string): Item | undefined {
    const item = this.#items.get(key)
    if (item === undefined) return undefined
    if (item.expires !== 0 && item.expires <= now()) {
      this.#remove(key)
      return undefined
    }
    this.#items.delete(key)
    this.#items.set(key, item)
    return item
  }

  #store(key: string, item: Item): Item {
    this.#remove(key)
    item.cas = ++this.#cas
    this.#items.set(key, item)
    this.#bytes += item.size
    const { maxBytes, maxItems } = this.#limits
    for (const [oldest] of this.#items) {
      if (this.#bytes <= maxBytes && this.#items.size <= maxItems) break
      if (oldest === key) break
      this.#remove(oldest)
    }
    return item
  }

  #remove(key: string): void {
    const item = this.#items.get(key)
    if (item === undefined) return
    this.#items.delete(key)
    this.#bytes -= item.size
  }
}

function now(): number {
  return clock().now()
}

/** When an item stored with TTL token `ttl` expires (memcached's rules: 0 never, over 30 days absolute). */
function expiry(ttl: number): number {
  if (ttl === 0) return 0
  if (ttl < 0) return now() // already expired
  return ttl > maxRelativeTtl ? ttl * 1000 : now() + ttl * 1000
}

function keyBytes(key: string, flags: Map<string, string>): number {
  return flags.has('b') ? Buffer.from(key, 'base64').length : Buffer.byteLength(key)
}

/** memcached's `safe_strtoull`: optional blanks and `+`, digits, then a blank or the end; at most 2^64 - 1. */
function parseCounter(value: Buffer): bigint | undefined {
  const match = /^\s*\+?(\d+)(?:\s|$)/.exec(value.toString('latin1'))
  if (match === null) return undefined
  const number = BigInt(match[1] as string)
  return number < u64 ? number : undefined
}

/** Flags by letter, in request order; undefined when one repeats (memcached refuses those). */
function parseFlags(tokens: readonly string[]): Map<string, string> | undefined {
  const flags = new Map<string, string>()
  for (const token of tokens) {
    const flag = token[0] as string
    if (flags.has(flag)) return undefined
    flags.set(flag, token.slice(1))
  }
  return flags
}
