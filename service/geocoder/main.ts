/**
 * Runs the geocoder service: `npm run geocoder`. Listens on GEOCODER_HOST:GEOCODER_PORT (default
 * 127.0.0.1:3001; port 0 picks a free one) and prints its URL on stdout.
 */
import { configureTracing } from 'weft'
import { weftFastify } from 'weft/rpc'
import { otlpFromEnv } from '../observability/otlp.ts'
import { stopCleanlyOnSignal } from '../shutdown.ts'
import { geocoderServer } from './server.ts'

const host = process.env.GEOCODER_HOST ?? '127.0.0.1'
const portText = process.env.GEOCODER_PORT ?? '3001'
const port = Number(portText)
if (!/^\d{1,5}$/.test(portText) || port > 65535) {
  console.error(`GEOCODER_PORT must be a port number from 0 to 65535, got ${JSON.stringify(portText)}`)
  process.exit(2)
}

// Requests run in weft scopes: the caller's deadline applies, and its `traceparent` is continued; with
// an OTLP endpoint, those traces are exported and join the caller's.
const otlp = otlpFromEnv('weft-geocoder')
if (otlp !== undefined) configureTracing({ enabled: true, onTrace: otlp.onTrace })
const app = await geocoderServer({ register: (app) => app.register(weftFastify) })
stopCleanlyOnSignal([() => app.close(), () => otlp?.shutdown()])
const url = await app.listen({ host, port })
console.log(`geocoder listening on ${url}`)
