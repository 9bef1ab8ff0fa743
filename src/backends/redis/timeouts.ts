import { clock, type TimerHandle } from '../../core/clock.ts'

/** Something that can time out: `done` once it settled, `expire()` when its time is up first. */
export interface Expirable {
  readonly done: boolean
  expire(): void
}

/**
 * Timeouts that all last the same `ms`, kept with one timer instead of one each.
 *
 * Items with one duration expire in the order they were added, so a FIFO needs only one timer, for its
 * head. Replies come back in order too, so a settled item is almost always the head and leaves at once:
 * the queue holds little more than what is in flight, and the timer is set again only when the head's
 * time comes (or after the queue emptied, when it is cleared so that no timer outlives the work).
 */
export class TimeoutQueue {
  readonly #ms: number
  #items: Expirable[] = []
  #expiries: number[] = []
  #head = 0
  #timer: TimerHandle | undefined

  constructor(ms: number) {
    this.#ms = ms
  }

  /** Starts `item`'s timeout, from now (`now`: the clock's reading, when the caller has it). */
  add(item: Expirable, now = clock().now()): void {
    this.#items.push(item)
    this.#expiries.push(now + this.#ms)
    this.#timer ??= clock().setTimeout(() => this.#fire(), this.#ms)
  }

  /** To call when an item settled: drops the settled ones at the head, and the timer once none is left. */
  settled(): void {
    while (this.#head < this.#items.length && (this.#items[this.#head] as Expirable).done) this.#pop()
    if (this.#head === this.#items.length) this.#clear()
  }

  #fire(): void {
    this.#timer = undefined
    const now = clock().now()
    while (this.#head < this.#items.length) {
      const item = this.#items[this.#head] as Expirable
      const at = this.#expiries[this.#head] as number
      if (!item.done && at > now) {
        this.#timer = clock().setTimeout(() => this.#fire(), at - now)
        return
      }
      this.#pop()
      if (!item.done) item.expire()
    }
    this.#clear()
  }

  #pop(): void {
    this.#head++
    // Compact now and then, so that the arrays do not keep what already left.
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#expiries = this.#expiries.slice(this.#head)
      this.#head = 0
    }
  }

  #clear(): void {
    this.#items = []
    this.#expiries = []
    this.#head = 0
    if (this.#timer !== undefined) clock().clearTimeout(this.#timer)
    this.#timer = undefined
  }
}
