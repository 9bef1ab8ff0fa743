import { clock } from '../../core/clock.ts'
import { ReplyError } from './errors.ts'
import { scripts } from './scripts.ts'
import type { Wire } from './transport.ts'

type Value = string | Map<string, string>

interface Entry {
  value: Value
  /** Epoch ms of the active clock; undefined when the key never expires. */
  expiresAt: number | undefined
}

const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value'
const NOT_AN_INTEGER = 'ERR value is not an integer or out of range'
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
/** Keys with an expiry examined per write: expired keys nobody reads are reclaimed in amortised O(1). */
const SWEEP_PER_WRITE = 2

/**
 * An in-process Redis for the commands weft sends, with the server's semantics: types (`WRONGTYPE`),
 * 64-bit integers, expiry on weft's `clock()` (so the virtual clock moves it), a hash deleted with
 * its last field, `MGET` answering nil for a key of another type, and the server's error messages.
 * It takes and returns what the wire carries: command names and string arguments in, RESP-shaped
 * replies (strings, integers, nil as null, arrays) out, errors as {@link ReplyError}.
 */
export class EmbeddedServer {
  readonly #keys = new Map<string, Entry>()
  readonly #expiring = new Set<string>()
  #sweeper: Iterator<string> = this.#expiring.values()

  /** Runs one command and returns its reply; throws a {@link ReplyError} where the server answers an error. */
  execute(wire: Wire): unknown {
    const [name = '', ...args] = wire
    const arg = (index: number): string => {
      const value = args[index]
      if (value === undefined) throw new ReplyError(`ERR wrong number of arguments for '${name}' command`)
      return value
    }
    switch (name.toLowerCase()) {
      case 'ping':
        return 'PONG'
      case 'dbsize': // keys held, expired ones not yet reclaimed included, as the server counts them
        return this.#keys.size
      case 'get':
        return this.#string(arg(0)) ?? null
      case 'mget':
        arg(0)
        return args.map((key) => {
          const value = this.#entry(key)?.value
          return typeof value === 'string' ? value : null
        })
      case 'set':
        return this.#set(arg(0), arg(1), args.slice(2))
      case 'del':
        arg(0)
        return args.reduce((count, key) => count + (this.#delete(key) ? 1 : 0), 0)
      case 'incrby':
        return this.#incrby(arg(0), arg(1))
      case 'pexpire':
        return this.#pexpire(arg(0), arg(1))
      case 'pttl':
        return this.#pttl(arg(0))
      case 'hget':
        return this.#hash(arg(0))?.get(arg(1)) ?? null
      case 'hset':
        if (args.length < 3 || args.length % 2 === 0) arg(args.length) // wrong number of arguments
        return this.#hset(arg(0), args.slice(1))
      case 'hgetall':
        return [...(this.#hash(arg(0)) ?? [])].flat()
      case 'hdel':
        arg(1)
        return this.#hdel(arg(0), args.slice(1))
      case 'eval':
        return this.#eval(arg(0), arg(1), args.slice(2))
      default:
        throw new ReplyError(`ERR unknown command '${name}'`)
    }
  }

  /** The live entry at `key`; an expired one is deleted on the way (lazy expiry, as the server does). */
  #entry(key: string): Entry | undefined {
    const entry = this.#keys.get(key)
    if (entry?.expiresAt !== undefined && entry.expiresAt <= clock().now()) {
      this.#delete(key)
      return undefined
    }
    return entry
  }

  #string(key: string): string | undefined {
    const value = this.#entry(key)?.value
    if (value !== undefined && typeof value !== 'string') throw new ReplyError(WRONGTYPE)
    return value
  }

  #hash(key: string): Map<string, string> | undefined {
    const value = this.#entry(key)?.value
    if (typeof value === 'string') throw new ReplyError(WRONGTYPE)
    return value
  }

  #delete(key: string): boolean {
    this.#expiring.delete(key)
    return this.#keys.delete(key)
  }

  #write(key: string, value: Value, expiresAt: number | undefined): void {
    this.#keys.set(key, { value, expiresAt })
    if (expiresAt === undefined) this.#expiring.delete(key)
    else this.#expiring.add(key)
    this.#sweep()
  }

  #set(key: string, value: string, options: string[]): 'OK' | null {
    let px: number | undefined
    let condition: 'nx' | 'xx' | undefined
    for (let i = 0; i < options.length; i++) {
      const option = options[i]?.toLowerCase()
      if (option === 'px') {
        px = integer(options[++i] ?? '')
        if (px <= 0) throw new ReplyError("ERR invalid expire time in 'set' command")
      } else if ((option === 'nx' || option === 'xx') && (condition === undefined || condition === option)) {
        condition = option
      } else {
        throw new ReplyError('ERR syntax error')
      }
    }
    const exists = this.#entry(key) !== undefined
    if ((condition === 'nx' && exists) || (condition === 'xx' && !exists)) return null
    this.#write(key, value, px === undefined ? undefined : clock().now() + px)
    return 'OK'
  }

  #incrby(key: string, by: string): number {
    const increment = int64(by)
    const entry = this.#entry(key)
    const current = this.#string(key)
    const sum = (current === undefined ? 0n : int64(current)) + increment
    if (sum < INT64_MIN || sum > INT64_MAX) throw new ReplyError('ERR increment or decrement would overflow')
    this.#write(key, String(sum), entry?.expiresAt) // INCRBY keeps the expiry
    return Number(sum)
  }

  #pexpire(key: string, ms: string): number {
    const delay = integer(ms)
    const entry = this.#entry(key)
    if (entry === undefined) return 0
    if (delay <= 0) this.#delete(key)
    else this.#write(key, entry.value, clock().now() + delay)
    return 1
  }

  #pttl(key: string): number {
    const entry = this.#entry(key)
    if (entry === undefined) return -2
    return entry.expiresAt === undefined ? -1 : Math.ceil(entry.expiresAt - clock().now())
  }

  #hset(key: string, pairs: string[]): number {
    const entry = this.#entry(key)
    const hash = this.#hash(key) ?? new Map<string, string>()
    let added = 0
    for (let i = 0; i < pairs.length; i += 2) {
      const field = pairs[i] as string
      if (!hash.has(field)) added++
      hash.set(field, pairs[i + 1] as string)
    }
    this.#write(key, hash, entry?.expiresAt)
    return added
  }

  #hdel(key: string, fields: string[]): number {
    const hash = this.#hash(key)
    if (hash === undefined) return 0
    const removed = fields.reduce((count, field) => count + (hash.delete(field) ? 1 : 0), 0)
    if (hash.size === 0) this.#delete(key)
    return removed
  }

  #eval(lua: string, keyCount: string, rest: string[]): unknown {
    const script = scripts.get(lua)
    if (script === undefined) throw new ReplyError("ERR the embedded redis runs only weft's own scripts")
    const count = integer(keyCount)
    if (count < 0 || count > rest.length)
      throw new ReplyError("ERR Number of keys can't be greater than number of args")
    return script.embedded((...wire) => this.execute(wire), rest.slice(0, count), rest.slice(count))
  }

  /** Active expiry: examines a few keys with an expiry, round-robin, deleting those that expired. */
  #sweep(): void {
    for (let i = 0; i < SWEEP_PER_WRITE; i++) {
      let next = this.#sweeper.next()
      if (next.done === true) {
        this.#sweeper = this.#expiring.values()
        next = this.#sweeper.next()
        if (next.done === true) return
      }
      this.#entry(next.value)
    }
  }
}

/** A 64-bit signed integer written as the server writes it (no sign on 0, no leading zeros). */
function int64(text: string): bigint {
  if (!/^(0|-?[1-9]\d{0,18})$/.test(text)) throw new ReplyError(NOT_AN_INTEGER)
  const value = BigInt(text)
  if (value < INT64_MIN || value > INT64_MAX) throw new ReplyError(NOT_AN_INTEGER)
  return value
}

function integer(text: string): number {
  return Number(int64(text))
}
