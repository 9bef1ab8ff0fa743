import { randomFillSync } from 'node:crypto'

/**
 * The span ids of one trace. Span ids only need to be unique within their trace: a random base plus
 * a counter is as good as 8 random bytes per span, and much cheaper. The base is random in its
 * upper 40 bits and zero in its lower 24, where the counter (the span's serial) goes: the upper 40
 * bits are kept as a number, their hex made once needed.
 */
export class SpanIds {
  readonly #high: number
  /** The hex of the upper 40 bits, once needed. */
  #prefix: string | undefined = undefined

  /** A random base, drawn from `randomBytes`'s pool. */
  static random(): SpanIds {
    const offset = takeRandom(5)
    return new SpanIds(randomPool.readUIntBE(offset, 5))
  }

  constructor(high: number) {
    this.#high = high
  }

  /** The id of the `serial`th span (from 1): 16 hex digits, the base plus `serial`. */
  of(serial: number): string {
    if (serial < COUNTER_RANGE) {
      this.#prefix ??= hex(this.#high, 10)
      return this.#prefix + hex(serial, 6)
    }
    // Past 2^24 spans the counter carries into the upper bits, wrapping at 64 bits as a sum would.
    const high = (this.#high + Math.floor(serial / COUNTER_RANGE)) % 2 ** 40
    return hex(high, 10) + hex(serial % COUNTER_RANGE, 6)
  }
}

/** A new trace id: 32 random hex digits, as in W3C trace context. */
export function randomTraceId(): string {
  const offset = takeRandom(16)
  return randomPool.toString('hex', offset, offset + 16)
}

/** The span ids' counter: their lower 24 bits. */
const COUNTER_RANGE = 2 ** 24

function hex(value: number, digits: number): string {
  return value.toString(16).padStart(digits, '0')
}

/**
 * Random bytes for trace ids and span id bases, drawn from the CSPRNG a block at a time (as node's
 * own `randomUUID` does): one call into it per 195 traces rather than two per trace, each of which
 * also made a buffer.
 */
const randomPool = Buffer.allocUnsafe(4096)
let randomOffset = randomPool.length

/** The offset in `randomPool` of `bytes` fresh random bytes. */
function takeRandom(bytes: number): number {
  if (randomOffset + bytes > randomPool.length) {
    randomFillSync(randomPool)
    randomOffset = 0
  }
  randomOffset += bytes
  return randomOffset - bytes
}
