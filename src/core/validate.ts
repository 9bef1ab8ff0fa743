/**
 * Argument checks shared by every public entry point. Each throws a TypeError at the call that
 * names the function, the argument, what was expected and what was received.
 */

export function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'string') return JSON.stringify(value)
  if (value === null || typeof value !== 'object') return String(value)
  return Array.isArray(value) ? 'an array' : 'an object'
}

function fail(where: string, what: string, expected: string, value: unknown, detail = ''): never {
  throw new TypeError(`${where}: ${what} must be ${expected}, got ${describe(value)}${detail}`)
}

export function checkFunction(
  where: string,
  what: string,
  value: unknown,
): asserts value is (...args: never) => unknown {
  if (typeof value !== 'function') fail(where, what, 'a function', value)
}

/** A finite number of milliseconds, zero or more. */
export function checkDuration(where: string, what: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    fail(where, what, 'a finite number of milliseconds, 0 or more', value)
  }
}

/** A whole number of at least `min` (Infinity allowed when `infinite` is set). */
export function checkCount(
  where: string,
  what: string,
  value: unknown,
  min: number,
  infinite = false,
): asserts value is number {
  const ok =
    typeof value === 'number' && value >= min && (Number.isInteger(value) || (infinite && value === Infinity))
  if (!ok) fail(where, what, `a whole number of at least ${min}${infinite ? ' (or Infinity)' : ''}`, value)
}

export function checkSignal(where: string, what: string, value: unknown): asserts value is AbortSignal {
  if (!(value instanceof AbortSignal)) fail(where, what, 'an AbortSignal', value)
}

export function checkString(where: string, what: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') fail(where, what, 'a string', value)
}

/** An object with each of `methods` (e.g. a store a caller plugs in); the message names those missing. */
export function checkMethods(
  where: string,
  what: string,
  expected: string,
  value: unknown,
  methods: readonly string[],
): void {
  const missing = methods.filter(
    (method) => typeof (value as Record<string, unknown> | null)?.[method] !== 'function',
  )
  if (missing.length > 0) fail(where, what, expected, value, ` without ${missing.join(', ')}`)
}

export function checkOptions(where: string, value: unknown): asserts value is object | undefined {
  if (value !== undefined && (value === null || typeof value !== 'object'))
    fail(where, 'options', 'an object', value)
}
