/**
 * What a span says about the backend work it stands for, read from the attributes weft's adapters
 * record (OpenTelemetry's names where they exist, weft's own otherwise): which backend, which shard
 * or server, how big a batch, cache hits and misses, and how it ended. The waterfall page shows
 * these next to each bar; the span's full attributes go in its tooltip.
 */
import type { AttributeValue, SpanData } from 'weft'

/** One fact about a span, as a short label; `kind` lets the page style it. */
export interface Detail {
  kind: 'backend' | 'shard' | 'batch' | 'keys' | 'cache' | 'cancelled' | 'error'
  text: string
}

/** The facts worth a glance, in a fixed order: backend, shard, batch, keys, cache, then the outcome. */
export function spanDetails(span: SpanData): Detail[] {
  const a = span.attributes
  const details: Detail[] = []
  const add = (kind: Detail['kind'], text: string | undefined): void => {
    if (text !== undefined && text !== '') details.push({ kind, text })
  }
  add('backend', backendOf(a))
  add('shard', list(a['memcache.shards']) ?? text(a['server.address']))
  const batch = a['memcache.batch.size'] ?? a['db.operation.batch.size']
  if (batch !== undefined) add('batch', `batch of ${batch}`)
  if (a['batch.keys'] !== undefined) {
    const loads = a['batch.loads'] === undefined ? '' : ` from ${a['batch.loads']} loads`
    add('keys', `${a['batch.keys']} keys${loads}`)
  } else if (a['memcache.keys'] !== undefined) add('keys', `${a['memcache.keys']} keys`)
  add('cache', cacheOf(a))
  if (span.status === 'cancelled')
    add('cancelled', span.error === undefined ? 'cancelled' : `cancelled: ${span.error}`)
  if (span.status === 'error') add('error', span.error ?? 'failed')
  return details
}

function backendOf(a: Readonly<Record<string, AttributeValue>>): string | undefined {
  if (a['rpc.service'] !== undefined) return `rpc ${text(a['rpc.service'])}`
  if (a['queue.backend'] !== undefined) return `queue on ${text(a['queue.backend'])}`
  const system = text(a['db.system'])
  const engine = text(a['weft.backend'])
  if (system !== undefined && engine !== undefined && engine !== system) return `${system} (${engine})`
  return system ?? engine
}

/** Hits and misses, from whichever counters the span has: one lookup's hit, a batch's counts, a cache's outcome. */
function cacheOf(a: Readonly<Record<string, AttributeValue>>): string | undefined {
  if (typeof a['memcache.hit'] === 'boolean') return a['memcache.hit'] ? 'hit' : 'miss'
  if (a['cache.outcome'] !== undefined) return text(a['cache.outcome'])
  for (const prefix of ['memcache', 'db']) {
    const hits = a[`${prefix}.hits`]
    const misses = a[`${prefix}.misses`]
    if (typeof hits === 'number' && typeof misses === 'number') {
      return `${plural(hits, 'hit')}, ${plural(misses, 'miss', 'misses')}`
    }
  }
  return undefined
}

function text(value: AttributeValue | undefined): string | undefined {
  return value === undefined ? undefined : Array.isArray(value) ? value.join(', ') : String(value)
}

function list(value: AttributeValue | undefined): string | undefined {
  return Array.isArray(value) && value.length > 0 ? value.join(', ') : undefined
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`
}

/** Every attribute as `key: value` lines, then the error: the span's tooltip. */
export function spanTooltip(span: SpanData): string {
  const lines = [`${span.name} (${span.kind}, ${span.status})`]
  for (const [key, value] of Object.entries(span.attributes)) lines.push(`${key}: ${text(value)}`)
  if (span.error !== undefined) lines.push(`error: ${span.error}`)
  return lines.join('\n')
}
