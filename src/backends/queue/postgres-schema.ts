/** The PostgreSQL queue's table, created by forward-only migrations the first time a queue is used. */
import type { Migration } from 'weft/sql'

const identifier = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/

/** True when `table` can name the tasks table: a lower-case identifier, optionally schema-qualified. */
export function isTableName(table: string): boolean {
  return identifier.test(table)
}

/**
 * The migrations of the tasks table `table`.
 *
 * One row per task. Times are the workers' and producers' clock (weft's `clock()`), passed in as
 * parameters rather than read from `now()`: then a virtual clock drives delays, backoff and leases in
 * tests, and the only requirement on machines is the one any lease has, clocks that agree to well
 * within a lease. `seq` orders tasks due at the same time first come, first served. The partial
 * indexes are the queue's three questions: what is due (`ready`), whose lease ran out (`leased`), and
 * is a task with this key pending (`dedupe`, also what makes deduplication atomic).
 */
export function migrationsOf(table: string): Migration[] {
  const base = table.slice(table.indexOf('.') + 1)
  return [
    {
      id: `weft_queue:${table}:001_tasks`,
      sql: `
CREATE TABLE ${table} (
  id uuid PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  name text NOT NULL,
  payload json NOT NULL,
  state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'active', 'done', 'dead')),
  attempt int NOT NULL DEFAULT 0,
  max_attempts int NOT NULL CHECK (max_attempts >= 1),
  run_at timestamptz NOT NULL,
  lease_until timestamptz,
  lease_token uuid,
  dedupe_key text,
  traceparent text,
  last_error text,
  created_at timestamptz NOT NULL,
  finished_at timestamptz
);
CREATE INDEX ${base}_ready ON ${table} (name, run_at, seq) WHERE state = 'queued';
CREATE INDEX ${base}_leased ON ${table} (lease_until) WHERE state = 'active';
CREATE UNIQUE INDEX ${base}_dedupe ON ${table} (name, dedupe_key)
  WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'active');
CREATE INDEX ${base}_finished ON ${table} (finished_at) WHERE state = 'done';
CREATE INDEX ${base}_dead ON ${table} (name, finished_at) WHERE state = 'dead';
`,
    },
  ]
}
