/**
 * The search corpus in SQL: the places whose name starts with a prefix, anywhere, in given countries,
 * or in given geo cells. Each lookup is a `weft/sql` loader: the lookups a request makes in one turn,
 * from any of its attribute queries, become one statement per loader (`unnest` of the keys, then a
 * `LATERAL` top-N per key), so the five attribute queries of a cold search cost three statements.
 *
 * Prefixes are matched as a range of the `C`-collated `name_key` column, `[prefix, next(prefix))`:
 * unlike `LIKE` with a parameter, a range is served by the btree index whatever the prefix.
 */
import type { Loader } from 'weft/batch'
import { type Database, rowsByKey } from 'weft/sql'
import type { City } from './data/cities.ts'
import { cityFromRow } from './data/queries.ts'

/** How many places each key (prefix, country, cell) yields at most. */
export const candidatesPerKey = 50

/** The lookups of the search corpus. Prefixes are search keys (`searchKey(text)`), not raw text. */
export interface Corpus {
  /** For each prefix, the most populous places whose name starts with it. */
  citiesStartingWith(prefixes: readonly string[]): Promise<City[][]>
  /** The most populous places of the countries whose name starts with `prefix`. */
  citiesInCountries(countries: readonly string[], prefix: string): Promise<City[]>
  /** The most populous places of the geo cells whose name starts with `prefix`. */
  citiesInCells(cells: readonly number[], prefix: string): Promise<City[]>
}

/** Options of {@link corpus}. */
export interface CorpusOptions {
  /** Batch the lookups of a turn into one statement per loader (default). False: a statement per key. */
  batching?: boolean
}

// Keys carry their parts separated by tabs, which a search key never holds (it folds white space).
const sep = '\t'
const columns = ['id', 'name', 'country', 'admin_code', 'feature_code', 'population', 'lat', 'lon']

/** A statement giving the top places of each key; `keyParts` splits a key into `low`, `high` and the rest. */
function topPerKey(keyParts: string, filter: string): string {
  return `SELECT k.key, ${columns.map((column) => `top.${column}`).join(', ')}
    FROM unnest($1::text[]) AS k(key), LATERAL (
      SELECT ${columns.map((column) => `c.${column}`).join(', ')}
      FROM (SELECT ${keyParts}) parts, cities c
      WHERE ${filter} AND c.name_key >= parts.low AND c.name_key < parts.high
      ORDER BY c.population DESC, c.id LIMIT ${candidatesPerKey}
    ) top`
}

/** The corpus lookups on `db`. */
export function corpus(db: Database, options: CorpusOptions = {}): Corpus {
  const maxBatchSize = options.batching === false ? 1 : 1000
  const byPrefix = rowsByKey<Record<string, unknown>, string>(db, {
    name: 'cities by prefix',
    sql: topPerKey(`split_part(k.key, E'\\t', 1) AS low, split_part(k.key, E'\\t', 2) AS high`, 'true'),
    key: 'key',
    maxBatchSize,
  })
  const inCountry = rowsByKey<Record<string, unknown>, string>(db, {
    name: 'cities by country and prefix',
    sql: topPerKey(
      `split_part(k.key, E'\\t', 1) AS country, split_part(k.key, E'\\t', 2) AS low, split_part(k.key, E'\\t', 3) AS high`,
      'c.country = parts.country',
    ),
    key: 'key',
    maxBatchSize,
  })
  const inCell = rowsByKey<Record<string, unknown>, string>(db, {
    name: 'cities by cell and prefix',
    sql: topPerKey(
      `split_part(k.key, E'\\t', 1)::integer AS cell, split_part(k.key, E'\\t', 2) AS low, split_part(k.key, E'\\t', 3) AS high`,
      'c.geo_cell = parts.cell',
    ),
    key: 'key',
    maxBatchSize,
  })
  return {
    async citiesStartingWith(prefixes) {
      const lists = await loadAll(
        byPrefix,
        prefixes.map((prefix) => prefixRange(prefix)),
      )
      return lists.map((rows) => rows.map(cityFromRow))
    },
    async citiesInCountries(countries, prefix) {
      const range = prefixRange(prefix)
      return mostPopulous(
        await loadAll(
          inCountry,
          countries.map((country) => `${country}${sep}${range}`),
        ),
      )
    },
    async citiesInCells(cells, prefix) {
      const range = prefixRange(prefix)
      return mostPopulous(
        await loadAll(
          inCell,
          cells.map((cell) => `${cell}${sep}${range}`),
        ),
      )
    },
  }
}

/** Loads every key, failing with the first error (a loader's `loadMany` would hand errors back as values). */
function loadAll<V>(loader: Loader<string, V>, keys: readonly string[]): Promise<V[]> {
  return Promise.all(keys.map((key) => loader.load(key)))
}

/**
 * `low<tab>high` such that the strings starting with `prefix` are exactly those in [low, high) in
 * code point order (the `C` collation's order of UTF-8): the prefix with its last code point
 * incremented, skipping the surrogates, which UTF-8 cannot encode.
 */
export function prefixRange(prefix: string): string {
  const points = [...prefix]
  while (points.length > 0) {
    const last = points.pop()?.codePointAt(0) ?? 0
    if (last < 0x10ffff) {
      const next = last + 1 === 0xd800 ? 0xe000 : last + 1
      return `${prefix}${sep}${points.join('')}${String.fromCodePoint(next)}`
    }
  }
  // Only U+10FFFF characters, which no place name holds: a bound above any name will do.
  return `${prefix}${sep}${'\u{10ffff}'.repeat(prefix.length + 1)}`
}

function mostPopulous(lists: readonly Record<string, unknown>[][]): City[] {
  return lists
    .flat()
    .map(cityFromRow)
    .sort((a, b) => b.population - a.population || a.id - b.id)
    .slice(0, candidatesPerKey)
}
