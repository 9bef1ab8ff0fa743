/**
 * The geocoder service: IP -> place. `createGeocoder` for lookups in process, `geocoderServer` for the
 * HTTP service (`GET /geocode?ip=...`) that the pipeline calls through weft's RPC adapter.
 */
export { createGeocoder, type Geocoder, type GeocoderOptions, type Location } from './geocoder.ts'
export { type GeocodeAnswer, type GeocoderServerOptions, geocoderServer } from './server.ts'
