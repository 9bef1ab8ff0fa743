// Scenario 4: the geocoder down, slow, or answering garbage. Every search still answers 200, without
// a location, and says so (`degraded` names the geocoder); never a 500. Afterwards, the time until
// answers have a location again (the RPC client's circuit breaker decides most of it).
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, test } from 'node:test'
import { createGeocoder } from '../../service/geocoder/geocoder.ts'
import { type FaultService, runConcurrently, startFaultService, timeUntil } from './in-process.ts'
import { reportScenario, StatusTally } from './report.ts'

/** How the stand-in geocoder answers. */
type Mode =
  | 'healthy'
  | 'down'
  | 'slow'
  | 'error 500'
  | 'connection reset'
  | 'malformed JSON'
  | 'wrong shape'
  | 'wrong content-type'
  | 'truncated body'

/** The geocoder's budget in the service (backends.ts); the slow mode answers well after it. */
const geocoderBudget = 300
const slowBy = geocoderBudget * 3

/**
 * A geocoder on a raw node:http server, so it can answer anything, including a body cut short:
 * `GET /geocode?ip=` answers as the real one does when healthy, and as its mode says otherwise.
 */
async function standInGeocoder() {
  const real = await createGeocoder()
  let mode: Mode = 'healthy'
  const pending = new Set<NodeJS.Timeout>()
  const answer = (request: IncomingMessage, response: ServerResponse): void => {
    const ip = new URL(request.url ?? '/', 'http://geocoder').searchParams.get('ip') ?? ''
    const json = (status: number, body: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    }
    const healthy = (): void => {
      const location = real.lookup(ip)
      if (location === undefined) json(404, { statusCode: 404, code: 'IP_NOT_FOUND' })
      else json(200, { ip, ...location })
    }
    switch (mode) {
      case 'healthy':
        healthy()
        return
      case 'down':
        throw new Error('a geocoder that is down does not answer')
      case 'slow': {
        const timer = setTimeout(() => {
          pending.delete(timer)
          if (!response.destroyed) healthy()
        }, slowBy)
        pending.add(timer)
        return
      }
      case 'error 500':
        json(500, { statusCode: 500, code: 'INTERNAL_ERROR', message: 'the geocoder failed' })
        return
      case 'connection reset':
        request.socket.destroy()
        return
      case 'malformed JSON':
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"ip": "1.2.3.4", "lat": ')
        return
      case 'wrong shape':
        json(200, { ip: 42, lat: 'north', lon: null, country: 'Portugal', city: ['Lisbon'] })
        return
      case 'wrong content-type':
        response.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Lisbon</body></html>')
        return
      case 'truncated body':
        response.writeHead(200, { 'content-type': 'application/json', 'content-length': '400' })
        response.write(`{"ip": "${ip}", "country": "PT", "lat": 38.7`)
        response.socket?.destroy()
        return
    }
  }
  const server: Server = createServer(answer)
  server.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = server.address() as AddressInfo
  const stop = async () => {
    for (const timer of pending) clearTimeout(timer)
    pending.clear()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return {
    url: `http://127.0.0.1:${port}`,
    /** Changes how it answers; `down` stops listening (connections refused), anything else listens again. */
    async set(next: Mode) {
      if (next === 'down' && server.listening) await stop()
      if (next !== 'down' && !server.listening) {
        server.listen(port, '127.0.0.1')
        await new Promise((resolve) => server.once('listening', resolve))
      }
      mode = next
    },
    stop: () => (server.listening ? stop() : Promise.resolve()),
  }
}

// Visitors the geocoder knows (NOS's range, around Lisbon), one per request.
const visitor = (i: number) => `94.132.${Math.floor(i / 250) % 250}.${(i % 250) + 1}`
const queries = ['lisb', 'port', 'faro', 'sintra', 'coimbra', 'braga']
const searchesPerFault = 120

let geocoder: Awaited<ReturnType<typeof standInGeocoder>>
let running: FaultService
let sent = 0

before(async () => {
  geocoder = await standInGeocoder()
  running = await startFaultService({
    env: { GEOCODER_URL: geocoder.url, RATE_LIMITS: 'ip=1000000,network=1000000,asn=1000000,global=1000000' },
  })
})

after(async () => {
  await running?.close()
  await geocoder?.stop()
})

const search = (i: number) => running.service.search(visitor(i), { q: queries[i % queries.length] as string })

async function located(): Promise<boolean> {
  const answer = await search(sent++)
  assert.equal(answer.status, 200, JSON.stringify(answer.body))
  return answer.body.location !== null
}

test('healthy, the answers have a location', async () => {
  assert.ok(await located())
})

const faults: Exclude<Mode, 'healthy'>[] = [
  'down',
  'slow',
  'error 500',
  'connection reset',
  'malformed JSON',
  'wrong shape',
  'wrong content-type',
  'truncated body',
]

for (const fault of faults) {
  test(`geocoder ${fault}: answers without a location that say so, never a 500`, async () => {
    await geocoder.set(fault)
    const tally = new StatusTally()
    let withoutLocation = 0
    let saidSo = 0
    const started = performance.now()
    await runConcurrently(searchesPerFault, 8, async () => {
      const answer = await search(sent++).catch(() => undefined)
      tally.record(answer?.status ?? 'error')
      if (answer?.status !== 200) return
      if (answer.body.location === null) withoutLocation += 1
      if (answer.body.degraded.some((d: { backend: string }) => d.backend === 'geocoder')) saidSo += 1
    })
    const faultMs = Math.round(performance.now() - started)
    await geocoder.set('healthy')
    const recoveryMs = await timeUntil(located)
    await reportScenario(`geocoder ${fault}`, {
      requests: tally.requests,
      statuses: tally.statuses,
      recoveryMs,
      withoutLocation,
      saidSo,
      faultMs,
      meanMs: Math.round(faultMs / (searchesPerFault / 8)),
    })
    assert.equal(
      tally.count((status) => status === 200),
      0,
      JSON.stringify(tally.statuses),
    )
    assert.equal(withoutLocation, searchesPerFault)
    assert.equal(saidSo, searchesPerFault)
  })
}
