/**
 * The service's data layer: the schema and its migrations, the loaders of the bundled data sets, and
 * the queries the pipeline runs, all over a minimal {@link SqlExecutor} (pg, PGlite, weft's adapter).
 *
 * At start-up: `await migrate(db)`, then `await loadDatasets(db, { onProgress: progressBar() })`.
 */
export type { City } from './cities.ts'
export type { Dataset, DatasetOptions } from './dataset.ts'
export { geoCell, nearbyCells } from './geo-cell.ts'
export { formatIPv4, InvalidIpAddress, type IpAddress, parseIPv4, parseIp } from './ip.ts'
export type { IpNetworkRecord } from './ip-networks.ts'
export {
  type LoadOptions,
  type LoadProgress,
  type LoadResult,
  loadCities,
  loadDataset,
  loadDatasets,
  loadIpNetworks,
} from './load.ts'
export { migrate } from './migrate.ts'
export { type ProgressBarOptions, type ProgressStream, progressBar } from './progress.ts'
export {
  citiesByPrefix,
  citiesInCountry,
  citiesNear,
  type IpNetwork,
  type LimitOptions,
  type NearOptions,
  networkOf,
} from './queries.ts'
export { type Migration, migrations } from './schema.ts'
export { searchKey } from './search-key.ts'
export type { SqlExecutor } from './sql-executor.ts'
