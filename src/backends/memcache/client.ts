import { clock } from '../../core/clock.ts'
import { msUntil } from '../../core/context.ts'
import { BackendUnavailable, isAbort } from '../../core/errors.ts'
import { ambient, type Node } from '../../core/node.ts'
import { checkDuration, checkOptions, checkSignal, describe } from '../../core/validate.ts'
import type { Span } from '../../trace/span.ts'
import {
  type Command,
  counterCommand,
  deleteCommand,
  getCommand,
  getsCommand,
  type MemcacheItem,
  type StoreMode,
  storeCommand,
  touchCommand,
} from './commands.ts'
import type { KetamaRing } from './ketama.ts'
import { type KeyEncoding, type WireKey, wireKey } from './keys.ts'
import type {
  CallOptions,
  CounterOptions,
  Memcache,
  MemcacheOptions,
  MemcacheShardStats,
  MemcacheValue,
  StoreOptions,
} from './memcache.ts'
import { type CallBudget, endCallSpan, type Shard, type SpanEnd } from './shard.ts'

const maxU64 = 2n ** 64n - 1n
const maxFlags = 0xffff_ffff

/** The options both clients share, checked, with their defaults. */
export interface ClientSettings {
  readonly timeout: number
  readonly keyEncoding: KeyEncoding
}

/** Checks the options `memcacheClient` and `embeddedMemcache` share; `where` names the factory. */
export function clientSettings(where: string, options: MemcacheOptions): ClientSettings {
  const { timeout = 1000, keyEncoding = 'text' } = options
  checkDuration(where, 'options.timeout', timeout)
  if (timeout === 0) throw new TypeError(`${where}: options.timeout must be more than 0 ms, got 0`)
  if (keyEncoding !== 'text' && keyEncoding !== 'base64') {
    throw new TypeError(
      `${where}: options.keyEncoding must be 'text' or 'base64', got ${describe(keyEncoding)}`,
    )
  }
  return { timeout, keyEncoding }
}

/**
 * The `Memcache` implementation both clients share: argument checks, the ring, time budgets, spans.
 * Only the shards' transports differ (sockets to memcached, or in-process stores), so the real and
 * the embedded client cannot drift apart in anything but the store itself.
 */
export class ShardedMemcache implements Memcache {
  readonly #ring: KetamaRing
  readonly #shards: readonly Shard[]
  readonly #settings: ClientSettings
  #closing: Promise<void> | undefined

  constructor(ring: KetamaRing, shards: readonly Shard[], settings: ClientSettings) {
    this.#ring = ring
    this.#shards = shards
    this.#settings = settings
  }

  get servers(): readonly string[] {
    return this.#ring.servers
  }

  serverFor(key: string): string {
    return this.#shardOf(wireKey('memcache.serverFor()', key, this.#settings.keyEncoding)).address
  }

  get(key: string, options?: CallOptions): Promise<Buffer | undefined> {
    return this.#call('get', key, options, getCommand, hitAttributes)
  }

  gets(key: string, options?: CallOptions): Promise<MemcacheItem | undefined> {
    return this.#call('gets', key, options, getsCommand, hitAttributes)
  }

  getJson<T = unknown>(key: string, options?: CallOptions): Promise<T | undefined> {
    return this.#call('getJson', key, options, getCommand, hitAttributes).then((value) => {
      if (value === undefined) return undefined
      try {
        return JSON.parse(value.toString()) as T
      } catch (error) {
        throw new SyntaxError(`memcache.getJson(): the value is not JSON (${(error as Error).message})`, {
          cause: error,
        })
      }
    })
  }

  getMulti(keys: Iterable<string>, options?: CallOptions): Promise<Map<string, Buffer>> {
    const where = 'memcache.getMulti()'
    if (
      typeof keys === 'string' ||
      typeof (keys as Iterable<string> | null)?.[Symbol.iterator] !== 'function'
    ) {
      throw new TypeError(
        `${where}: keys must be an iterable of strings (an array, a Set), got ${describe(keys)}`,
      )
    }
    const wires = Array.from(keys, (key) => wireKey(where, key, this.#settings.keyEncoding))
    const caller = ambient.getStore()
    const now = startOfCall(caller)
    const budget = this.#budget(where, options, caller, now)
    const shards = wires.map((wire) => this.#shardOf(wire))
    const span = clientSpan(caller, 'getMulti', undefined, now)
    span?.setAttribute('memcache.keys', wires.length)
    span?.setAttribute('memcache.shards', [...new Set(shards.map((shard) => shard.address))])
    const shared = { ...budget, span }
    const calls = wires.map((wire, i) => this.#send(shards[i] as Shard, getCommand(wire), shared))
    const found = Promise.all(calls).then((values) => {
      const map = new Map<string, Buffer>()
      values.forEach((value, i) => {
        if (value !== undefined) map.set((wires[i] as WireKey).key, value)
      })
      span?.setAttribute('memcache.hits', map.size)
      span?.setAttribute('memcache.misses', new Set(wires.map((wire) => wire.key)).size - map.size)
      return map
    })
    return span === undefined ? found : traced(found, span)
  }

  set(key: string, value: MemcacheValue, options?: StoreOptions): Promise<void> {
    return this.#store('set', key, value, 'S', options).then(() => undefined)
  }

  setJson(key: string, value: unknown, options?: StoreOptions): Promise<void> {
    const text = JSON.stringify(value)
    if (text === undefined) throw new TypeError(`memcache.setJson(): ${describe(value)} has no JSON form`)
    return this.#store('setJson', key, text, 'S', options).then(() => undefined)
  }

  add(key: string, value: MemcacheValue, options?: StoreOptions): Promise<boolean> {
    return this.#store('add', key, value, 'E', options)
  }

  replace(key: string, value: MemcacheValue, options?: StoreOptions): Promise<boolean> {
    return this.#store('replace', key, value, 'R', options)
  }

  cas(key: string, value: MemcacheValue, cas: bigint, options?: StoreOptions): Promise<boolean> {
    if (typeof cas !== 'bigint' || cas < 1n || cas > maxU64) {
      throw new TypeError(
        `memcache.cas(): cas must be the bigint token returned by gets(), got ${describe(cas)}`,
      )
    }
    return this.#store('cas', key, value, 'S', options, cas)
  }

  incr(key: string, delta: number | bigint = 1, options?: CounterOptions): Promise<bigint | undefined> {
    return this.#counter('incr', key, delta, options)
  }

  decr(key: string, delta: number | bigint = 1, options?: CounterOptions): Promise<bigint | undefined> {
    return this.#counter('decr', key, delta, options)
  }

  delete(key: string, options?: CallOptions): Promise<boolean> {
    return this.#call('delete', key, options, deleteCommand)
  }

  touch(key: string, ttl: number, options?: CallOptions): Promise<boolean> {
    checkTtl('memcache.touch()', 'ttl', ttl)
    return this.#call('touch', key, options, (wire) => touchCommand(wire, ttl), hitAttributes)
  }

  stats(): MemcacheShardStats[] {
    return this.#shards.map((shard) => shard.stats())
  }

  close(): Promise<void> {
    this.#closing ??= Promise.all(this.#shards.map((shard) => shard.close())).then(() => undefined)
    return this.#closing
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  #store(
    method: string,
    key: string,
    value: MemcacheValue,
    mode: StoreMode,
    options: StoreOptions | undefined,
    cas?: bigint,
  ): Promise<boolean> {
    const where = `memcache.${method}()`
    const data = toBuffer(where, value)
    checkOptions(where, options)
    const { ttl = 0, flags = 0 } = options ?? {}
    checkTtl(where, 'options.ttl', ttl)
    if (!Number.isInteger(flags) || flags < 0 || flags > maxFlags) {
      throw new TypeError(
        `${where}: options.flags must be a whole number from 0 to 2^32 - 1, got ${describe(flags)}`,
      )
    }
    const settings = cas === undefined ? { mode, ttl, flags } : { mode, ttl, flags, cas }
    return this.#call(
      method,
      key,
      options,
      (wire) => storeCommand(method, wire, data, settings),
      (span) => span.setAttribute('memcache.bytes', data.length),
    )
  }

  #counter(
    method: 'incr' | 'decr',
    key: string,
    delta: number | bigint,
    options: CounterOptions | undefined,
  ): Promise<bigint | undefined> {
    const where = `memcache.${method}()`
    const by = toU64(where, 'delta', delta)
    checkOptions(where, options)
    const { initial, ttl } = options ?? {}
    if (ttl !== undefined) {
      checkTtl(where, 'options.ttl', ttl)
      if (initial === undefined) {
        throw new TypeError(
          `${where}: options.ttl is the TTL of a counter this call creates: give options.initial too`,
        )
      }
    }
    const settings =
      initial === undefined
        ? { delta: by, ttl: 0 }
        : { delta: by, ttl: ttl ?? 0, initial: toU64(where, 'options.initial', initial) }
    return this.#call(method, key, options, (wire) => counterCommand(method, wire, settings))
  }

  /**
   * Checks the key and options, opens the call's span, and sends the command to the key's shard,
   * which ends the span when the call settles (`annotate` adds what the result says to it first).
   */
  #call<T>(
    method: string,
    key: string,
    options: CallOptions | undefined,
    build: (wire: WireKey) => Command<T>,
    annotate: SpanEnd = noAnnotation,
  ): Promise<T> {
    const where = `memcache.${method}()`
    const wire = wireKey(where, key, this.#settings.keyEncoding)
    // The ambient node looked up once, for the call's cancellation, deadline and span.
    const caller = ambient.getStore()
    const now = startOfCall(caller)
    // Taken apart rather than spread into the call's budget: the compiler then makes no object of it.
    const { canceller, timeout, deadline } = this.#budget(where, options, caller, now)
    const shard = this.#shardOf(wire)
    const span = clientSpan(caller, method, shard.address, now)
    return this.#send(shard, build(wire), { canceller, timeout, deadline, span, endSpan: annotate })
  }

  #send<T>(shard: Shard, command: Command<T>, budget: CallBudget): Promise<T> {
    if (this.#closing !== undefined) {
      const error = new BackendUnavailable('the client is closed', {
        backend: 'memcache',
        address: shard.address,
      })
      endCallSpan(budget, false, error)
      return Promise.reject(error)
    }
    return shard.call(command, budget)
  }

  /**
   * The call's canceller and time budget: the explicit signal, else the `caller` (the ambient task or
   * scope); the caller's deadline caps the timeout (`now`: the clock's reading, if taken already).
   */
  #budget(
    where: string,
    options: CallOptions | undefined,
    caller: Node | undefined,
    now: number | undefined,
  ): Omit<CallBudget, 'span'> {
    checkOptions(where, options)
    const { signal, timeout = this.#settings.timeout } = options ?? {}
    if (signal !== undefined) checkSignal(where, 'options.signal', signal)
    checkDuration(where, 'options.timeout', timeout)
    const canceller = signal ?? caller
    const deadline = caller?.deadline
    const left = msUntil(deadline, now)
    return left < timeout
      ? { canceller, timeout: left, deadline }
      : { canceller, timeout, deadline: undefined }
  }

  #shardOf(wire: WireKey): Shard {
    return this.#shards[this.#ring.indexOf(wire.key)] as Shard
  }
}

/**
 * The clock's reading for a call of `caller` when its request is traced, for its span's start and its
 * deadline both (one read rather than two); undefined otherwise, when the deadline alone reads it.
 */
function startOfCall(caller: Node | undefined): number | undefined {
  return caller?.span === undefined ? undefined : clock().now()
}

/**
 * The span of one call of `caller`, when its request is traced (attributes are only built then),
 * started at `start` (now, if not given).
 */
function clientSpan(
  caller: Node | undefined,
  method: string,
  address?: string,
  start?: number,
): Span | undefined {
  return caller?.span
    ?.child(`memcache.${method}`, 'client', start)
    .adoptAttributes(
      address === undefined
        ? { 'db.system': 'memcached', 'db.operation.name': method }
        : { 'db.system': 'memcached', 'db.operation.name': method, 'server.address': address },
    )
}

function noAnnotation(): void {}

function hitAttributes(span: Span, result: unknown): void {
  // Stores by name, not `setAttribute(key, value)`: a store by a key only known at run time is a
  // megamorphic keyed store (a dictionary-like lookup) wherever it is not inlined.
  const { attributes } = span
  attributes['memcache.hit'] = result !== undefined && result !== false
  const item = typeof result === 'object' && result !== null && 'value' in result ? result.value : result
  if (Buffer.isBuffer(item)) attributes['memcache.bytes'] = item.length
}

/** Finishes `span` (shared by the calls of a getMulti) with the outcome of them all. */
function traced<T>(promise: Promise<T>, span: Span): Promise<T> {
  return promise.then(
    (result) => {
      span.finish('ok')
      return result
    },
    (error: unknown) => {
      span.finish(isAbort(error) ? 'cancelled' : 'error', error)
      throw error
    },
  )
}

/** The value's bytes. A Uint8Array is used as it is, not copied: leave it unchanged until the call settles. */
function toBuffer(where: string, value: unknown): Buffer {
  if (typeof value === 'string') return Buffer.from(value)
  if (value instanceof Uint8Array) {
    return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  }
  throw new TypeError(`${where}: value must be a string or a Uint8Array (a Buffer), got ${describe(value)}`)
}

function checkTtl(where: string, what: string, ttl: unknown): asserts ttl is number {
  if (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl < 0) {
    throw new TypeError(
      `${where}: ${what} must be a whole number of seconds, 0 or more, got ${describe(ttl)}`,
    )
  }
}

function toU64(where: string, what: string, value: unknown): bigint {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value)
  if (typeof value === 'bigint' && value >= 0n && value <= maxU64) return value
  throw new TypeError(
    `${where}: ${what} must be a whole number from 0 to 2^64 - 1 (a number or a bigint), got ${describe(value)}`,
  )
}
