/**
 * The load of fault scenario 8, run as a process of its own so that the service's process measures
 * only itself (heap, handles, CPU): autocannon against `GET /search`, each request from a client
 * address of its own through `X-Forwarded-For`, but one in twenty from a single heavy client, whose
 * requests go over its rate limit (the intended 503s). Prints one JSON line: autocannon's figures and
 * the answers that were not 200, by status and error code.
 *
 *     node test/faults/load-client.ts <service url> <connections> <seconds>
 */
import autocannon from 'autocannon'

const [url, connections = '100', seconds = '60'] = process.argv.slice(2)
if (url === undefined) throw new Error('usage: load-client.ts <service url> <connections> <seconds>')

/** The client over its limit: one request in {@link heavyEvery}. */
const heavyClient = '198.51.100.7'
const heavyEvery = 20
const queries = ['lisb', 'port', 'faro', 'sintra', 'coimbra', 'braga', 'evora', 'sao', 'madr', 'lon']

// Addresses spread over many /24 networks, so that no limiter but the heavy client's is reached.
const octet = (max: number) => 1 + Math.floor(Math.random() * max)
const someClient = () => `${octet(222)}.${octet(254)}.${octet(254)}.${octet(254)}`

let sent = 0
const refused: Record<string, number> = {}
const result = await autocannon({
  url,
  connections: Number(connections),
  duration: Number(seconds),
  requests: [
    {
      method: 'GET',
      setupRequest: (request) => {
        sent += 1
        const ip = sent % heavyEvery === 0 ? heavyClient : someClient()
        return {
          ...request,
          path: `/search?q=${queries[sent % queries.length]}`,
          headers: { ...request.headers, 'x-forwarded-for': ip },
        }
      },
      onResponse: (status, body) => {
        if (status === 200) return
        let code = 'no code'
        try {
          code = String(JSON.parse(body).code)
        } catch {}
        refused[`${status} ${code}`] = (refused[`${status} ${code}`] ?? 0) + 1
      },
    },
  ],
})

const { latency, requests, throughput, statusCodeStats, errors, timeouts, non2xx } = result
console.log(
  JSON.stringify({
    requests: requests.sent,
    answered: requests.total,
    statusCodeStats,
    errors,
    timeouts,
    non2xx,
    refused,
    latencyMs: { p50: latency.p50, p90: latency.p90, p99: latency.p99, max: latency.max },
    requestsPerSecond: requests.average,
    bytesPerSecond: throughput.average,
  }),
)
