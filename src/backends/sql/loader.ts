import { type BatchContext, type Loader, loader } from '../../batch/index.ts'
import { currentSpan } from '../../core/context.ts'
import { checkCount, checkOptions, checkString, describe } from '../../core/validate.ts'
import type { Queryable, QueryOptions } from './statement.ts'

/** Keys the SQL loaders accept: they are sent as one array parameter and matched by their string form. */
export type SqlKey = string | number | bigint

/** Options of {@link keyLoader} and {@link rowsByKey}. */
export interface SqlLoaderOptions<Row> {
  /** Names the loader: its batch spans are `<name>.batch`. */
  name: string
  /**
   * A statement whose `$1` receives the array of keys, such as
   * `SELECT id, name FROM users WHERE id = ANY($1)`. It must return the key column.
   */
  sql: string
  /** The column holding each row's key, or a function that reads it. */
  key: (keyof Row & string) | ((row: Row) => unknown)
  /** The most keys one statement carries; more are split into several. Default 1000. */
  maxBatchSize?: number
}

/**
 * A loader of one row per key: the loads of a turn become one `= ANY($1)` statement, each key once
 * (and cached for the request). A key with no row loads as `undefined`. Keys match the rows' key
 * column by their string form, so `load(7)` finds the row of a `bigint` column (which comes back as `'7'`).
 *
 * The statement runs under the batch's signal and deadline: it is cancelled on the server when every
 * load waiting for it is, or the request is. The batch span records `db.hits` and `db.misses`.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { scope } from 'weft'
 * import { embeddedDatabase, keyLoader } from 'weft/sql'
 * await using db = embeddedDatabase()
 * await db.query("CREATE TABLE users (id int PRIMARY KEY, name text); INSERT INTO users VALUES (1, 'Ada'), (2, 'Alan')")
 * const userById = keyLoader<{ id: number; name: string }, number>(db, {
 *   name: 'users by id',
 *   sql: 'SELECT id, name FROM users WHERE id = ANY($1)',
 *   key: 'id',
 * })
 * const before = db.stats().roundTrips
 * const [ada, alan, nobody] = await scope(() =>
 *   Promise.all([userById.load(1), userById.load(2), userById.load(3)]),
 * )
 * assert.deepEqual([ada?.name, alan?.name, nobody], ['Ada', 'Alan', undefined])
 * assert.equal(db.stats().roundTrips - before, 1) // three lookups, one statement
 * ```
 */
export function keyLoader<Row, K extends SqlKey = SqlKey>(
  db: Queryable,
  options: SqlLoaderOptions<Row>,
): Loader<K, Row | undefined> {
  const { name, sql, keyOf, maxBatchSize } = checkLoader('keyLoader()', db, options)
  return loader<K, Row | undefined>(
    name,
    async (keys, context) => {
      const rows = await fetchRows<Row>(db, sql, keys, context)
      const byKey = new Map<string, Row>()
      for (const row of rows) byKey.set(String(keyOf(row)), row)
      const values = keys.map((key) => byKey.get(String(key)))
      recordHits(values.filter((value) => value !== undefined).length, keys.length)
      return values
    },
    { maxBatchSize },
  )
}

/**
 * A loader of all the rows of each key (one-to-many, such as the orders of each customer): the loads
 * of a turn become one `= ANY($1)` statement. A key with no row loads as an empty array. Keys match as
 * in {@link keyLoader}.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { scope } from 'weft'
 * import { embeddedDatabase, rowsByKey } from 'weft/sql'
 * await using db = embeddedDatabase()
 * await db.query('CREATE TABLE orders (customer int, total int); INSERT INTO orders VALUES (1, 10), (1, 20), (2, 5)')
 * const ordersOf = rowsByKey<{ customer: number; total: number }, number>(db, {
 *   name: 'orders by customer',
 *   sql: 'SELECT customer, total FROM orders WHERE customer = ANY($1) ORDER BY total',
 *   key: 'customer',
 * })
 * const totals = await scope(async () => {
 *   const lists = await Promise.all([ordersOf.load(1), ordersOf.load(2), ordersOf.load(3)])
 *   return lists.map((orders) => orders.map((order) => order.total))
 * })
 * assert.deepEqual(totals, [[10, 20], [5], []])
 * ```
 */
export function rowsByKey<Row, K extends SqlKey = SqlKey>(
  db: Queryable,
  options: SqlLoaderOptions<Row>,
): Loader<K, Row[]> {
  const { name, sql, keyOf, maxBatchSize } = checkLoader('rowsByKey()', db, options)
  return loader<K, Row[]>(
    name,
    async (keys, context) => {
      const rows = await fetchRows<Row>(db, sql, keys, context)
      const byKey = new Map<string, Row[]>()
      for (const row of rows) {
        const key = String(keyOf(row))
        const group = byKey.get(key)
        if (group === undefined) byKey.set(key, [row])
        else group.push(row)
      }
      const values = keys.map((key) => byKey.get(String(key)) ?? [])
      recordHits(values.filter((value) => value.length > 0).length, keys.length)
      return values
    },
    { maxBatchSize },
  )
}

async function fetchRows<Row>(
  db: Queryable,
  sql: string,
  keys: readonly SqlKey[],
  context: BatchContext,
): Promise<Row[]> {
  const options: QueryOptions = { signal: context.signal }
  if (context.deadline !== undefined) options.deadlineAt = context.deadline
  return (await db.query<Row>(sql, [keys], options)).rows
}

/** Hits and misses go on the batch span: the batch function runs with it as the ambient span. */
function recordHits(hits: number, keys: number): void {
  currentSpan()
    ?.setAttribute('db.hits', hits)
    .setAttribute('db.misses', keys - hits)
}

interface LoaderSettings<Row> {
  name: string
  sql: string
  keyOf: (row: Row) => unknown
  maxBatchSize: number
}

function checkLoader<Row>(where: string, db: unknown, options: SqlLoaderOptions<Row>): LoaderSettings<Row> {
  if (db === null || typeof db !== 'object' || typeof (db as Queryable).query !== 'function') {
    throw new TypeError(`${where}: db must be a Database or a Transaction, got ${describe(db)}`)
  }
  checkOptions(where, options)
  if (options === undefined) throw new TypeError(`${where}: options must be an object, got undefined`)
  const { name, sql, key, maxBatchSize = 1_000 } = options
  checkString(where, 'options.name', name)
  checkString(where, 'options.sql', sql)
  if (!sql.includes('$1'))
    throw new TypeError(`${where}: options.sql must use $1 for the array of keys, got ${describe(sql)}`)
  checkCount(where, 'options.maxBatchSize', maxBatchSize, 1)
  if (typeof key === 'function') return { name, sql, keyOf: key, maxBatchSize }
  if (typeof key !== 'string' || key === '') {
    throw new TypeError(`${where}: options.key must be a column name or a function, got ${describe(key)}`)
  }
  return { name, sql, keyOf: (row) => (row as Record<string, unknown>)[key], maxBatchSize }
}
