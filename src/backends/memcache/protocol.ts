/**
 * memcached's meta protocol (protocol.txt, "Meta Commands"), the subset weft speaks: `mg`, `ms`,
 * `md`, `ma` and `mn`.
 *
 * Why a client of our own: no Node client covers what this backend needs. `memjs` speaks the binary
 * protocol, which memcached has deprecated; `memcached` (3rd-Eden) is unmaintained; `memcache-client`
 * speaks the classic text commands to a single server. None parses meta replies, and none takes an
 * AbortSignal or a per-call deadline. The meta protocol gives, on one text connection: every storage
 * mode (`ms` with `M`), CAS (`c`/`C`), touch-on-read (`T`), counters that create themselves (`ma`
 * with `N` and `J`), base64 keys (`b`), and `mn`, which marks the end of a pipelined batch.
 *
 * Requests and replies are plain data here, so the embedded store executes the very requests the
 * client would send, and answers with the replies memcached would give.
 */

/** One meta command, as the client sends it and the embedded store executes it. */
export interface MetaRequest {
  readonly command: 'mg' | 'ms' | 'md' | 'ma'
  /** The key token: the key itself, or its base64 form when `flags` holds `b`. */
  readonly key: string
  /** Meta flags with their tokens, in order: `['v', 'f', 'c']`, `['T60', 'F0', 'ME']`. */
  readonly flags: readonly string[]
  /** The data block of an `ms`. */
  readonly value?: Buffer
}

/** Reply codes of the meta commands, plus the error lines any command may get. */
export type ReplyStatus =
  | 'VA' // value follows
  | 'HD' // success, no value
  | 'EN' // miss
  | 'NS' // not stored
  | 'EX' // CAS mismatch
  | 'NF' // not found
  | 'MN' // end of batch (reply to `mn`)
  | 'ERROR'
  | 'CLIENT_ERROR'
  | 'SERVER_ERROR'

/** One reply, parsed. */
export interface MetaReply {
  readonly status: ReplyStatus
  /** Returned flags with their tokens (`['f5', 'c12']`); the message words of an error line. */
  readonly flags: readonly string[]
  /** The data block of a `VA` reply. */
  readonly value?: Buffer
}

const crlf = Buffer.from('\r\n')

/** The `mn` that closes every batch: its `MN` tells the client the batch's replies are complete. */
export const noop = Buffer.from('mn\r\n')

/**
 * The bytes of one request: its command line and, for `ms`, the data block. The data block is
 * passed through (not copied), so large values cost no extra copy.
 */
export function encodeRequest(request: MetaRequest): Buffer[] {
  const { command, key, flags, value } = request
  const size = value === undefined ? '' : ` ${value.length}`
  const line = Buffer.from(`${command} ${key}${size}${flags.length > 0 ? ' ' : ''}${flags.join(' ')}\r\n`)
  return value === undefined ? [line] : [line, value, crlf]
}

/** The value of a returned flag (`flag(reply, 'c')` is `'12'` for `c12`), or undefined. */
export function replyFlag(reply: MetaReply, flag: string): string | undefined {
  for (const token of reply.flags) if (token[0] === flag) return token.slice(1)
  return undefined
}

/** The text of an error reply, as memcached sent it. */
export function describeReply(reply: MetaReply): string {
  return [reply.status, ...reply.flags].join(' ')
}

/** The stream did not follow the protocol: the connection cannot be trusted any more. */
export class MalformedReply extends Error {
  override name = 'MalformedReply'
}

const statuses = new Set<string>([
  'HD',
  'EN',
  'NS',
  'EX',
  'NF',
  'MN',
  'ERROR',
  'CLIENT_ERROR',
  'SERVER_ERROR',
])

/** A reply line longer than this is garbage, not a reply: stop buffering and report it. */
const maxLineBytes = 8192

/**
 * Turns the bytes of a connection into replies, however the stream is cut into chunks. A value's
 * data block is copied once, into a buffer of its announced size, so a large value arriving in many
 * chunks costs no repeated concatenation.
 */
export class ReplyParser {
  /** Bytes of a reply line not yet complete. */
  #pending: Buffer = Buffer.alloc(0)
  /** The `VA` reply whose data block is arriving; `filled` counts the block's bytes and its \r\n. */
  #body: { line: string; flags: string[]; data: Buffer; filled: number } | undefined

  /**
   * Parses `chunk` and returns the replies it completes, each with its size on the wire.
   * @throws {MalformedReply} when the bytes are not meta replies.
   */
  push(chunk: Buffer): { reply: MetaReply; bytes: number }[] {
    const replies: { reply: MetaReply; bytes: number }[] = []
    const input = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk])
    let offset = 0
    parsing: for (;;) {
      const body = this.#body
      if (body !== undefined) {
        const size = body.data.length
        if (body.filled < size) {
          const copied = input.copy(body.data, body.filled, offset, offset + size - body.filled)
          body.filled += copied
          offset += copied
        }
        while (body.filled < size + 2) {
          if (offset === input.length) break parsing
          if (input[offset] !== (body.filled === size ? 13 : 10)) {
            throw new MalformedReply('a data block is not followed by \\r\\n')
          }
          body.filled += 1
          offset += 1
        }
        this.#body = undefined
        replies.push({
          reply: { status: 'VA', flags: body.flags, value: body.data },
          bytes: body.line.length + size + 4,
        })
        continue
      }
      const end = input.indexOf(10, offset)
      if (end === -1) {
        if (input.length - offset > maxLineBytes) throw new MalformedReply('a reply line is too long')
        break
      }
      if (end === offset || input[end - 1] !== 13)
        throw new MalformedReply('a reply line is not ended by \\r\\n')
      const line = input.toString('latin1', offset, end - 1)
      offset = end + 1
      const [status = '', ...flags] = line.split(' ')
      if (status === 'VA') {
        const size = flags.shift() ?? ''
        // memcached items are at most 1 GiB (`-I 1024m`): anything larger is a corrupt stream.
        if (!/^\d{1,10}$/.test(size) || Number(size) > 2 ** 30) {
          throw new MalformedReply(`bad value size in "${excerpt(line)}"`)
        }
        this.#body = { line, flags, data: Buffer.allocUnsafe(Number(size)), filled: 0 }
      } else if (statuses.has(status)) {
        replies.push({ reply: { status: status as ReplyStatus, flags }, bytes: line.length + 2 })
      } else {
        throw new MalformedReply(`unknown reply "${excerpt(line)}"`)
      }
    }
    this.#pending = offset === input.length ? empty : Buffer.from(input.subarray(offset))
    return replies
  }
}

const empty = Buffer.alloc(0)

function excerpt(line: string): string {
  return line.length > 60 ? `${line.slice(0, 60)}...` : line
}
