import type { Span } from '../../trace/span.ts'
import { UnexpectedReply } from './errors.ts'

/**
 * Decoders from raw replies (as ioredis or the embedded server hand them over) to the values the
 * `Redis` methods resolve with, and the span annotations of the reads. A reply of another shape throws
 * {@link UnexpectedReply}, which the caller sees as a `ProtocolError`.
 */

export function optionalString(reply: unknown): string | undefined {
  if (reply === null) return undefined
  if (typeof reply === 'string') return reply
  throw new UnexpectedReply(reply)
}

export function optionalStrings(reply: unknown): (string | undefined)[] {
  if (!Array.isArray(reply)) throw new UnexpectedReply(reply)
  return reply.map(optionalString)
}

export function integer(reply: unknown): number {
  if (typeof reply === 'number' && Number.isInteger(reply)) return reply
  throw new UnexpectedReply(reply)
}

/** An integer reply of 0 or 1. */
export function flag(reply: unknown): boolean {
  if (reply === 0 || reply === 1) return reply === 1
  throw new UnexpectedReply(reply)
}

/** `OK`, or nil when a condition (`NX`, `XX`) prevented the write. */
export function written(reply: unknown): boolean {
  if (reply === 'OK' || reply === null) return reply === 'OK'
  throw new UnexpectedReply(reply)
}

export function pong(reply: unknown): undefined {
  if (reply === 'PONG') return undefined
  throw new UnexpectedReply(reply)
}

/** `PTTL`: -2 (no key) becomes undefined, -1 (no expiry) Infinity. */
export function timeToLive(reply: unknown): number | undefined {
  const ms = integer(reply)
  if (ms === -2) return undefined
  return ms === -1 ? Infinity : ms
}

/** `HGETALL`: a flat `[field, value, ...]` array (RESP2) or an object (ioredis's transform, RESP3 maps). */
export function record(reply: unknown): Record<string, string> {
  const entries: [string, string][] = []
  if (Array.isArray(reply) && reply.length % 2 === 0) {
    for (let i = 0; i < reply.length; i += 2) entries.push([String(reply[i]), String(reply[i + 1])])
  } else if (reply !== null && typeof reply === 'object' && !Array.isArray(reply)) {
    for (const [field, value] of Object.entries(reply)) entries.push([field, String(value)])
  } else {
    throw new UnexpectedReply(reply)
  }
  // fromEntries defines own properties: a field named `__proto__` stays a field.
  return Object.fromEntries(entries)
}

/** Hits and misses of a read of one value. */
export function annotateOne(span: Span, value: unknown): void {
  const hit = value !== undefined && !(typeof value === 'object' && Object.keys(value as object).length === 0)
  span.attributes['db.hits'] = hit ? 1 : 0
  span.attributes['db.misses'] = hit ? 0 : 1
}

/** Hits and misses of a read of many values. */
export function annotateMany(span: Span, values: readonly unknown[]): void {
  const hits = values.reduce((count: number, value) => count + (value === undefined ? 0 : 1), 0)
  span.attributes['db.hits'] = hits
  span.attributes['db.misses'] = values.length - hits
}
