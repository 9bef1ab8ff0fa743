/**
 * The PostgreSQL queue's statements. Every one that depends on time takes `now` (epoch ms) as an
 * argument: the queue passes its clock's time, tests pass whatever instant they examine.
 */
import { randomUUID } from 'node:crypto'
import type { Database } from 'weft/sql'
import { migrate } from 'weft/sql'
import { migrationsOf } from './postgres-schema.ts'
import type { DeadLetter, TaskCounts } from './task-queue.ts'

/** A task to insert. `payload` is its JSON text. */
export interface NewTask {
  readonly id: string
  readonly name: string
  readonly payload: string
  readonly maxAttempts: number
  readonly runAt: number
  readonly dedupeKey: string | undefined
  readonly traceparent: string | undefined
}

/** What an insert did for one task. */
export interface Inserted {
  readonly id: string
  readonly deduplicated: boolean
}

/** A task claimed for delivery, with the lease token that fences its outcome. */
export interface Claimed {
  readonly id: string
  readonly token: string
  readonly payload: unknown
  readonly attempt: number
  readonly maxAttempts: number
  readonly dedupeKey: string | undefined
  readonly traceparent: string | undefined
}

/** A lease held by a delivery. */
export interface Lease {
  readonly id: string
  readonly token: string
}

/**
 * The outcome of a delivery, to record: `done`; `queued` again (a retry at `runAt`, or handed back
 * with `refund` so the attempt is not used up); or `dead`.
 */
export interface Settlement extends Lease {
  readonly state: 'done' | 'queued' | 'dead'
  readonly runAt?: number
  readonly refund?: boolean
  readonly error?: string
}

/** What a sweep did. */
export interface Swept {
  /** Tasks whose lease ran out, queued again. */
  readonly requeued: number
  /** Tasks whose lease ran out on their last attempt: dead. */
  readonly dead: number
  /** Finished tasks deleted after their retention. */
  readonly purged: number
}

// Rows touched by one sweep statement at most: a backlog is worked off over several sweeps rather
// than in one long transaction holding many row locks.
const SWEEP_LIMIT = 1000
// How many times an enqueue deduplicated against a task that finished in the meantime is tried again.
const DEDUPE_RETRIES = 3

const epoch = (parameter: string): string => `to_timestamp(${parameter}::float8 / 1000)`

/** The statements of the tasks table `table` on `db`. */
export class TaskStore {
  readonly #db: Database
  readonly #table: string
  #schema: Promise<unknown> | undefined

  constructor(db: Database, table: string) {
    this.#db = db
    this.#table = table
  }

  /**
   * Creates the table on first use (migrations are recorded, so this is one query afterwards), in a
   * migrations table of the queue's own: `schema_migrations` belongs to the application.
   */
  ready(): Promise<unknown> {
    this.#schema ??= migrate(this.#db, migrationsOf(this.#table), { table: 'weft_queue_migrations' }).catch(
      (error: unknown) => {
        this.#schema = undefined // tried again by the next call: the server may be back
        throw error
      },
    )
    return this.#schema
  }

  /**
   * Inserts `tasks` in one statement, in order. A task whose `dedupeKey` is held by a pending task of
   * its name (or by an earlier task of the same batch) is not inserted: its result names that task.
   */
  insert(tasks: readonly NewTask[], now: number): Promise<Inserted[]> {
    return this.#insert(tasks, now, 0)
  }

  async #insert(tasks: readonly NewTask[], now: number, round: number): Promise<Inserted[]> {
    const rows = `[${tasks.map((task, ordinal) => taskJson(task, ordinal)).join(',')}]`
    const { rows: inserted } = await this.#db.query<{ id: string }>(
      `INSERT INTO ${this.#table} (id, name, payload, max_attempts, run_at, dedupe_key, traceparent, created_at)
       SELECT id, name, payload, max_attempts, ${epoch('run_at')}, dedupe_key, traceparent, ${epoch('$2')}
       FROM json_to_recordset($1::json) AS x(ordinal int, id uuid, name text, payload json, max_attempts int,
         run_at float8, dedupe_key text, traceparent text)
       ORDER BY ordinal
       ON CONFLICT (name, dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'active') DO NOTHING
       RETURNING id`,
      [rows, now],
      { signal: neverAborted },
    )
    const created = new Set(inserted.map((row) => row.id))
    const results = new Map<string, Inserted>()
    const holders = new Map<string, string>() // dedupe key of a created task -> its id
    for (const task of tasks) {
      if (!created.has(task.id)) continue
      results.set(task.id, { id: task.id, deduplicated: false })
      if (task.dedupeKey !== undefined) holders.set(dedupeOf(task), task.id)
    }
    if (results.size < tasks.length) await this.#deduplicate(tasks, results, holders, now, round)
    return tasks.map((task) => results.get(task.id) as Inserted)
  }

  /** Finds the pending task each task not inserted collided with; inserts again those whose collider finished since. */
  async #deduplicate(
    tasks: readonly NewTask[],
    results: Map<string, Inserted>,
    holders: Map<string, string>,
    now: number,
    round: number,
  ): Promise<void> {
    const colliding = tasks.filter((task) => !results.has(task.id) && !holders.has(dedupeOf(task)))
    if (colliding.some((task) => task.dedupeKey === undefined)) {
      throw new Error('queue: a task without a dedupe key was not inserted (its id is taken)')
    }
    if (colliding.length > 0) {
      const { rows } = await this.#db.query<{ id: string; name: string; dedupe_key: string }>(
        `SELECT id, name, dedupe_key FROM ${this.#table}
         WHERE (name, dedupe_key) IN (SELECT name, dedupe_key FROM json_to_recordset($1::json) AS x(name text, dedupe_key text))
           AND state IN ('queued', 'active')`,
        [JSON.stringify(colliding.map((task) => ({ name: task.name, dedupe_key: task.dedupeKey })))],
        { signal: neverAborted },
      )
      for (const row of rows) holders.set(`${row.name}\0${row.dedupe_key}`, row.id)
    }
    const again: NewTask[] = []
    for (const task of tasks) {
      if (results.has(task.id)) continue
      const holder = holders.get(dedupeOf(task))
      if (holder === undefined) again.push(task)
      else results.set(task.id, { id: holder, deduplicated: true })
    }
    if (again.length === 0) return
    if (round === DEDUPE_RETRIES) {
      throw new Error(
        `queue: the dedupe key ${again[0]?.dedupeKey} kept changing hands: the task was not written`,
      )
    }
    const retried = await this.#insert(again, now, round + 1)
    for (const [i, task] of again.entries()) results.set(task.id, retried[i] as Inserted)
  }

  /**
   * Claims up to `limit` tasks of `name` due at `now`, oldest first, skipping rows other workers are
   * claiming: each gets the next attempt number and a lease until `leaseUntil`, fenced by a new token.
   */
  async claim(name: string, limit: number, now: number, leaseUntil: number): Promise<Claimed[]> {
    const token = randomUUID()
    const { rows } = await this.#db.query<ClaimedRow>(
      `WITH next AS (
         SELECT id FROM ${this.#table}
         WHERE state = 'queued' AND name = $1 AND run_at <= ${epoch('$2')}
         ORDER BY run_at, seq
         LIMIT $3
         FOR UPDATE SKIP LOCKED
       )
       UPDATE ${this.#table} AS t
       SET state = 'active', attempt = t.attempt + 1, lease_until = ${epoch('$4')}, lease_token = $5
       FROM next WHERE t.id = next.id
       RETURNING t.id, t.seq, t.run_at, t.payload, t.attempt, t.max_attempts, t.dedupe_key, t.traceparent`,
      [name, now, limit, leaseUntil, token],
      { signal: neverAborted },
    )
    // RETURNING has no order of its own: deliver in the order the tasks were due and enqueued.
    rows.sort((a, b) => a.run_at.getTime() - b.run_at.getTime() || Number(a.seq) - Number(b.seq))
    return rows.map((row) => ({
      id: row.id,
      token,
      payload: row.payload,
      attempt: row.attempt,
      maxAttempts: row.max_attempts,
      dedupeKey: row.dedupe_key ?? undefined,
      traceparent: row.traceparent ?? undefined,
    }))
  }

  /** Extends `leases` until `leaseUntil`; returns the ids whose lease is still held (the others were lost). */
  async renew(leases: readonly Lease[], leaseUntil: number): Promise<Set<string>> {
    const { rows } = await this.#db.query<{ id: string }>(
      `UPDATE ${this.#table} AS t SET lease_until = ${epoch('$1')}
       FROM unnest($2::uuid[], $3::uuid[]) AS x(id, token)
       WHERE t.id = x.id AND t.lease_token = x.token AND t.state = 'active'
       RETURNING t.id`,
      [leaseUntil, leases.map((lease) => lease.id), leases.map((lease) => lease.token)],
      { signal: neverAborted },
    )
    return new Set(rows.map((row) => row.id))
  }

  /**
   * Records delivery outcomes in one statement. An outcome whose lease was lost meanwhile (another
   * delivery of the task is under way) is ignored; returns the ids recorded.
   */
  async settle(settlements: readonly Settlement[], now: number): Promise<string[]> {
    const { rows } = await this.#db.query<{ id: string }>(
      `UPDATE ${this.#table} AS t
       SET state = x.state,
         run_at = COALESCE(${epoch('x.run_at')}, t.run_at),
         attempt = t.attempt - x.refund,
         last_error = COALESCE(x.error, t.last_error),
         finished_at = CASE WHEN x.state IN ('done', 'dead') THEN ${epoch('$2')} END,
         lease_until = NULL, lease_token = NULL
       FROM json_to_recordset($1::json) AS x(id uuid, token uuid, state text, run_at float8, refund int, error text)
       WHERE t.id = x.id AND t.lease_token = x.token AND t.state = 'active'
       RETURNING t.id`,
      [
        JSON.stringify(
          settlements.map((s) => ({
            id: s.id,
            token: s.token,
            state: s.state,
            run_at: s.runAt ?? null,
            refund: s.refund ? 1 : 0,
            error: s.error ?? null,
          })),
        ),
        now,
      ],
      { signal: neverAborted },
    )
    return rows.map((row) => row.id)
  }

  /**
   * Recovers the tasks of crashed (or stalled) workers: a task whose lease ran out by `now` is queued
   * again, or dead when that was its last attempt. Then deletes tasks finished before `doneBefore`.
   */
  async sweep(now: number, doneBefore: number): Promise<Swept> {
    const { rows } = await this.#db.query<{ state: string }>(
      `WITH expired AS (
         SELECT id FROM ${this.#table}
         WHERE state = 'active' AND lease_until <= ${epoch('$1')}
         ORDER BY lease_until
         LIMIT ${SWEEP_LIMIT}
         FOR UPDATE SKIP LOCKED
       )
       UPDATE ${this.#table} AS t
       SET state = CASE WHEN t.attempt >= t.max_attempts THEN 'dead' ELSE 'queued' END,
         run_at = ${epoch('$1')},
         finished_at = CASE WHEN t.attempt >= t.max_attempts THEN ${epoch('$1')} END,
         last_error = 'delivery ' || t.attempt || ' was lost: its worker stopped renewing the lease (it crashed or stalled)',
         lease_until = NULL, lease_token = NULL
       FROM expired WHERE t.id = expired.id
       RETURNING t.state`,
      [now],
      { signal: neverAborted },
    )
    const { rowCount: purged } = await this.#db.query(
      `DELETE FROM ${this.#table} WHERE id IN (
         SELECT id FROM ${this.#table} WHERE state = 'done' AND finished_at < ${epoch('$1')} LIMIT ${SWEEP_LIMIT}
       )`,
      [doneBefore],
      { signal: neverAborted },
    )
    const dead = rows.filter((row) => row.state === 'dead').length
    return { requeued: rows.length - dead, dead, purged }
  }

  /** Task counts by name and state. */
  async counts(): Promise<Record<string, TaskCounts>> {
    const { rows } = await this.#db.query<{ name: string; state: keyof TaskCounts; count: number }>(
      `SELECT name, state, count(*)::int AS count FROM ${this.#table} GROUP BY name, state ORDER BY name`,
    )
    const counts: Record<string, TaskCounts> = {}
    for (const row of rows) {
      counts[row.name] ??= { queued: 0, active: 0, done: 0, dead: 0 }
      ;(counts[row.name] as TaskCounts)[row.state] = row.count
    }
    return counts
  }

  /** Per name, the age at `now` of the oldest task due and waiting (from its enqueue), in ms. */
  async lag(now: number): Promise<Record<string, number>> {
    const { rows } = await this.#db.query<{ name: string; oldest: number }>(
      `SELECT name, extract(epoch FROM min(created_at))::float8 * 1000 AS oldest FROM ${this.#table}
       WHERE state = 'queued' AND run_at <= ${epoch('$1')} GROUP BY name`,
      [now],
    )
    return Object.fromEntries(rows.map((row) => [row.name, Math.max(0, now - Number(row.oldest))]))
  }

  /** The dead tasks of `name`, most recent first. */
  async deadLetters(name: string, limit: number): Promise<DeadLetter[]> {
    const { rows } = await this.#db.query<DeadRow>(
      `SELECT id, payload, attempt, last_error, finished_at, dedupe_key FROM ${this.#table}
       WHERE name = $1 AND state = 'dead' ORDER BY finished_at DESC, seq DESC LIMIT $2`,
      [name, limit],
    )
    return rows.map((row) => ({
      id: row.id,
      name,
      payload: row.payload,
      attempts: row.attempt,
      error: row.last_error ?? '',
      failedAt: row.finished_at.getTime(),
      dedupeKey: row.dedupe_key ?? undefined,
    }))
  }
}

// The queue's own statements are never cancelled half-way by a caller: each either happens or not,
// and a caller that stops waiting is answered by the layer above.
const neverAborted = new AbortController().signal

interface ClaimedRow {
  id: string
  seq: string
  run_at: Date
  payload: unknown
  attempt: number
  max_attempts: number
  dedupe_key: string | null
  traceparent: string | null
}

interface DeadRow {
  id: string
  payload: unknown
  attempt: number
  last_error: string | null
  finished_at: Date
  dedupe_key: string | null
}

function dedupeOf(task: NewTask): string {
  return `${task.name}\0${task.dedupeKey}`
}

/** One task as a JSON object, its payload spliced in as is (it is JSON text already). */
function taskJson(task: NewTask, ordinal: number): string {
  const fields = JSON.stringify({
    ordinal,
    id: task.id,
    name: task.name,
    max_attempts: task.maxAttempts,
    run_at: task.runAt,
    dedupe_key: task.dedupeKey ?? null,
    traceparent: task.traceparent ?? null,
  })
  return `${fields.slice(0, -1)},"payload":${task.payload}}`
}
