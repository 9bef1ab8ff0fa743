/**
 * The task worker: runs what the pipeline enqueues, after the response has gone out.
 *
 * - `save-session`: inserts the new session (a session saved already is left alone);
 * - `update-session`: writes the session after a search, unless the row holds a later state;
 * - `log-ranking-decision`: inserts the search's ranking into `ranking_log`, once per request.
 *
 * Delivery is at least once, so every handler is idempotent: each write is one statement keyed by
 * what it is about (the session id, the request id), and running it twice leaves the row as running
 * it once. Concurrent or reordered deliveries of one session converge too: a session's `updatedAt`
 * orders its states, and an older state never overwrites a newer one.
 */
import type { TaskContext, TaskQueue, Worker } from 'weft/queue'
import type { Database } from 'weft/sql'
import type { RankingDecision, TaskName, TaskPayloads } from './backend-calls.ts'
import { isSession, type Session } from './session.ts'

/** Options of {@link startWorkers}. */
export interface WorkerSettings {
  /** Deliveries each task name runs at once. Default 4. */
  concurrency?: number
  /** Time budget of one delivery, in ms. Default 10 000. */
  timeout?: number
}

/** The handler of each task name. */
export function taskHandlers(db: Database): {
  [N in TaskName]: (payload: TaskPayloads[N], task: TaskContext) => Promise<void>
} {
  return {
    'save-session': async ({ session }) => {
      checkSession(session)
      await db.query(
        `INSERT INTO sessions (id, data, created_at, updated_at)
         VALUES ($1, $2::jsonb, to_timestamp($3 / 1000.0), to_timestamp($4 / 1000.0))
         ON CONFLICT (id) DO NOTHING`,
        [session.id, JSON.stringify(session), session.createdAt, session.updatedAt],
      )
    },
    'update-session': async ({ session }) => {
      checkSession(session)
      await db.query(
        `INSERT INTO sessions AS saved (id, data, created_at, updated_at)
         VALUES ($1, $2::jsonb, to_timestamp($3 / 1000.0), to_timestamp($4 / 1000.0))
         ON CONFLICT (id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at
         WHERE saved.updated_at <= excluded.updated_at`,
        [session.id, JSON.stringify(session), session.createdAt, session.updatedAt],
      )
    },
    'log-ranking-decision': async (decision) => {
      checkDecision(decision)
      await db.query(
        `INSERT INTO ranking_log (request_id, trace_id, query, results) VALUES ($1, $2, $3, $4::jsonb)
         ON CONFLICT (request_id) DO NOTHING`,
        [decision.requestId, decision.traceId ?? null, decision.query, JSON.stringify(decision.results)],
      )
    },
  }
}

/** Starts a worker per task name on `queue`, writing to `db`. Close them with `queue.close()` (or each). */
export function startWorkers(queue: TaskQueue, db: Database, settings: WorkerSettings = {}): Worker[] {
  const { concurrency = 4, timeout = 10_000 } = settings
  const handlers = taskHandlers(db)
  return (Object.keys(handlers) as TaskName[]).map((name) =>
    queue.worker(name, handlers[name] as (payload: unknown, task: TaskContext) => Promise<void>, {
      concurrency,
      timeout,
    }),
  )
}

// A malformed payload fails its delivery (and, after its attempts, becomes a dead letter to inspect)
// rather than writing garbage.
function checkSession(session: Session): void {
  if (!isSession(session)) throw new TypeError(`not a session: ${JSON.stringify(session)}`)
}

function checkDecision(decision: RankingDecision): void {
  if (
    typeof decision?.requestId !== 'string' ||
    typeof decision.query !== 'string' ||
    !Array.isArray(decision.results)
  ) {
    throw new TypeError(`not a ranking decision: ${JSON.stringify(decision)}`)
  }
}
