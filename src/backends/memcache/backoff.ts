/** How long a down server is left alone before the next reconnection attempt. */
export interface Backoff {
  /** Delay before the first attempt, in ms. */
  readonly min: number
  /** Ceiling of the delay, in ms: a server back up is used again within this long. */
  readonly max: number
}

/**
 * The delay before reconnection attempt number `attempt` (0 for the first): doubling from `min`, capped
 * at `max`, then jittered down by up to half, so that the clients of a restarted server do not all
 * reconnect in the same millisecond.
 */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.max, backoff.min * 2 ** Math.min(attempt, 30))
  return ceiling / 2 + (random() * ceiling) / 2
}
