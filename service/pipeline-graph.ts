/**
 * The pipeline's dependency graph: each backend call of a request, what it waits for, and which
 * backend answers it. From it, given a latency per backend, come the two figures the benchmark
 * compares the pipeline to: the critical-path lower bound (the longest chain of calls, what a
 * perfectly parallel pipeline takes) and the sum (what the same calls take awaited one by one).
 * pipeline.ts is the truth; this is its summary, and a test holds the two together on the virtual
 * clock.
 */
import type { BackendName } from './backend-calls.ts'

/** Which calls a request makes, besides its shape. */
export interface Scenario {
  /** Whether memcache misses (cold: the database answers and memcache is repopulated) or hits. */
  cache: 'cold' | 'warm'
  /** A new visitor (no cookie: a session is created) or a returning one (the session is in memcache). */
  visitor: 'new' | 'returning'
  /** How many attribute queries run (1 to 5). */
  queries: number
  /** How many rate limiters apply (3 without a known AS, else 4). */
  limiters: number
}

/** A call of the graph: its backend, how many such calls run side by side, and what it waits for. */
interface Node {
  backend: BackendName
  count: number
  after: readonly string[]
}

/**
 * The calls of one request, as pipeline.ts makes them. Calls named in `after` finish before the call
 * starts; a step's calls wait for the previous step's (the `await`s between steps).
 */
export function pipelineGraph(scenario: Scenario): Record<string, Node> {
  const cold = scenario.cache === 'cold'
  const q = scenario.queries
  const graph: Record<string, Node> = {
    // 1a
    geocode: { backend: 'geocoder', count: 1, after: [] },
    // 1b
    'network from memcache': { backend: 'memcache', count: 1, after: [] },
    ...(cold && {
      'ip database': { backend: 'database', count: 1, after: ['network from memcache'] },
      'network to memcache': { backend: 'memcache', count: 1, after: ['ip database'] },
    }),
    limiters: {
      backend: 'memcache',
      count: scenario.limiters,
      after: [cold ? 'ip database' : 'network from memcache'],
    },
  }
  // 1c: a returning visitor's session from memcache; a new one's saved, cached and set once the
  // limits let the request through.
  const session =
    scenario.visitor === 'returning'
      ? ['session from memcache']
      : ['enqueue save session', 'session to memcache']
  if (scenario.visitor === 'returning') {
    graph['session from memcache'] = { backend: 'memcache', count: 1, after: [] }
  } else {
    graph['enqueue save session'] = { backend: 'queue', count: 1, after: ['limiters'] }
    graph['session to memcache'] = { backend: 'memcache', count: 1, after: ['limiters'] }
  }
  // 2: the geocode and the session; 3: the attribute queries.
  const step2 = ['geocode', ...session]
  graph['query memcache'] = { backend: 'memcache', count: q, after: step2 }
  if (cold) {
    graph['query database'] = { backend: 'database', count: q, after: ['query memcache'] }
    graph['query to memcache'] = { backend: 'memcache', count: q, after: ['query database'] }
  }
  graph['result rate limits'] = {
    backend: 'redis',
    count: q,
    after: [cold ? 'query database' : 'query memcache'],
  }
  // 4: the rate limits are in by now. 5: the side effects, after the ranking.
  const step3 = ['result rate limits', ...(cold ? ['query to memcache'] : []), 'limiters']
  graph['count results served'] = { backend: 'redis', count: 1, after: step3 }
  graph['enqueue log ranking decision'] = { backend: 'queue', count: 1, after: step3 }
  graph['enqueue update session'] = { backend: 'queue', count: 1, after: step3 }
  graph['update session in memcache'] = { backend: 'memcache', count: 1, after: step3 }
  return graph
}

/** Latency of each backend's calls, in ms. */
export type BackendLatencies = Readonly<Record<BackendName, number>>

/** The longest chain of calls: the least time the request can take. */
export function criticalPathBound(graph: Record<string, Node>, latencies: BackendLatencies): number {
  const finish = new Map<string, number>()
  const finishOf = (name: string): number => {
    const known = finish.get(name)
    if (known !== undefined) return known
    const node = graph[name]
    if (node === undefined) throw new Error(`pipelineGraph: no call named "${name}"`)
    const start = Math.max(0, ...node.after.map(finishOf))
    const end = start + latencies[node.backend]
    finish.set(name, end)
    return end
  }
  return Math.max(...Object.keys(graph).map(finishOf))
}

/** Every call's latency added up: the time of the same calls awaited one by one. */
export function sequentialSum(graph: Record<string, Node>, latencies: BackendLatencies): number {
  return Object.values(graph).reduce((sum, node) => sum + node.count * latencies[node.backend], 0)
}

/** Calls per backend in the graph. */
export function callsPerBackend(graph: Record<string, Node>): Record<BackendName, number> {
  const calls: Record<BackendName, number> = { geocoder: 0, database: 0, memcache: 0, redis: 0, queue: 0 }
  for (const node of Object.values(graph)) calls[node.backend] += node.count
  return calls
}
