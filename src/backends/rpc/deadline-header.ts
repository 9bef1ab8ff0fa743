/**
 * The deadline travels between services as the time LEFT, not as the instant it falls: the clocks of
 * two hosts disagree by milliseconds to seconds, and an absolute time would be read against the wrong
 * clock. A relative budget is only off by the time spent in transit, and in the safe direction: the
 * server's deadline falls a little after the caller's, never long after. gRPC does the same with
 * `grpc-timeout`.
 */
export const TIMEOUT_HEADER = 'weft-timeout-ms'

/**
 * Whole milliseconds left, rounded up so that the caller's deadline always passes first: the caller
 * then gives up and closes the connection, which cancels the server's work at once, and it sees its
 * own deadline rather than the server's 504. The server's deadline is the backstop for callers that
 * go away unseen (behind a proxy, say) or that do not enforce their deadline themselves.
 */
export function formatTimeout(ms: number): string {
  return String(Math.max(0, Math.ceil(ms)))
}

// At most ten digits (about 115 days): enough for any budget, and never a number that loses precision.
const wholeMilliseconds = /^\d{1,10}$/

/**
 * Reads the header of an incoming request: undefined when absent, else the budget in ms.
 *
 * @throws {RangeError} when the header is present but is not one whole number of milliseconds.
 */
export function parseTimeout(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !wholeMilliseconds.test(value)) {
    throw new RangeError(
      `${TIMEOUT_HEADER} must be one whole number of milliseconds, got ${JSON.stringify(value)}`,
    )
  }
  return Number(value)
}
