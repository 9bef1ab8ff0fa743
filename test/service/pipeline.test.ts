// The pipeline on in-memory backends with fixed latencies, on the virtual clock: its answers, its
// timing against its dependency graph, its trace, and its degradation policy, step by step.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { criticalPath, DeadlineExceeded, isAbort, scope, sleep, type Trace } from 'weft'
import { withVirtualClock } from 'weft/testing'
import { type Backends, type Call, mapCalls } from '../../service/backend-calls.ts'
import { countingCalls, sequential, withLatency } from '../../service/backend-modes.ts'
import { BackendDown, OverLimit } from '../../service/errors.ts'
import { type MemoryBackends, type MemoryData, memoryBackends } from '../../service/memory-backends.ts'
import {
  type Exchange,
  type PipelineSettings,
  type SearchAnswer,
  type SearchRequest,
  search,
} from '../../service/pipeline.ts'
import {
  callsPerBackend,
  criticalPathBound,
  pipelineGraph,
  sequentialSum,
} from '../../service/pipeline-graph.ts'
import { lisbonVisitor, memoryData, usVisitor } from './fixtures.ts'
import { depth, peakConcurrency } from './trace-shape.ts'

const latencies = { geocoder: 20, database: 10, memcache: 2, redis: 2, queue: 5 }
const settings: PipelineSettings = {
  rateLimits: { limits: { ip: 100, network: 1000, asn: 10_000, global: 100_000 }, window: 60 },
  resultLimit: 1000,
}

let data: MemoryData
before(async () => {
  data = await memoryData()
})

let requests = 0
function request(overrides: Partial<SearchRequest> = {}): SearchRequest {
  requests += 1
  return {
    requestId: `request ${requests}`,
    ip: lisbonVisitor,
    text: 'lis',
    limit: 5,
    languages: ['pt', 'en'],
    sessionId: undefined,
    ...overrides,
  }
}

interface Outcome {
  answer: SearchAnswer | undefined
  error: unknown
  trace: Trace
  /** Session ids set as cookies. */
  cookies: string[]
  /** What was written as the response. */
  responses: SearchAnswer[]
  /** Time the request took on the virtual clock. */
  elapsed: number
}

/** Runs one search as a traced request of its own, on the virtual clock. */
async function run(
  clock: { run<T>(promise: Promise<T>): Promise<T>; now(): number },
  backends: Backends,
  searchRequest: SearchRequest,
  options: Partial<PipelineSettings> = {},
): Promise<Outcome> {
  let trace: Trace | undefined
  const cookies: string[] = []
  const responses: SearchAnswer[] = []
  const exchange: Exchange = {
    setSessionCookie: (id) => cookies.push(id),
    respond: (answer) => responses.push(answer),
  }
  const started = clock.now()
  const request = scope({ name: 'request', trace: (finished) => (trace = finished) }, () =>
    search(backends, searchRequest, exchange, { ...settings, ...options }),
  )
  let answer: SearchAnswer | undefined
  let error: unknown
  try {
    answer = await clock.run(request)
  } catch (caught) {
    error = caught
  }
  assert.ok(trace !== undefined, 'the request was traced')
  return { answer, error, trace, cookies, responses, elapsed: clock.now() - started }
}

// Every call takes some time, as over a network: the virtual clock then moves from one call to the
// next by their timers (weft's embedded memcache answers at the next turn, not at a time).
describe('the search pipeline', () => {
  let memory: MemoryBackends
  let backends: Backends
  before(() => {
    memory = memoryBackends(data)
    backends = withLatency(memory.backends, latencies)
  })
  after(() => memory.close())

  test('answers with the best places first, each with its score and reasons', async () => {
    await withVirtualClock(async (clock) => {
      const { answer, responses, cookies } = await run(clock, backends, request())
      assert.ok(answer !== undefined)
      assert.deepEqual(
        answer.results.slice(0, 2).map(({ name, country }) => [name, country]),
        [
          ['Lisbon', 'PT'],
          ['Lisburn', 'GB'],
        ],
      )
      const [lisbon] = answer.results
      assert.ok(lisbon !== undefined)
      assert.ok(lisbon.why.includes('in your country (PT)'), lisbon.why.join('; '))
      assert.ok(lisbon.why.includes('where Portuguese is spoken'))
      assert.ok(answer.results.every((result, i, all) => i === 0 || (all[i - 1]?.score ?? 0) >= result.score))
      assert.equal(answer.location?.country, 'PT')
      assert.deepEqual(answer.degraded, [])
      assert.deepEqual(responses, [answer], 'the answer is written as the response')
      assert.deepEqual(cookies, [answer.session.id], 'a new session is set as the cookie')
    })
  })

  test('a returning visitor keeps the session, and their recent searches bring back what they found', async () => {
    await withVirtualClock(async (clock) => {
      const first = await run(clock, backends, request({ text: 'lisbon' }))
      const sessionId = first.answer?.session.id
      const second = await run(clock, backends, request({ text: 'l', sessionId }))
      assert.equal(second.answer?.session.id, sessionId)
      assert.equal(second.answer?.session.new, false)
      assert.deepEqual(second.answer?.session.recent, ['l', 'lisbon'])
      assert.deepEqual(second.cookies, [], 'no cookie for a session that exists')
      const lisbon = second.answer?.results.find(
        (result) => result.name === 'Lisbon' && result.country === 'PT',
      )
      assert.ok(lisbon?.why.includes('you searched for "lisbon" recently'), lisbon?.why.join('; '))
    })
  })

  test('a request takes its critical path, and the sequential pipeline the sum of its calls', async () => {
    await withVirtualClock(async (clock) => {
      const fresh = memoryBackends(data)
      try {
        const counting = countingCalls(withLatency(fresh.backends, latencies))
        const scenario = { queries: 5, limiters: 4 } as const
        const cold = await run(clock, counting.backends, request())
        const coldGraph = pipelineGraph({ ...scenario, cache: 'cold', visitor: 'new' })
        assert.equal(cold.elapsed, criticalPathBound(coldGraph, latencies))
        assert.deepEqual(counting.counts(), callsPerBackend(coldGraph))

        const before = counting.counts()
        const sessionId = cold.answer?.session.id
        const warm = await run(clock, counting.backends, request({ sessionId }))
        const warmGraph = pipelineGraph({ ...scenario, cache: 'warm', visitor: 'returning' })
        assert.equal(warm.elapsed, criticalPathBound(warmGraph, latencies))
        const after = counting.counts()
        for (const [backend, calls] of Object.entries(callsPerBackend(warmGraph))) {
          assert.equal(
            after[backend as keyof typeof after] - before[backend as keyof typeof before],
            calls,
            backend,
          )
        }

        const slow = sequential(withLatency(memoryBackends(data).backends, latencies))
        const serial = await run(clock, slow, request())
        assert.equal(serial.elapsed, sequentialSum(coldGraph, latencies))
        assert.ok(serial.elapsed > 2 * cold.elapsed)
      } finally {
        await fresh.close()
      }
    })
  })

  // A warm search's widest moments: the four limiters beside the geocode, the session and the rate
  // limits' own task; then the attribute queries side by side.
  test("a request's trace is 5 layers deep and 7 tasks wide, with the geocode on its critical path", async () => {
    await withVirtualClock(async (clock) => {
      const { trace } = await run(clock, backends, request())
      const spans = trace.toJSON().spans
      assert.ok(depth(spans) >= 5, `depth ${depth(spans)}`)
      assert.ok(peakConcurrency(spans, 'task') >= 7, `peak ${peakConcurrency(spans, 'task')}`)
      const path = criticalPath(trace).path.map((span) => span.name)
      assert.deepEqual(path.slice(0, 3), ['request', 'search', 'geocode'])
    })
  })

  test('over a rate limit: OverLimit, what was running is cancelled, and nothing is saved, cached or set', async () => {
    await withVirtualClock(async (clock) => {
      const fresh = memoryBackends(data)
      try {
        const backends = withLatency(fresh.backends, latencies)
        const strict = {
          ...settings,
          rateLimits: { ...settings.rateLimits, limits: { ...settings.rateLimits.limits, ip: 1 } },
        }
        const allowed = await run(clock, backends, request({ ip: usVisitor }), strict)
        assert.ok(allowed.answer !== undefined)
        const tasksBefore = fresh.tasks.length
        const refused = await run(clock, backends, request({ ip: usVisitor }), strict)
        assert.ok(refused.error instanceof OverLimit)
        assert.equal(refused.error.limiter, 'ip')
        assert.ok(refused.error.retryAfter >= 1 && refused.error.retryAfter <= 60)
        assert.deepEqual(refused.responses, [])
        assert.deepEqual(refused.cookies, [])
        assert.equal(fresh.tasks.length, tasksBefore, 'no task enqueued')
        const spans = refused.trace.toJSON().spans
        const geocode = spans.find((span) => span.name === 'geocode')
        assert.equal(geocode?.status, 'cancelled', 'the geocode (slower than the limits) was cancelled')
        assert.equal(
          spans.find((span) => span.name === 'rate limits' && span.kind === 'task')?.status,
          'error',
        )
        assert.ok(refused.elapsed < allowed.elapsed, 'the refusal does not wait for the rest')
      } finally {
        await fresh.close()
      }
    })
  })
})

describe('the degradation policy', () => {
  let memory: MemoryBackends
  before(() => {
    memory = memoryBackends(data)
  })
  after(() => memory.close())

  /** `memory.backends` (with latencies) whose calls named in `calls` fail when their predicate says so. */
  function failing(calls: Record<string, (...args: never[]) => boolean>): Backends {
    const broken = mapCalls(memory.backends, (backend, name, call): Call => {
      const fails = calls[`${backend}.${name}`]
      return (...args) => (fails?.(...args) ? Promise.reject(new Error('injected failure')) : call(...args))
    })
    return withLatency(broken, latencies)
  }

  test('the geocoder failing: an answer without location, country or nearby places', async () => {
    await withVirtualClock(async (clock) => {
      const { answer } = await run(clock, failing({ 'geocoder.locate': () => true }), request())
      assert.equal(answer?.location, null)
      assert.deepEqual(
        answer?.degraded.map(({ backend, effect }) => [backend, effect]),
        [['geocoder', 'no location']],
      )
      assert.ok(answer?.results[0]?.why.every((reason) => !reason.includes('km from you')))
    })
  })

  test('a memcache shard failing: its rate limiter fails open, and the answer still comes', async () => {
    await withVirtualClock(async (clock) => {
      const [, down] = memory.backends.memcache.shards
      const backends = failing({
        'memcache.incr': (key: string) => memory.backends.memcache.shardOf(key) === down,
      })
      const { answer } = await run(clock, backends, request())
      assert.ok(answer !== undefined && answer.results.length > 0)
      assert.deepEqual(
        answer.degraded.map(({ backend, effect }) => [backend, effect]),
        [[`memcache ${down}`, 'the network rate limit failed open']],
      )
    })
  })

  test('the database failing: the optional queries are dropped, the essential one fails the search', async () => {
    await withVirtualClock(async (clock) => {
      const optionalDown = failing({
        'database.citiesInCountries': () => true,
        'database.citiesInCells': () => true,
      })
      const { answer } = await run(clock, optionalDown, request({ text: 'por' }))
      assert.ok(answer !== undefined && answer.results.length > 0)
      assert.deepEqual(answer.degraded.map(({ effect }) => effect).sort(), [
        'no country results',
        'no language en results',
        'no language pt results',
        'no nearby results',
      ])

      const { error } = await run(
        clock,
        failing({ 'database.citiesStartingWith': () => true }),
        request({ text: 'fa' }),
      )
      assert.ok(error instanceof BackendDown)
      assert.equal(error.backend, 'database')
    })
  })

  test('a side effect the request deadline cuts off after the response is reported, not dropped unsaid', async () => {
    await withVirtualClock(async (clock) => {
      // The queue takes the ranking log past the request's deadline (a stalled Redis, say).
      const slowLog = mapCalls(withLatency(memory.backends, latencies), (backend, name, call): Call => {
        if (`${backend}.${name}` !== 'queue.enqueue') return call
        return async (...args) => {
          if (args[0] === 'log-ranking-decision') await sleep(10_000)
          return call(...args)
        }
      })
      const errors: [string, unknown][] = []
      const responses: SearchAnswer[] = []
      const exchange: Exchange = { setSessionCookie: () => {}, respond: (answer) => responses.push(answer) }
      const searching = scope({ name: 'request', deadline: 500 }, () =>
        search(slowLog, request(), exchange, {
          ...settings,
          onError: (what, error) => errors.push([what, error]),
        }),
      )
      await assert.rejects(clock.run(searching), DeadlineExceeded)
      assert.equal(responses.length, 1, 'the answer went out')
      assert.deepEqual(
        errors.map(([what]) => what),
        ['log-ranking-decision'],
      )
      assert.ok(isAbort(errors[0]?.[1]))
    })
  })

  test('redis and the queue failing: no demotion, no saved session, and still an answer', async () => {
    await withVirtualClock(async (clock) => {
      const backends = failing({ 'redis.servedCounts': () => true, 'queue.enqueue': () => true })
      const errors: string[] = []
      const { answer } = await run(clock, backends, request({ text: 'co' }), {
        onError: (what) => errors.push(what),
      })
      assert.ok(answer !== undefined && answer.results.length > 0)
      assert.deepEqual([...new Set(answer.degraded.map(({ backend }) => backend))].sort(), ['queue', 'redis'])
      assert.deepEqual(errors.sort(), ['log-ranking-decision', 'update-session'])
    })
  })
})
