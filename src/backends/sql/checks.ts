/** Argument checks of the SQL API: TypeErrors at the call, naming what was expected and received. */
import { checkDuration, checkOptions, checkSignal, describe } from '../../core/validate.ts'
import type { QueryOptions } from './statement.ts'

/** Checks the arguments of a `query` call. */
export function checkQuery(where: string, text: unknown, params: unknown, options: unknown): void {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new TypeError(`${where}: text must be a non-empty SQL string, got ${describe(text)}`)
  }
  checkParams(where, params)
  checkQueryOptions(where, options)
}

/** Checks `options.signal`, `options.deadlineAt` and `options.timeout`, shared by queries and transactions. */
export function checkQueryOptions(
  where: string,
  options: unknown,
): asserts options is QueryOptions | undefined {
  checkOptions(where, options)
  const { signal, timeout, deadlineAt } = (options ?? {}) as QueryOptions
  if (signal !== undefined) checkSignal(where, 'options.signal', signal)
  if (deadlineAt !== undefined && (typeof deadlineAt !== 'number' || !Number.isFinite(deadlineAt))) {
    throw new TypeError(
      `${where}: options.deadlineAt must be a number of epoch milliseconds, got ${describe(deadlineAt)}`,
    )
  }
  if (timeout !== undefined) checkDuration(where, 'options.timeout', timeout)
}

// What node-postgres can send as a parameter: JSON-able objects go as JSON, arrays as arrays.
const expected = 'a string, number, bigint, boolean, null, undefined, Date, Buffer, array or plain object'

function checkParams(where: string, params: unknown): void {
  if (params === undefined) return
  if (!Array.isArray(params))
    throw new TypeError(`${where}: params must be an array, got ${describe(params)}`)
  params.forEach((value: unknown, index) => {
    const problem = unsendable(value)
    if (problem !== undefined) {
      throw new TypeError(
        `${where}: params[${index}] (for $${index + 1}) must be ${expected}, got ${problem}`,
      )
    }
  })
}

/** What is wrong with `value` as a parameter, or undefined when it can be sent. */
function unsendable(value: unknown): string | undefined {
  if (typeof value === 'function' || typeof value === 'symbol') return describe(value)
  if (Array.isArray(value)) {
    for (const element of value) {
      const problem = unsendable(element)
      if (problem !== undefined) return `an array holding ${problem}`
    }
    return undefined
  }
  if (value === null || typeof value !== 'object' || value instanceof Date || ArrayBuffer.isView(value)) {
    return undefined
  }
  // node-postgres's hook for custom types: the object serializes itself.
  if (typeof (value as { toPostgres?: unknown }).toPostgres === 'function') return undefined
  // Objects go as JSON: find out now, at the call, rather than halfway through the wire protocol.
  try {
    JSON.stringify(value)
    return undefined
  } catch (error) {
    return `an object JSON cannot encode (${(error as Error).message.split('\n')[0]})`
  }
}
