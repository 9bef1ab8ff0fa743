// The seed's "basic search engine" pipeline on simulated backends: each backend call is a function
// with injected latency (withFaults), so the demo needs no servers and still shows the real shape of
// the request: what runs in parallel, what waits for what, and which chain of calls sets the latency.
import { asCompleted, type Scope, scope, startSpan, type TraceListener } from 'weft'
import { withFaults } from 'weft/testing'

/** Simulated backend latencies in ms (what the demo's trace will show). */
export const latency = { memcache: 2, sql: 10, geocoder: 20, ipDatabase: 6, queue: 5 } as const

/**
 * A simulated backend call: injected latency, and a client span like the real adapters record, so the
 * trace shows each call under the task that made it.
 */
function simulated<A extends unknown[], R>(
  name: string,
  ms: number | { min: number; max: number },
  answer: (...args: A) => R,
): (...args: A) => Promise<R> {
  const call = withFaults(async (...args: A) => answer(...args), { latency: ms })
  return async (...args) => {
    const span = startSpan(name, 'client')
    try {
      const result = await call(...args)
      span?.finish('ok')
      return result
    } catch (error) {
      span?.finish('error', error)
      throw error
    }
  }
}

const memcache = {
  get: simulated('memcache get', latency.memcache, (_key: string): string | undefined => undefined),
  set: simulated('memcache set', latency.memcache, (_key: string, _value: string) => {}),
  incr: simulated('memcache incr', latency.memcache, (_key: string) => 1),
}
const geocoder = simulated('geocoder rpc', latency.geocoder, (_ip: string) => ({
  city: 'Lisbon',
  country: 'PT',
}))
const ipDatabase = simulated('ip database sql', latency.ipDatabase, (_ip: string) => ({
  asn: 13335,
  network: '203.0.113.0/24',
}))
const sql = simulated('sql query', { min: latency.sql / 2, max: latency.sql * 2 }, (attribute: string) => [
  { name: `best by ${attribute}`, score: attribute.length },
])
const enqueue = simulated('queue enqueue', latency.queue, (_task: string, _payload: unknown) => {})

const limiters = ['ip', 'network', 'asn', 'global'] as const
const attributes = ['query text', 'country', 'language', 'nearby', 'recent searches'] as const

/** Thrown when the rate limiters say no: the request answers 503. */
export class Overloaded extends Error {
  override name = 'Overloaded'
}

/** Step 1b: the IP in the IP database, then every rate limiter at once (each on its own shard). */
async function overRateLimits(s: Scope, ip: string): Promise<boolean> {
  const network = await s.spawn('ip database', () => ipDatabase(ip))
  const counts = limiters.map((limiter) =>
    s.spawn(`limiter ${limiter}`, () => memcache.incr(`${limiter}:${network.asn}`)),
  )
  return (await Promise.all(counts)).some((count) => count > 100)
}

/** Step 1c: the session from memcache, or a new one saved, cached and set as a cookie in parallel. */
async function loadOrCreateSession(s: Scope, sessionId: string): Promise<{ id: string; created: boolean }> {
  const cached = await s.spawn('session get', () => memcache.get(`session:${sessionId}`))
  if (cached !== undefined) return { id: sessionId, created: false }
  await Promise.all([
    s.spawn('enqueue save session', () => enqueue('save session', sessionId)),
    s.spawn('session set', () => memcache.set(`session:${sessionId}`, '{}')),
  ])
  return { id: sessionId, created: true }
}

/** Step 3, one attribute: memcache first, the database on a miss, then the result rate-limit cache. */
async function attributeQuery(attribute: string): Promise<{ name: string; score: number }[]> {
  return scope({ name: `query ${attribute}` }, async (q) => {
    const cached = await q.spawn('cache get', () => memcache.get(`q:${attribute}`))
    const rows = cached === undefined ? await q.spawn('sql', () => sql(attribute)) : JSON.parse(cached)
    await q.spawn('result limit', () => memcache.incr(`served:${attribute}`))
    return rows
  })
}

/** The whole request, one step of the seed per line; `onTrace` receives its trace. */
export function search(ip: string, sessionId: string, onTrace: TraceListener) {
  return scope({ name: 'search', deadline: 250, trace: onTrace }, async (s) => {
    const location = s.spawn('geocode', () => geocoder(ip))
    const limited = s.spawn('rate limits', () => scope({ name: 'rate limits' }, (r) => overRateLimits(r, ip)))
    const session = s.spawn('session', () =>
      scope({ name: 'session' }, (r) => loadOrCreateSession(r, sessionId)),
    )
    const [where, who] = await Promise.all([location, session])

    let best = { name: 'nothing', score: -1 }
    const queries = attributes.map((attribute) => s.spawn(attribute, () => attributeQuery(attribute)))
    for await (const rows of asCompleted(queries))
      for (const row of rows) if (row.score > best.score) best = row

    if (await limited) throw new Overloaded('over the rate limit')

    await scope({ name: 'respond' }, async (r) => {
      r.spawn('update result limits', () => memcache.incr(`served:${best.name}`))
      r.spawn('enqueue log ranking', () => enqueue('log ranking decision', best))
      r.spawn('enqueue update session', () => enqueue('update session', who.id))
      r.spawn('session update', () => memcache.set(`session:${who.id}`, '{}'))
    })
    return { best, where, session: who }
  })
}
