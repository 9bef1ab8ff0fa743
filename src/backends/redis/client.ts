import { checkCount, checkDuration, checkOptions, checkString, describe } from '../../core/validate.ts'
import { AutoPipeline, type Operation } from './pipeline.ts'
import type { IncrOptions, Redis, SetOptions } from './redis.ts'
import {
  annotateMany,
  annotateOne,
  flag,
  integer,
  optionalString,
  optionalStrings,
  pong,
  record,
  timeToLive,
  written,
} from './replies.ts'
import { incrWithExpiry } from './scripts.ts'
import type { Transport } from './transport.ts'

/** The names of {@link RedisClientOptions}. */
export const clientOptions: readonly string[] = ['keyPrefix', 'timeout']

/** Options every Redis client takes, real or embedded. */
export interface RedisClientOptions {
  /** Put before every key, so that applications (or tests) sharing a server keep apart. Default `''`. */
  keyPrefix?: string
  /**
   * The most one call may take, in ms, from the call to the reply, before it fails with
   * `BackendTimeout` (Infinity: no limit). The ambient deadline applies as well, whichever comes first.
   * Default 1000.
   */
  timeout?: number
}

const DEFAULT_TIMEOUT = 1000

/**
 * Checks that `options` is an object (or undefined) holding only `known` options: a misspelt option
 * would otherwise be silently ignored.
 */
export function checkKnownOptions(where: string, options: unknown, known: readonly string[]): void {
  checkOptions(where, options)
  for (const option of Object.keys(options ?? {})) {
    if (!known.includes(option)) {
      throw new TypeError(`${where}: unknown option "${option}" (the options are ${known.join(', ')})`)
    }
  }
}

/**
 * The {@link Redis} methods over a {@link Transport}: checks the arguments, prefixes the keys, builds
 * each command and decodes its reply. What happens between the call and the reply (batching,
 * cancellation, time limits, spans) is the {@link AutoPipeline}'s.
 */
export class RedisClient implements Redis {
  readonly #pipeline: AutoPipeline
  readonly #prefix: string

  /**
   * `factory` names the function that made the client, in the TypeErrors about its options, and
   * `known` lists the options it takes; `connect` makes the transport, once they are known to be good.
   */
  constructor(factory: string, connect: () => Transport, options: RedisClientOptions, known = clientOptions) {
    checkKnownOptions(factory, options, known)
    const { keyPrefix = '', timeout = DEFAULT_TIMEOUT } = options
    checkString(factory, 'options.keyPrefix', keyPrefix)
    if (timeout !== Infinity) checkDuration(factory, 'options.timeout', timeout)
    this.#prefix = keyPrefix
    this.#pipeline = new AutoPipeline(connect(), timeout)
  }

  get address(): string {
    return this.#pipeline.transport.address
  }

  get(key: string): Promise<string | undefined> {
    return this.#run('get', ['get', this.#key('get', key)], optionalString, annotateOne)
  }

  mget(keys: readonly string[]): Promise<(string | undefined)[]> {
    const wire = ['mget', ...this.#keys('mget', 'keys', keys)]
    if (wire.length === 1) return Promise.resolve([])
    return this.#run('mget', wire, optionalStrings, annotateMany)
  }

  set(key: string, value: string, options: SetOptions = {}): Promise<boolean> {
    const wire = ['set', this.#key('set', key), this.#string('set', 'value', value)]
    checkKnownOptions('redis.set()', options, ['px', 'nx', 'xx'])
    const { px, nx = false, xx = false } = options
    if (px !== undefined) {
      checkCount('redis.set()', 'options.px', px, 1)
      wire.push('px', String(px))
    }
    if (nx && xx) throw new TypeError('redis.set(): give options.nx or options.xx, not both')
    if (nx) wire.push('nx')
    if (xx) wire.push('xx')
    return this.#run('set', wire, written)
  }

  del(...keys: string[]): Promise<number> {
    const wire = ['del', ...this.#keys('del', 'key', keys)]
    if (wire.length === 1) return Promise.resolve(0)
    return this.#run('del', wire, integer)
  }

  incr(key: string, options: IncrOptions = {}): Promise<number> {
    const prefixed = this.#key('incr', key)
    checkKnownOptions('redis.incr()', options, ['by', 'px'])
    const { by = 1, px } = options
    if (!Number.isSafeInteger(by)) {
      throw new TypeError(`redis.incr(): options.by must be a safe whole number, got ${describe(by)}`)
    }
    if (px === undefined) return this.#run('incr', ['incrby', prefixed, String(by)], integer)
    checkCount('redis.incr()', 'options.px', px, 1)
    return this.#run('incr', ['eval', incrWithExpiry.lua, '1', prefixed, String(by), String(px)], integer)
  }

  pexpire(key: string, ms: number): Promise<boolean> {
    const prefixed = this.#key('pexpire', key)
    checkCount('redis.pexpire()', 'ms', ms, 0)
    return this.#run('pexpire', ['pexpire', prefixed, String(ms)], flag)
  }

  pttl(key: string): Promise<number | undefined> {
    return this.#run('pttl', ['pttl', this.#key('pttl', key)], timeToLive)
  }

  hget(key: string, field: string): Promise<string | undefined> {
    const wire = ['hget', this.#key('hget', key), this.#string('hget', 'field', field)]
    return this.#run('hget', wire, optionalString, annotateOne)
  }

  hset(key: string, fields: Readonly<Record<string, string>>): Promise<number> {
    const wire = ['hset', this.#key('hset', key)]
    if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) {
      throw new TypeError(`redis.hset(): fields must be an object of strings, got ${describe(fields)}`)
    }
    for (const [field, value] of Object.entries(fields))
      wire.push(field, this.#string('hset', `fields.${field}`, value))
    if (wire.length === 2) return Promise.resolve(0)
    return this.#run('hset', wire, integer)
  }

  hgetall(key: string): Promise<Record<string, string>> {
    return this.#run('hgetall', ['hgetall', this.#key('hgetall', key)], record, annotateOne)
  }

  hdel(key: string, ...fields: string[]): Promise<number> {
    const wire = ['hdel', this.#key('hdel', key)]
    for (const field of fields) wire.push(this.#string('hdel', 'field', field))
    if (wire.length === 2) return Promise.resolve(0)
    return this.#run('hdel', wire, integer)
  }

  ping(): Promise<void> {
    return this.#run('ping', ['ping'], pong)
  }

  close(): Promise<void> {
    return this.#pipeline.close()
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  #run<T>(
    name: string,
    wire: string[],
    decode: (reply: unknown) => T,
    annotate?: Operation<T>['annotate'],
  ): Promise<T> {
    return this.#pipeline.run({ name, wire, decode, annotate })
  }

  #key(method: string, key: unknown): string {
    return this.#prefix + this.#string(method, 'key', key)
  }

  #keys(method: string, what: string, keys: unknown): string[] {
    if (!Array.isArray(keys))
      throw new TypeError(`redis.${method}(): ${what} must be an array of strings, got ${describe(keys)}`)
    return keys.map((key: unknown, index) => this.#prefix + this.#string(method, what, key, index))
  }

  /** `value`, checked to be a string: the argument `what` (its `index`th element, when given) of `method`. */
  #string(method: string, what: string, value: unknown, index?: number): string {
    // The names are put together only for the error: this runs for every key of every call.
    if (typeof value === 'string') return value
    checkString(`redis.${method}()`, index === undefined ? what : `${what}[${index}]`, value)
    return value
  }
}
