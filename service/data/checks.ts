/**
 * Argument checks shared by the service's entry points. Each throws a TypeError at the call naming the
 * function, the argument, what was expected and what was received.
 */

/** An options object (callers default a missing one to `{}`). */
export function checkOptions(where: string, value: unknown): asserts value is object {
  if (value === null || typeof value !== 'object') {
    throw new TypeError(`${where}: options must be an object, got ${String(value)}`)
  }
}

/** A whole number from `min` to `max`. */
export function checkWholeNumber(
  where: string,
  what: string,
  value: unknown,
  min: number,
  max = Number.POSITIVE_INFINITY,
): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.POSITIVE_INFINITY ? `of at least ${min}` : `from ${min} to ${max}`
    throw new TypeError(`${where}: ${what} must be a whole number ${range}, got ${String(value)}`)
  }
}

/** A function. */
export function checkFunction(
  where: string,
  what: string,
  value: unknown,
): asserts value is (...args: never) => unknown {
  if (typeof value !== 'function')
    throw new TypeError(`${where}: ${what} must be a function, got ${typeof value}`)
}
