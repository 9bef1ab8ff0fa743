/**
 * The geocoder as an HTTP service of its own: `GET /geocode?ip=...` answers where an address is.
 * Errors answer in fastify's JSON error format with a stable `code`; a client's bad input is a 4xx,
 * never a 500.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import { checkFunction, checkOptions } from '../data/checks.ts'
import { InvalidIpAddress, parseIp } from '../data/ip.ts'
import { createGeocoder, type Geocoder, type GeocoderOptions, type Location } from './geocoder.ts'

/** Options of {@link geocoderServer}. */
export interface GeocoderServerOptions extends GeocoderOptions {
  /** The geocoder to serve; by default one over the bundled databases (or the paths given here). */
  geocoder?: Geocoder
  /**
   * Called with the app before any route is added: the place to register plugins that must wrap the
   * routes, such as weft's request-scope plugin (`app.register(weftFastify)`).
   */
  register?: (app: FastifyInstance) => unknown
  /** fastify's logger option. Default: off. */
  logger?: boolean
}

/** The answer to `GET /geocode`: the address in canonical form and where it is. */
export interface GeocodeAnswer extends Location {
  ip: string
}

const nullableString = { type: ['string', 'null'] }

const answerSchema = {
  type: 'object',
  required: ['ip', 'country', 'region', 'city', 'lat', 'lon', 'timezone'],
  properties: {
    ip: { type: 'string' },
    country: nullableString,
    region: nullableString,
    city: nullableString,
    lat: { type: 'number' },
    lon: { type: 'number' },
    timezone: nullableString,
  },
}

/**
 * Builds the geocoder's fastify app, not yet listening: call `listen` (or `inject` in tests); more
 * routes may still be added before that.
 *
 * - `GET /geocode?ip=8.8.8.8` -> 200 `{ ip, country, region, city, lat, lon, timezone }`;
 *   404 `IP_NOT_FOUND` when the database has no position for the address; 400 `INVALID_IP_ADDRESS`
 *   when `ip` is missing, repeated, or not an address.
 * - `GET /healthz` -> 200 `{ status: 'ok' }`.
 */
export async function geocoderServer(options: GeocoderServerOptions = {}): Promise<FastifyInstance> {
  checkOptions('geocoderServer', options)
  const { geocoder: given, register, logger = false, ...geocoderOptions } = options
  if (register !== undefined) checkFunction('geocoderServer', 'register', register)
  const geocoder = given ?? (await createGeocoder(geocoderOptions))
  const app = Fastify({ logger })
  await register?.(app)

  app.get('/healthz', async () => ({ status: 'ok' }))

  app.get<{ Querystring: Record<string, unknown> }>(
    '/geocode',
    { schema: { response: { 200: answerSchema } } },
    async (request, reply) => {
      const { ip } = request.query
      if (typeof ip !== 'string') {
        return fail(reply, 400, 'INVALID_IP_ADDRESS', 'give one address as the "ip" query parameter')
      }
      let address: string
      try {
        address = parseIp(ip).address
      } catch (error) {
        if (error instanceof InvalidIpAddress) return fail(reply, 400, error.code, error.message)
        throw error
      }
      const location = geocoder.lookup(address)
      if (location === undefined) return fail(reply, 404, 'IP_NOT_FOUND', `no location known for ${address}`)
      return { ip: address, ...location } satisfies GeocodeAnswer
    },
  )

  return app
}

const reasons: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found' }

function fail(reply: FastifyReply, status: 400 | 404, code: string, message: string): FastifyReply {
  return reply.code(status).send({ statusCode: status, code, error: reasons[status], message })
}
