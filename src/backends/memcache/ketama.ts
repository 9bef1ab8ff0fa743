import { md5 } from 'js-md5'

/** A server on the ring: its `host:port` and its relative weight. */
export interface RingServer {
  readonly address: string
  readonly weight: number
}

/**
 * A ketama continuum (libketama's consistent hashing, which most memcached clients implement), so
 * keys land on the same servers as with those clients, and adding a fourth server to three moves
 * about a quarter of the keys instead of three quarters.
 *
 * Each server gets 40 MD5 digests of `"<host:port>-<i>"`, four 32-bit points per digest (160 points);
 * with unequal weights, `floor(weight / total * 40 * servers)` digests. A key goes to the first point
 * at or after the little-endian first word of its own MD5, wrapping around.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { KetamaRing } from 'weft/memcache'
 * const ring = new KetamaRing(['10.0.0.1:11211', '10.0.0.2:11211', '10.0.0.3:11211'])
 * assert.equal(ring.locate('user:42'), ring.locate('user:42'))
 * assert.ok(ring.servers.includes(ring.locate('user:42')))
 * ```
 */
export class KetamaRing {
  /** The servers' addresses, in the order given. */
  readonly servers: readonly string[]
  readonly #points: Uint32Array
  /** Index into `servers` of the owner of each point, parallel to `#points`. */
  readonly #owners: Uint16Array

  constructor(servers: readonly (string | RingServer)[]) {
    const list = servers.map((server) =>
      typeof server === 'string' ? { address: server, weight: 1 } : server,
    )
    if (list.length === 0) throw new TypeError('KetamaRing: at least one server is needed')
    if (list.length > 0xffff) throw new TypeError('KetamaRing: at most 65535 servers')
    this.servers = list.map((server) => server.address)
    const entries: [point: number, owner: number][] = []
    const total = list.reduce((sum, server) => sum + server.weight, 0)
    const equal = list.every((server) => server.weight === list[0]?.weight)
    list.forEach((server, owner) => {
      for (let i = 0; i < digestsFor(server.weight, total, list.length, equal); i++) {
        const digest = md5.array(`${server.address}-${i}`)
        for (let word = 0; word < 4; word++) entries.push([littleEndian(digest, word * 4), owner])
      }
    })
    // Equal points are rare (1 in 2^32 per pair); ordering them by owner keeps the ring independent
    // of the order the servers were listed in.
    entries.sort((a, b) => a[0] - b[0] || compare(this.servers[a[1]], this.servers[b[1]]))
    this.#points = Uint32Array.from(entries, (entry) => entry[0])
    this.#owners = Uint16Array.from(entries, (entry) => entry[1])
  }

  /** The address of the server `key` belongs to. */
  locate(key: string): string {
    return this.servers[this.indexOf(key)] as string
  }

  /** The index into {@link servers} of the server `key` belongs to. */
  indexOf(key: string): number {
    return this.#owners[this.#search(hashKey(key))] as number
  }

  /** First point at or after `hash`, wrapping to the start of the ring. */
  #search(hash: number): number {
    const points = this.#points
    let low = 0
    let high = points.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if ((points[middle] as number) < hash) low = middle + 1
      else high = middle
    }
    return low === points.length ? 0 : low
  }
}

/**
 * The ketama hash of a key: the first four bytes of its MD5, little-endian.
 *
 * Every memcache call hashes its key, so the digest comes from js-md5 (pure JavaScript) rather than
 * from node:crypto, whose call into OpenSSL and Buffer for the answer cost about 1.3 µs for a short
 * key against about 0.4 (`crypto.hash` was 8% of a search's CPU in the service).
 */
export function hashKey(key: string): number {
  return littleEndian(md5.array(key), 0)
}

/** The 32-bit little-endian word at `offset` of a digest's bytes. */
function littleEndian(bytes: readonly number[], offset: number): number {
  return (
    ((bytes[offset] as number) |
      ((bytes[offset + 1] as number) << 8) |
      ((bytes[offset + 2] as number) << 16) |
      ((bytes[offset + 3] as number) << 24)) >>>
    0
  )
}

function digestsFor(weight: number, total: number, servers: number, equal: boolean): number {
  if (equal) return 40
  // libketama computes the share in single precision; Math.fround reproduces its rounding, so
  // weighted rings match it point for point. The epsilon (libmemcached's) keeps an exact share
  // such as 1/3 * 120 from flooring to 39.
  const share = Math.fround(Math.fround(weight) / Math.fround(total))
  return Math.floor(share * 40 * servers + 1e-10)
}

function compare(a: string | undefined, b: string | undefined): number {
  return a === b ? 0 : (a ?? '') < (b ?? '') ? -1 : 1
}
