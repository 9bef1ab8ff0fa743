/**
 * The service's attribute queries, as plain functions over any {@link SqlExecutor}. Each is one
 * indexed statement; the result types are the ones the loader takes, so what goes in comes out.
 */
import { checkOptions, checkWholeNumber } from './checks.ts'
import type { City } from './cities.ts'
import { floatColumn, intColumn, optionalTextColumn, textColumn } from './columns.ts'
import { nearbyCells } from './geo-cell.ts'
import { formatIPv4, parseIPv4 } from './ip.ts'
import { searchKey } from './search-key.ts'
import type { SqlExecutor } from './sql-executor.ts'

/** How many results a query returns at most. */
export interface LimitOptions {
  /** From 1 to 1000; 10 by default. */
  limit?: number
}

/** Options of {@link citiesNear}. */
export interface NearOptions extends LimitOptions {
  /** How many rings of 1-degree cells around the point's own cell to search; 1 by default (3 x 3 cells). */
  rings?: number
}

/** The range of the IP database an address belongs to. */
export interface IpNetwork {
  /** First address of the range, dotted decimal. */
  start: string
  /** Last address of the range, dotted decimal. */
  end: string
  /** The autonomous system announcing the range. */
  asn: number
  /** The organisation holding that autonomous system. */
  org: string
}

const cityColumns = 'id, name, country, admin_code, feature_code, population, lat, lon'

/**
 * The most populous places whose name starts with `prefix`, ignoring case and accents ("lisb" finds
 * Lisbon, "sao p" finds São Paulo). A prefix that folds to nothing (blank) matches nothing.
 */
export async function citiesByPrefix(
  db: SqlExecutor,
  prefix: string,
  options: LimitOptions = {},
): Promise<City[]> {
  if (typeof prefix !== 'string')
    throw new TypeError(`citiesByPrefix: prefix must be a string, got ${typeof prefix}`)
  const limit = checkLimit('citiesByPrefix', options)
  const key = searchKey(prefix)
  if (key === '') return []
  const pattern = `${key.replace(/[\\%_]/g, '\\$&')}%`
  const { rows } = await db.query(
    `SELECT ${cityColumns} FROM cities WHERE name_key LIKE $1 ORDER BY population DESC, id LIMIT $2`,
    [pattern, limit],
  )
  return rows.map(cityFromRow)
}

/** The most populous places of a country, by ISO 3166-1 alpha-2 code (either case). */
export async function citiesInCountry(
  db: SqlExecutor,
  country: string,
  options: LimitOptions = {},
): Promise<City[]> {
  if (typeof country !== 'string' || !/^[A-Za-z]{2}$/.test(country)) {
    throw new TypeError(
      `citiesInCountry: country must be a two-letter ISO code, got ${JSON.stringify(country)}`,
    )
  }
  const limit = checkLimit('citiesInCountry', options)
  const { rows } = await db.query(
    `SELECT ${cityColumns} FROM cities WHERE country = $1 ORDER BY population DESC, id LIMIT $2`,
    [country.toUpperCase(), limit],
  )
  return rows.map(cityFromRow)
}

/**
 * The most populous places near a point: those in the point's 1-degree cell and the cells around it
 * (see `nearbyCells`), roughly within 100 to 200 km.
 */
export async function citiesNear(
  db: SqlExecutor,
  point: { lat: number; lon: number },
  options: NearOptions = {},
): Promise<City[]> {
  const limit = checkLimit('citiesNear', options)
  if (point === null || typeof point !== 'object') {
    throw new TypeError(`citiesNear: point must be an object with lat and lon, got ${String(point)}`)
  }
  const cells = nearbyCells(point.lat, point.lon, options.rings)
  const { rows } = await db.query(
    `SELECT ${cityColumns} FROM cities WHERE geo_cell = ANY($1::integer[]) ORDER BY population DESC, id LIMIT $2`,
    [cells, limit],
  )
  return rows.map(cityFromRow)
}

/**
 * The range of the IP database holding the IPv4 address `ip`, or `undefined` when no autonomous
 * system announces it (private and reserved ranges, unrouted space). Throws `InvalidIpAddress` for a
 * string that is not a dotted-decimal IPv4 address.
 */
export async function networkOf(db: SqlExecutor, ip: string): Promise<IpNetwork | undefined> {
  const address = parseIPv4(ip)
  // The nearest range starting at or below the address, found by walking the primary key backwards
  // one step, then kept only if it reaches the address: ranges do not nest, so no other can hold it.
  const { rows } = await db.query(
    `SELECT start_ip, end_ip, asn, org FROM (
       SELECT start_ip, end_ip, asn, org FROM ip_networks WHERE start_ip <= $1::bigint ORDER BY start_ip DESC LIMIT 1
     ) nearest WHERE end_ip >= $1::bigint`,
    [address],
  )
  const row = rows[0]
  if (row === undefined) return undefined
  return {
    start: formatIPv4(intColumn(row, 'start_ip')),
    end: formatIPv4(intColumn(row, 'end_ip')),
    asn: intColumn(row, 'asn'),
    org: textColumn(row, 'org'),
  }
}

/** A row of the cities table as a City. */
export function cityFromRow(row: Record<string, unknown>): City {
  return {
    id: intColumn(row, 'id'),
    name: textColumn(row, 'name'),
    country: textColumn(row, 'country'),
    adminCode: optionalTextColumn(row, 'admin_code'),
    featureCode: textColumn(row, 'feature_code'),
    population: intColumn(row, 'population'),
    lat: floatColumn(row, 'lat'),
    lon: floatColumn(row, 'lon'),
  }
}

function checkLimit(where: string, options: LimitOptions): number {
  checkOptions(where, options)
  const { limit = 10 } = options
  checkWholeNumber(where, 'limit', limit, 1, 1000)
  return limit
}
