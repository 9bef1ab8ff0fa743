import { BackendUnavailable } from '../../core/errors.ts'
import { checkCount, checkOptions } from '../../core/validate.ts'
import { clientSettings, ShardedMemcache } from './client.ts'
import { KetamaRing } from './ketama.ts'
import type { Memcache, MemcacheOptions, ShardState } from './memcache.ts'
import { type Batch, Shard, type Transport } from './shard.ts'
import { MemoryStore, type StoreLimits } from './store.ts'

/** Options of {@link embeddedMemcache}. */
export interface EmbeddedMemcacheOptions extends MemcacheOptions {
  /** How many in-process shards (named `embedded:0`, `embedded:1`, ...). Default 1. */
  shards?: number
  /** Bytes each shard holds before evicting the least recently used items (memcached's `-m`). Default 64 MiB. */
  maxBytes?: number
  /** Items each shard holds before evicting the least recently used. Default: no limit but `maxBytes`. */
  maxItems?: number
  /** The largest item, key and 56-byte header included (memcached's `-I`). Default 1 MiB. */
  maxItemBytes?: number
}

/**
 * The embedded default: `Memcache` over in-process shards, for development, tests, and running
 * with no memcached at all. It goes through the same client code as {@link memcacheClient} (ring,
 * per-turn batches, cancellation, time budgets, spans, stats); only the transport differs: each shard
 * is a store that executes the meta requests memcached would receive and gives memcached's replies,
 * with TTLs on weft's clock (so the virtual clock drives expiry) and a size bound with LRU eviction.
 * The same contract test suite runs against both.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { embeddedMemcache } from 'weft/memcache'
 * const cache = embeddedMemcache({ shards: 3 })
 * await cache.set('greeting', 'hello', { ttl: 60 })
 * assert.equal((await cache.get('greeting'))?.toString(), 'hello')
 * assert.equal(await cache.incr('visits', 1, { initial: 1 }), 1n)
 * assert.equal(await cache.incr('visits'), 2n)
 * await cache.close()
 * ```
 */
export function embeddedMemcache(options: EmbeddedMemcacheOptions = {}): Memcache {
  const where = 'embeddedMemcache()'
  checkOptions(where, options)
  const settings = clientSettings(where, options)
  const { shards = 1, maxBytes = 64 * 2 ** 20, maxItems = Infinity, maxItemBytes = 2 ** 20 } = options
  checkCount(where, 'options.shards', shards, 1)
  checkCount(where, 'options.maxBytes', maxBytes, 1)
  checkCount(where, 'options.maxItems', maxItems, 1, true)
  checkCount(where, 'options.maxItemBytes', maxItemBytes, 1)
  const limits = { maxBytes, maxItems, maxItemBytes }
  const ring = new KetamaRing(Array.from({ length: shards }, (_, i) => `embedded:${i}`))
  return new ShardedMemcache(
    ring,
    ring.servers.map((address) => new Shard(new EmbeddedTransport(address, limits))),
    settings,
  )
}

/** An in-process shard: each batch is executed on its store as soon as it is flushed. */
class EmbeddedTransport implements Transport {
  readonly address: string
  readonly #store: MemoryStore
  #state: ShardState = 'up'

  constructor(address: string, limits: StoreLimits) {
    this.address = address
    this.#store = new MemoryStore(limits)
  }

  get state(): ShardState {
    return this.#state
  }

  unavailable(): BackendUnavailable | undefined {
    if (this.#state !== 'closed') return undefined
    return new BackendUnavailable('the client is closed', { backend: 'memcache', address: this.address })
  }

  send(batch: Batch): void {
    let written = 0
    for (const request of batch.requests) {
      written += request.value?.length ?? 0
      const reply = this.#store.execute(request)
      batch.reply(reply, reply.value?.length ?? 0)
    }
    batch.wrote(written)
    batch.end(0)
  }

  async close(): Promise<void> {
    this.#state = 'closed'
  }
}
