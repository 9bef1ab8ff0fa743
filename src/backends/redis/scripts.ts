/**
 * The Lua scripts weft sends, each beside its in-process twin: the embedded server runs exactly these
 * (and no other Lua), so the two can be read, and tested, side by side.
 */

/** Runs one command of the in-process keyspace, as `redis.call` does in Lua. */
export type ServerCall = (...wire: string[]) => unknown

/** A script: its Lua source, and the same steps against the in-process keyspace. */
export interface Script {
  readonly lua: string
  /** The twin of the Lua source, given the same KEYS and ARGV. */
  readonly embedded: (call: ServerCall, keys: readonly string[], argv: readonly string[]) => unknown
}

/**
 * INCRBY, then PEXPIRE when the key has no expiry: a fixed-window counter whose window starts at its
 * first hit. One script, so no increment can be left without its expiry.
 * KEYS[1]: the counter; ARGV[1]: the increment; ARGV[2]: the window in ms.
 */
export const incrWithExpiry: Script = {
  lua: [
    "local n = redis.call('INCRBY', KEYS[1], ARGV[1])",
    "if redis.call('PTTL', KEYS[1]) == -1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end",
    'return n',
  ].join('\n'),
  embedded(call, [key = ''], [by = '', px = '']) {
    const n = call('incrby', key, by)
    if (call('pttl', key) === -1) call('pexpire', key, px)
    return n
  },
}

/** Every script weft sends, by source. */
export const scripts: ReadonlyMap<string, Script> = new Map([[incrWithExpiry.lua, incrWithExpiry]])
