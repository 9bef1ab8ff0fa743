// Scenario 6: clients that give up mid-request. Half the searches are aborted by their client while
// their SQL statements run (a slowdown inside PostgreSQL keeps each one running for `delay`): the
// service must cancel those statements on the server, and leave no connection checked out of its
// pool. The other half must still answer 200.
//
// The slowdown: the corpus table is put behind a view whose filter first sleeps in PostgreSQL
// (`pg_sleep`, which a cancel request interrupts), counting in two sequences the sleeps that started
// and the ones that ran to their end. Sequences ignore rollbacks, so after the run the difference is
// what PostgreSQL itself says was cut short.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { request } from 'undici'
import type { Database } from 'weft/sql'
import { eventually } from '../service/support.ts'
import { type FaultService, runConcurrently, startFaultService } from './in-process.ts'
import { reportScenario, StatusTally } from './report.ts'

/** How long each corpus statement sleeps in PostgreSQL, in seconds. */
const delay = 0.5
/** When an aborting client gives up, in ms after sending: well inside the statement's sleep. */
const abortAfter = 200
const searches = 200
const concurrency = 6

async function slowCorpus(db: Database): Promise<void> {
  await db.query(`
    CREATE SEQUENCE fault_sleeps_started;
    CREATE SEQUENCE fault_sleeps_finished;
    CREATE TABLE fault_delay (seconds float8 NOT NULL);
    INSERT INTO fault_delay VALUES (0);
    CREATE FUNCTION fault_sleep() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
      DECLARE wait float8;
      BEGIN
        SELECT seconds INTO wait FROM fault_delay;
        IF wait > 0 THEN
          PERFORM nextval('fault_sleeps_started');
          PERFORM pg_sleep(wait);
          PERFORM nextval('fault_sleeps_finished');
        END IF;
        RETURN true;
      END $$;
    ALTER TABLE cities RENAME TO cities_data;
    -- An uncorrelated subquery: evaluated once per statement, however many keys a batch holds.
    CREATE VIEW cities AS SELECT * FROM cities_data WHERE (SELECT fault_sleep())`)
}

/** The sleeps started and finished so far, from the sequences (0 before the first). */
async function sleeps(db: Database): Promise<{ started: number; finished: number }> {
  const { rows } = await db.query<{ started: string; finished: string }>(
    `SELECT (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM fault_sleeps_started) AS started,
            (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM fault_sleeps_finished) AS finished`,
  )
  const row = rows[0] as { started: string; finished: string }
  return { started: Number(row.started), finished: Number(row.finished) }
}

/** The statements of the service on the corpus that PostgreSQL is running now. */
async function corpusStatementsRunning(db: Database): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
        AND query LIKE '%cities%'`,
  )
  return Number(rows[0]?.n)
}

let running: FaultService

before(async () => {
  running = await startFaultService({
    prepare: slowCorpus,
    // Enough connections that no search waits for one: the aborted ones are cut mid-statement.
    poolSize: 40,
    env: { RATE_LIMITS: 'ip=1000000,network=1000000,asn=1000000,global=1000000' },
  })
})

after(() => running?.close())

test('clients that disconnect mid-request: their statements are cancelled, no connection stays checked out', async () => {
  const { admin } = running
  const db = running.service.runtime.resources.db
  // Warm the paths that do not depend on the query text (the visitor's network, the session), fast.
  await running.service.search('94.132.0.1', { q: 'warm' })
  await admin.query('UPDATE fault_delay SET seconds = $1', [delay])
  const before = db.stats()
  const tally = new StatusTally()
  let aborted = 0
  const started = performance.now()
  await runConcurrently(searches, concurrency, async (i) => {
    const gives = i % 2 === 0
    // A query text of its own: no cache holds its answer, so its statements reach PostgreSQL.
    const url = `${running.url}/search?q=${encodeURIComponent(`w${i}x`)}`
    const signal = gives ? AbortSignal.timeout(abortAfter) : undefined
    try {
      const answer = await request(url, {
        headers: { 'x-forwarded-for': `94.132.${i % 200}.${(i % 250) + 1}` },
        ...(signal !== undefined && { signal }),
      })
      await answer.body.dump()
      tally.record(answer.statusCode)
    } catch (error) {
      if (gives && (error as Error).name === 'TimeoutError') aborted += 1
      else tally.record('error')
    }
  })
  const runMs = Math.round(performance.now() - started)
  // Everything the service started has wound down: nothing running on the server, every connection back.
  const settledAt = performance.now()
  await eventually(async () => {
    assert.equal(await corpusStatementsRunning(admin), 0)
    const { pool } = db.stats()
    assert.equal(pool.waiting, 0)
    assert.equal(pool.idle, pool.open, `checked out: ${pool.open - pool.idle}`)
  }, 10_000)
  const settleMs = Math.round(performance.now() - settledAt)
  await admin.query('UPDATE fault_delay SET seconds = 0')
  const after = db.stats()
  const { started: sleepsStarted, finished: sleepsFinished } = await sleeps(admin)
  const figures = {
    requests: tally.requests + aborted,
    statuses: { ...tally.statuses, aborted },
    abortedByClient: aborted,
    corpusStatementsStarted: sleepsStarted,
    corpusStatementsFinished: sleepsFinished,
    corpusStatementsCancelledOnServer: sleepsStarted - sleepsFinished,
    cancelRequestsSent: after.cancelRequests - before.cancelRequests,
    pool: after.pool,
    runMs,
    settleMs,
  }
  await reportScenario('clients disconnecting', figures)
  assert.equal(aborted, searches / 2)
  assert.deepEqual(tally.statuses, { 200: searches / 2 }, JSON.stringify(figures))
  // Each aborted search had at least its query text's statement running: all of them were cut short.
  assert.ok(figures.corpusStatementsCancelledOnServer >= searches / 2, JSON.stringify(figures))
  assert.ok(figures.cancelRequestsSent >= figures.corpusStatementsCancelledOnServer, JSON.stringify(figures))
  // The searches that stayed got their answers, whose statements ran to their end.
  assert.ok(sleepsFinished >= searches / 2, JSON.stringify(figures))
})
