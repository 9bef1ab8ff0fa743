/**
 * Typed reads of result columns. Drivers disagree on types: `pg` returns `bigint` and `count(*)` as
 * strings, PGlite as numbers. These accept both and fail loudly on anything else, so a schema drift
 * shows up as an error naming the column rather than as a NaN further down.
 */

/** An integer column (int4 or int8) whose values fit in a JavaScript number. */
export function intColumn(row: Record<string, unknown>, column: string): number {
  const value = row[column]
  const number = typeof value === 'string' || typeof value === 'bigint' ? Number(value) : value
  if (typeof number !== 'number' || !Number.isSafeInteger(number)) unexpected(column, 'a safe integer', value)
  return number
}

/** A float column. */
export function floatColumn(row: Record<string, unknown>, column: string): number {
  const value = row[column]
  if (typeof value !== 'number' || !Number.isFinite(value)) unexpected(column, 'a finite number', value)
  return value
}

/** A text column. */
export function textColumn(row: Record<string, unknown>, column: string): string {
  const value = row[column]
  if (typeof value !== 'string') unexpected(column, 'text', value)
  return value
}

/** A nullable text column: SQL NULL reads as `null`. */
export function optionalTextColumn(row: Record<string, unknown>, column: string): string | null {
  return row[column] === null ? null : textColumn(row, column)
}

function unexpected(column: string, expected: string, value: unknown): never {
  throw new TypeError(`column "${column}": expected ${expected}, the database returned ${String(value)}`)
}
