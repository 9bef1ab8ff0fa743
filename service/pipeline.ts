/**
 * The search pipeline: the seed's "very basic search engine", one function per step.
 *
 * 1. In parallel: geocode the IP (RPC); look the IP up in the IP database (memcache first), then
 *    count the request in N rate limiters on N memcache shards at once; find the session in memcache, or create one and
 *    then, in parallel, enqueue "save session", put it in memcache, set the cookie.
 * 2. Wait for the geocode and the session.
 * 3. In parallel, N attribute queries (text, country, language, nearby, recent searches): each memcache
 *    first, the database on a miss (repopulating memcache), then the result rate limits; rank each
 *    answer as it completes (asCompleted), keep the best once all are in.
 * 4. Wait for the rate-limit check: over a limit is a 503, and everything still running is cancelled.
 * 5. In parallel: count the results served, enqueue "log ranking decision", enqueue "update session",
 *    update the session in memcache, write the response. Wait for all.
 *
 * Degradation policy (what a failing or slow backend costs; every call has a bounded wait, see
 * backends.ts, and the answer lists what it lacks under `degraded`):
 * - geocoder down, slow or answering garbage: the answer has no location (no country, no nearby places);
 * - database down: the IP database lookup is skipped (no AS limiter); the optional attribute queries
 *   are dropped; the query text's query, which the answer cannot do without, fails the request with a
 *   503 naming the database unless memcache has its answer; a session not in memcache is new;
 * - a memcache shard down: its rate limiter fails open (counting nothing rather than refusing
 *   everyone), sessions on it are read from the database, its cached queries run on the database;
 * - redis down: no result is demoted, and the counts are not updated;
 * - queue down: the session is not saved (it lives on in memcache), and the ranking is not logged.
 * Side effects after the response was written (step 5) cannot change it: their failures are reported
 * to `onError`, cancellations included (the request's deadline cutting one off, the server stopping). A request over the rate limits leaves no side effect but its counts in the limiters
 * (and what its lookups put in memcache): a new session is saved, cached and set only once the limits
 * have let the request through, and nothing is enqueued before.
 */
import { asCompleted, clock, currentSignal, currentSpan, type Scope, scope, type Task } from 'weft'
import { type AttributeQuery, attributeQueries, attributeTtl } from './attributes.ts'
import type { Backends, City, IpNetwork, Place, RankingDecision } from './backend-calls.ts'
import { limiterNames } from './config.ts'
import { type Degradation, Degradations, optional } from './degradation.ts'
import { BackendDown, OverLimit } from './errors.ts'
import { type RankedPlace, Ranking, type Searcher } from './ranking.ts'
import {
  counterKey,
  type Limiter,
  limitersFor,
  type RateLimitPolicy,
  shardFor,
  windowAt,
} from './rate-limits.ts'
import { afterSearch, isSession, newSession, type Session } from './session.ts'

/** A search, as the server parsed and checked it. */
export interface SearchRequest {
  /** Unique per request: names its ranking decision and the side effects' dedupe keys. */
  readonly requestId: string
  /** The client's address, canonical. */
  readonly ip: string
  /** The search text, trimmed, 1 to 200 characters. */
  readonly text: string
  /** How many results, 1 to 50. */
  readonly limit: number
  /** From `Accept-Language`, best first. */
  readonly languages: readonly string[]
  /** The session named by a valid cookie, if any. */
  readonly sessionId: string | undefined
}

/** What the pipeline does to the HTTP exchange. */
export interface Exchange {
  /** Sets the cookie naming a new session on the response. */
  setSessionCookie(sessionId: string): void
  /** Writes the answer. */
  respond(answer: SearchAnswer): unknown
}

/** The answer to a search. */
export interface SearchAnswer {
  query: string
  results: RankedPlace[]
  /** Where the client is, when the geocoder knows. */
  location: Place | null
  session: { id: string; new: boolean; searches: number; recent: string[] }
  traceId: string | null
  /** What the answer lacks because a backend failed; empty when nothing did. */
  degraded: Degradation[]
}

/** The pipeline's settings. */
export interface PipelineSettings {
  readonly rateLimits: RateLimitPolicy
  /** Servings per window past which a result is demoted. */
  readonly resultLimit: number
  /** Receives the failures of side effects made after the response was written. */
  readonly onError?: (what: string, error: unknown) => void
}

/** How long a session stays in memcache after its last use, in seconds. */
export const sessionTtl = 24 * 3600

/** Runs one search (see the module comment). Rejects with `OverLimit` or `BackendDown` when it cannot answer. */
export function search(
  backends: Backends,
  request: SearchRequest,
  exchange: Exchange,
  settings: PipelineSettings,
): Promise<SearchAnswer> {
  return scope({ name: 'search' }, async (s) => {
    const notes = new Degradations()
    // 1. In parallel: the geocode, the rate limits, the session.
    const location = s.spawn('geocode', () => geocode(backends, request.ip, notes))
    const limits = s.spawn('rate limits', () =>
      checkRateLimits(backends, request.ip, settings.rateLimits, notes),
    )
    const session = s.spawn('session', () => loadOrCreateSession(backends, request, exchange, limits, notes))

    // 2. Wait for the geocode and the session.
    const [place, visitor] = await Promise.all([location, session])

    // 3. The attribute queries in parallel, ranked as each completes.
    const searcher: Searcher = {
      text: request.text,
      place,
      languages: request.languages,
      recent: visitor.session.recent,
    }
    const ranking = await rankAttributeQueries(backends, searcher, settings.resultLimit, notes)
    const results = ranking.best(request.limit)

    // 4. Wait for the rate-limit check (a refusal fails the scope as soon as it is known).
    await limits

    // 5. In parallel: the side effects and the response.
    const updated = afterSearch(visitor.session, request.text, clock().now())
    const answer: SearchAnswer = {
      query: request.text,
      results,
      location: place ?? null,
      session: { id: updated.id, new: visitor.created, searches: updated.searches, recent: updated.recent },
      traceId: currentSpan()?.trace.id ?? null,
      degraded: notes.list(),
    }
    await finish(backends, request, updated, answer, exchange, settings)
    return answer
  })
}

/** Step 1a: where the client is; without it (geocoder down, or no position known) the answer has no location. */
function geocode(backends: Backends, ip: string, notes: Degradations): Promise<Place | undefined> {
  return optional(notes, 'geocoder', 'no location', () => backends.geocoder.locate(ip), undefined)
}

/**
 * Step 1b: the client's network from the IP database (memcache first), then every rate limiter at
 * once, each on its own shard. Throws `OverLimit` as soon as one count is over its limit, which
 * cancels the request.
 */
function checkRateLimits(
  backends: Backends,
  ip: string,
  policy: RateLimitPolicy,
  notes: Degradations,
): Promise<void> {
  // The body of the task "rate limits", whose span names it: no span of its own (nor "session"'s).
  return scope({ name: 'rate limits', span: false }, async (r) => {
    const network = await lookUpNetwork(r, backends, ip, notes)
    const { index, retryAfter } = windowAt(clock().now(), policy.window)
    const counts = limitersFor(ip, network, policy).map((limiter) =>
      r.spawn(`limiter ${limiter.name}`, async () => ({
        limiter,
        count: await countRequest(backends, limiter, index, policy.window, notes),
      })),
    )
    for await (const { limiter, count } of asCompleted(counts)) {
      if (count > limiter.limit) throw new OverLimit(limiter.name, limiter.limit, retryAfter)
    }
  })
}

/**
 * The client's range of the IP database: memcache first, the database on a miss, memcache repopulated
 * (in the background of `r`, while the limiters count) with what it said, "no range" included.
 */
async function lookUpNetwork(
  r: Scope,
  backends: Backends,
  ip: string,
  notes: Degradations,
): Promise<IpNetwork | undefined> {
  const { memcache, database } = backends
  const key = `network:${ip}`
  const cached = await r.spawn('network from memcache', () =>
    optional(notes, 'memcache', 'network read from the database', () => memcache.get(key), undefined),
  )
  if (isCachedNetwork(cached)) return cached.network ?? undefined
  const found = await r.spawn('ip database', () =>
    optional(
      notes,
      'database',
      'no AS rate limit',
      async () => ({ network: (await database.networkOf(ip)) ?? null }),
      undefined,
    ),
  )
  if (found === undefined) return undefined // the database failed: nothing to remember
  r.spawn('network to memcache', () =>
    optional(notes, 'memcache', 'network not cached', () => memcache.set(key, found, networkTtl), undefined),
  )
  return found.network ?? undefined
}

/** How long memcache remembers an address's network, in seconds. */
const networkTtl = 3600

function isCachedNetwork(value: unknown): value is { network: IpNetwork | null } {
  return typeof value === 'object' && value !== null && 'network' in value
}

/** One limiter's count of this request, on its shard; a shard that fails counts 0 (fails open). */
function countRequest(
  backends: Backends,
  limiter: Limiter,
  index: number,
  window: number,
  notes: Degradations,
): Promise<number> {
  const { memcache } = backends
  const shard = shardFor(limiterNames.indexOf(limiter.name), memcache.shards)
  const key = counterKey(limiter, index, shard, (k) => memcache.shardOf(k))
  return optional(
    notes,
    `memcache ${shard}`,
    `the ${limiter.name} rate limit failed open`,
    () => memcache.incr(key, window + 1),
    0,
  )
}

/** A session and whether this request created it. */
interface Visitor {
  session: Session
  created: boolean
}

/**
 * Step 1c: the session named by the cookie, from memcache (or, when memcache misses or fails, from the
 * database); else a new one, which, once the rate limits have let the request through, is in
 * parallel enqueued for saving, put in memcache, and set as the cookie.
 */
function loadOrCreateSession(
  backends: Backends,
  request: SearchRequest,
  exchange: Exchange,
  limits: Task<void>,
  notes: Degradations,
): Promise<Visitor> {
  return scope({ name: 'session', span: false }, async (s) => {
    const id = request.sessionId
    if (id !== undefined) {
      const cached = await s.spawn('session from memcache', () =>
        optional(
          notes,
          'memcache',
          'session read from the database',
          () => backends.memcache.get(sessionKey(id)),
          undefined,
        ),
      )
      if (isSession(cached)) return { session: cached, created: false }
      const saved = await s.spawn('session from database', () =>
        optional(notes, 'database', 'new session', () => backends.database.session(id), undefined),
      )
      // Back into memcache with this search, in step 5.
      if (saved !== undefined) return { session: saved, created: false }
    }
    const session = newSession(clock().now())
    await limits // a request the limits refuse saves, caches and sets nothing
    await Promise.all([
      s.spawn('enqueue save session', () =>
        optional(
          notes,
          'queue',
          'session not saved',
          () => backends.queue.enqueue('save-session', { session }, `save ${session.id}`),
          undefined,
        ),
      ),
      s.spawn('session to memcache', () =>
        optional(
          notes,
          'memcache',
          'session not cached',
          () => backends.memcache.set(sessionKey(session.id), session, sessionTtl),
          undefined,
        ),
      ),
      s.spawn('set session cookie', () => exchange.setSessionCookie(session.id)),
    ])
    return { session, created: true }
  })
}

/** What one attribute query found, and how often each place was served this window. */
interface Found {
  query: AttributeQuery
  cities: City[]
  served: number[]
}

/**
 * Step 3: every attribute query at once, each answer folded into the ranking as it completes. Fails
 * (and cancels the others) only when the query text's own query cannot be answered.
 */
function rankAttributeQueries(
  backends: Backends,
  searcher: Searcher,
  resultLimit: number,
  notes: Degradations,
): Promise<Ranking> {
  return scope({ name: 'attribute queries' }, async (s) => {
    const ranking = new Ranking(searcher, resultLimit)
    const queries = attributeQueries(searcher).map((query) =>
      s.spawn(`query ${query.name}`, () => runAttributeQuery(s, backends, query, notes)),
    )
    for await (const found of asCompleted(queries))
      ranking.add(found.query.attribute, found.cities, found.served)
    return ranking
  })
}

/**
 * One attribute query: memcache first; on a miss the database, then memcache repopulated (in the
 * background of `s`, the attribute queries' scope) while the result rate limits are looked up. The
 * steps one after the other are awaited in the query's task, not spawned as tasks of their own: each
 * backend call has its span already, and a task and span per awaited step cost the search a sixth of
 * its spans for nothing a trace did not show.
 */
async function runAttributeQuery(
  s: Scope,
  backends: Backends,
  query: AttributeQuery,
  notes: Degradations,
): Promise<Found> {
  const cached = await optional(
    notes,
    'memcache',
    `${query.name} query not cached`,
    () => backends.memcache.get(query.cacheKey),
    undefined,
  )
  let cities = Array.isArray(cached) ? (cached as City[]) : undefined
  if (cities === undefined) {
    const fresh = await queryDatabase(backends, query, notes)
    s.spawn(`repopulate memcache ${query.name}`, () =>
      optional(
        notes,
        'memcache',
        `${query.name} query not cached`,
        () => backends.memcache.set(query.cacheKey, fresh, attributeTtl),
        undefined,
      ),
    )
    cities = fresh
  }
  const ids = cities.map((city) => city.id)
  const served = await optional(
    notes,
    'redis',
    'no result demoted',
    () => backends.redis.servedCounts(ids),
    ids.map(() => 0),
  )
  return { query, cities, served }
}

/** An attribute query on the database: the essential one fails the search, the others are dropped. */
async function queryDatabase(
  backends: Backends,
  query: AttributeQuery,
  notes: Degradations,
): Promise<City[]> {
  if (query.essential) {
    const signal = currentSignal()
    try {
      return await query.run(backends.database)
    } catch (error) {
      throw signal.aborted ? error : new BackendDown('database', error)
    }
  }
  return optional(notes, 'database', `no ${query.name} results`, () => query.run(backends.database), [])
}

/**
 * Step 5: the side effects and the response, all at once, and wait for all. The response goes out
 * with the rest: it waits for none of them, and the tasks enqueued run later, on the worker.
 */
function finish(
  backends: Backends,
  request: SearchRequest,
  session: Session,
  answer: SearchAnswer,
  exchange: Exchange,
  settings: PipelineSettings,
): Promise<void> {
  const decision: RankingDecision = {
    requestId: request.requestId,
    traceId: answer.traceId ?? undefined,
    query: request.text,
    results: answer.results.map(({ id, name, score, why }) => ({ id, name, score, why })),
  }
  const ids = answer.results.map((result) => result.id)
  // Every failure is reported, a cancellation too: the answer is out by then, so what cancels a side
  // effect (the request's deadline, the server stopping) loses it, and the log must say so.
  const sideEffect = (what: string, effect: () => Promise<void>) => () =>
    effect().catch((error: unknown) => settings.onError?.(what, error))
  return scope({ name: 'finish' }, (f) => {
    f.spawn(
      'count results served',
      sideEffect('count results served', () => backends.redis.countServed(ids)),
    )
    f.spawn(
      'enqueue log ranking decision',
      sideEffect('log-ranking-decision', () =>
        backends.queue.enqueue('log-ranking-decision', decision, `log ${request.requestId}`),
      ),
    )
    f.spawn(
      'enqueue update session',
      sideEffect('update-session', () =>
        backends.queue.enqueue('update-session', { session }, `update ${request.requestId}`),
      ),
    )
    f.spawn(
      'update session in memcache',
      sideEffect('update session in memcache', () =>
        backends.memcache.set(sessionKey(session.id), session, sessionTtl),
      ),
    )
    f.spawn('write response', () => exchange.respond(answer))
  })
}

/** The memcache key of a session. */
export function sessionKey(id: string): string {
  return `session:${id}`
}
