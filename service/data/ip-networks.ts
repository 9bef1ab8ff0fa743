/**
 * The IP database: the IPv4 ranges of the `@ip-location-db/asn` package (RouteViews and DB-IP data),
 * each announced by one autonomous system, mapped to rows of the `ip_networks` table.
 */
import { readFileSync } from 'node:fs'
import { countLines, lines, parseCsvLine } from './csv.ts'
import { bundledDataset, type Column, type Dataset, type DatasetOptions, packageFile } from './dataset.ts'

/** One range of the IP database, addresses as unsigned 32-bit integers (see `parseIPv4`). */
export interface IpNetworkRecord {
  /** First address of the range. */
  start: number
  /** Last address of the range, inclusive. */
  end: number
  /** The autonomous system number. */
  asn: number
  /** The organisation holding the autonomous system. */
  org: string
}

const columns: readonly Column<IpNetworkRecord>[] = [
  { name: 'start_ip', type: 'bigint', value: (network) => network.start },
  { name: 'end_ip', type: 'bigint', value: (network) => network.end },
  { name: 'asn', type: 'bigint', value: (network) => network.asn },
  { name: 'org', type: 'text', value: (network) => network.org },
]

/** The IP networks data set: `@ip-location-db/asn`, or the records given in `options`. */
export function ipNetworksDataset(options?: DatasetOptions<IpNetworkRecord>): Dataset<IpNetworkRecord> {
  return bundledDataset(
    {
      table: 'ip_networks',
      columns,
      packageName: '@ip-location-db/asn',
      revision: 1,
      read() {
        const file = packageFile('@ip-location-db/asn/asn-ipv4-num.csv')
        // 21 MB: read whole, it is gone once loaded, and the line count gives progress a total.
        const text = readFileSync(file, 'utf8')
        return { total: countLines(text), records: parseNetworks(text, file) }
      },
    },
    options,
  )
}

/** The records of an `asn-ipv4-num.csv` text: `start,end,asn,org` per line, no header. */
export function* parseNetworks(text: string, file = 'asn-ipv4-num.csv'): Generator<IpNetworkRecord> {
  let number = 0
  for (const line of lines(text)) {
    number++
    const fields = parseCsvLine(line)
    const [start, end, asn] = fields.slice(0, 3).map(uint32)
    const org = fields[3]
    if (
      fields.length !== 4 ||
      org === undefined ||
      start === undefined ||
      end === undefined ||
      asn === undefined
    ) {
      throw new SyntaxError(`${file}:${number}: expected start,end,asn,org with 32-bit numbers, got ${line}`)
    }
    yield { start, end, asn, org }
  }
}

function uint32(field: string): number | undefined {
  const value = /^\d{1,10}$/.test(field) ? Number(field) : Number.NaN
  return value <= 0xffffffff ? value : undefined
}
