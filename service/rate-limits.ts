/**
 * The rate limiters: fixed-window request counters in memcache, one per subject (the client's
 * address, its network, its autonomous system, everyone), each on a shard of its own so that all are
 * counted at once, in parallel round trips. A request is counted by every limiter that applies to it,
 * and refused when any count goes over its limit.
 *
 * Placement: a limiter's key is tagged until consistent hashing puts it on the limiter's assigned
 * shard (limiter i on shard i modulo the shard count). With as many shards as limiters, each has its
 * own; the tag costs a few hash computations, no I/O.
 */
import type { IpNetwork } from './backend-calls.ts'
import type { LimiterName, RateLimits } from './config.ts'
import { limiterNames } from './config.ts'
import { parseIp } from './data/ip.ts'

/** How the limiters count. */
export interface RateLimitPolicy {
  readonly limits: RateLimits
  /** The window, in seconds. */
  readonly window: number
}

/** One limiter as it applies to one request. */
export interface Limiter {
  readonly name: LimiterName
  /** What it counts: the address, the network, the AS number, or `all`. */
  readonly subject: string
  readonly limit: number
}

/**
 * The limiters that apply to a request from `ip` (canonical form) in `network` (from the IP database;
 * undefined when unknown, and then no AS limiter applies). The network limiter counts the /24 of an
 * IPv4 address, the /64 of an IPv6 one.
 */
export function limitersFor(ip: string, network: IpNetwork | undefined, policy: RateLimitPolicy): Limiter[] {
  const subjects: Record<LimiterName, string | undefined> = {
    ip,
    network: networkPrefix(ip),
    asn: network === undefined ? undefined : `AS${network.asn}`,
    global: 'all',
  }
  return limiterNames.flatMap((name) => {
    const subject = subjects[name]
    return subject === undefined ? [] : [{ name, subject, limit: policy.limits[name] }]
  })
}

/** The window `now` (epoch ms) falls in, and the whole seconds until it ends (at least 1). */
export function windowAt(now: number, window: number): { index: number; retryAfter: number } {
  const seconds = now / 1000
  const index = Math.floor(seconds / window)
  return { index, retryAfter: Math.max(1, Math.ceil((index + 1) * window - seconds)) }
}

/**
 * The memcache key of `limiter`'s counter in window `index`, on `shard` (see the module comment):
 * `shardOf` is the memcache client's placement.
 */
export function counterKey(limiter: Limiter, index: number, shard: string, shardOf: (key: string) => string) {
  const base = `rl:${limiter.name}:${limiter.subject}:${index}`
  if (shardOf(base) === shard) return base
  // Each tag is a fresh draw of the hash: with n shards, the expected number of tries is n.
  for (let tag = 1; tag < 1000; tag++) {
    const key = `${base}:${tag}`
    if (shardOf(key) === shard) return key
  }
  return base
}

/** The shard assigned to the `position`-th limiter. */
export function shardFor(position: number, shards: readonly string[]): string {
  return shards[position % shards.length] as string
}

function networkPrefix(ip: string): string {
  const { version, address } = parseIp(ip)
  if (version === 4) return `${address.slice(0, address.lastIndexOf('.'))}.0/24`
  // The first four groups of the fully written-out address.
  const [head = '', tail = ''] = address.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === '' ? [] : tail.split(':')
  const groups = address.includes('::')
    ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
    : left
  return `${groups.slice(0, 4).join(':')}::/64`
}
