// PostgreSQL over real sockets against the SQL contract, and what only a server does: cancel
// requests, statement timeouts, connection failures.
import assert from 'node:assert/strict'
import { type AddressInfo, createServer, type Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { AbortError, BackendRefused, BackendTimeout, DeadlineExceeded, scope } from 'weft'
import { type Database, postgres } from 'weft/sql'
import { withVirtualClock } from 'weft/testing'
import { createTestDatabase, type TestDatabase } from '../../../src/testing/postgres.ts'
import { sqlContract, traced } from './contract.ts'

let database: TestDatabase
before(async () => {
  database = await createTestDatabase()
})
after(() => database.drop())

sqlContract('PostgreSQL', {
  open: async (options) => postgres(database.url, options),
  cleanup: async () => {},
})

/** Polls `condition` every few ms until it holds; returns how long that took, or fails after `within` ms. */
async function eventually(condition: () => Promise<boolean>, within: number): Promise<number> {
  const start = performance.now()
  while (!(await condition())) {
    if (performance.now() - start > within) assert.fail(`the condition did not hold within ${within} ms`)
    await delay(10)
  }
  return performance.now() - start
}

describe('PostgreSQL', () => {
  let db: Database
  let observer: Database
  before(() => {
    db = postgres(database.url, { max: 4 })
    observer = postgres(database.url, { max: 1 })
  })
  after(() => Promise.all([db.close(), observer.close()]))

  const running = async (text: string): Promise<number> => {
    const { rows } = await observer.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query = $1`,
      [text],
    )
    return rows[0]?.n ?? 0
  }

  describe('cancellation', () => {
    test('an aborted statement rejects at once and is gone from pg_stat_activity within 1 s', async () => {
      const text = 'SELECT pg_sleep(10)'
      const controller = new AbortController()
      const query = db.query(text, [], { signal: controller.signal })
      await eventually(async () => (await running(text)) === 1, 2_000)
      const aborted = performance.now()
      controller.abort(new Error('client went away'))
      await assert.rejects(query, { name: 'AbortError' })
      assert.ok(performance.now() - aborted < 50, 'the caller does not wait for the server')
      await eventually(async () => (await running(text)) === 0, 1_000)
    })

    test('a statement aborted right after it was sent is cancelled too, however soon the abort comes', async () => {
      const text = 'SELECT pg_sleep(9)'
      await db.query('SELECT 1') // an idle connection: the statement is on the wire within this turn
      const before = db.stats().cancelRequests
      await assert.rejects(
        scope(async (s) => {
          s.spawn('query', () => db.query(text))
          setImmediate(() => s.spawn('fails', () => Promise.reject(new Error('sibling failed'))))
        }),
        /sibling failed/,
      )
      await eventually(async () => (await running(text)) === 0, 1_000)
      assert.ok(db.stats().cancelRequests > before)
    })

    test('a late cancel request never hits the next statement on the connection', async () => {
      await using single = postgres(database.url, { max: 1 })
      // Aborts spread around the moment the statement completes: the cancel request arrives
      // before, during or after it, and the next statement must never be the one cancelled.
      for (let attempt = 0; attempt < 40; attempt += 1) {
        const controller = new AbortController()
        const query = single
          .query('SELECT pg_sleep(0.002)', [], { signal: controller.signal })
          .catch(() => {})
        const abort = (): void => controller.abort()
        if (attempt % 3 === 0) setImmediate(abort)
        else setTimeout(abort, attempt % 4)
        await query
        // Long enough for a cancel request sent for the previous statement to arrive while it runs.
        assert.deepEqual((await single.query('SELECT 1 AS ok, pg_sleep(0.01)::text AS slept')).rows, [
          { ok: 1, slept: '' },
        ])
      }
      assert.ok(single.stats().cancelRequests > 0)
    })

    test('a transaction cancelled by its deadline mid-statement rolls back and releases its connection', async () => {
      await db.query('CREATE TABLE cancelled_tx (id int)')
      const started = performance.now()
      await assert.rejects(
        scope({ deadline: 100 }, () =>
          db.tx(async (tx) => {
            await tx.query('INSERT INTO cancelled_tx VALUES (1)')
            await tx.query('SELECT pg_sleep(10)')
          }),
        ),
        DeadlineExceeded,
      )
      assert.ok(performance.now() - started < 1_000)
      assert.deepEqual((await db.query('SELECT id FROM cancelled_tx')).rows, [])
      const { rows } = await observer.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE '%transaction%'`,
      )
      assert.deepEqual(rows, [{ n: 0 }])
    })
  })

  describe('deadlines and timeouts', () => {
    test('the ambient deadline becomes the statement timeout, in the same round trip', async () => {
      await using single = postgres(database.url, { max: 1 })
      await single.query('SELECT 1')
      const before = single.stats()
      const timeout = "SELECT setting::int AS ms FROM pg_settings WHERE name = 'statement_timeout'"
      const { rows } = await scope({ deadline: 2_000 }, () => single.query<{ ms: number }>(timeout))
      const ms = rows[0]?.ms ?? 0
      assert.ok(ms > 1_500 && ms <= 2_000, `statement_timeout was ${ms} ms`)
      const after = single.stats()
      assert.equal(after.roundTrips - before.roundTrips, 1)
      assert.equal(after.statements - before.statements, 2)
      // Without a deadline the connection's timeout goes back to none, again within the query's round trip.
      assert.deepEqual((await single.query(timeout)).rows, [{ ms: 0 }])
      assert.equal(single.stats().roundTrips - after.roundTrips, 1)
    })

    test('a statement timeout set inside a transaction does not outlive it', async () => {
      await using single = postgres(database.url, { max: 1 })
      const timeout = "SELECT setting::int AS ms FROM pg_settings WHERE name = 'statement_timeout'"
      await assert.rejects(
        scope({ deadline: 2_000 }, () =>
          single.tx(async (tx) => {
            assert.ok(((await tx.query<{ ms: number }>(timeout)).rows[0]?.ms ?? 0) > 1_500)
            throw new Error('roll back')
          }),
        ),
        /roll back/,
      )
      assert.deepEqual((await single.query(timeout)).rows, [{ ms: 0 }])
    })

    test('when the server stops a statement at the deadline first, the caller sees a DeadlineExceeded cancellation', async () => {
      // On a virtual clock the scope's own timer never fires: only the server's statement timeout can.
      await withVirtualClock(async () => {
        await assert.rejects(
          scope({ deadline: 50 }, () => db.query('SELECT pg_sleep(5)')),
          (error) =>
            error instanceof AbortError &&
            error.reason instanceof DeadlineExceeded &&
            error.message.includes(`postgres ${db.address}`),
        )
      })
    })

    test('a query timeout stops the statement on the server and fails with BackendTimeout', async () => {
      await assert.rejects(db.query('SELECT pg_sleep(5)', [], { timeout: 50 }), (error) => {
        assert.ok(error instanceof BackendTimeout)
        assert.equal(error.backend, 'postgres')
        assert.equal(error.address, db.address)
        assert.match(error.message, /50 ms timeout/)
        return true
      })
      assert.deepEqual((await db.query('SELECT 1 AS ok')).rows, [{ ok: 1 }])
    })

    test('records the statement timeout and the bytes of each round trip on the span', async () => {
      const spans = await traced(() =>
        scope({ deadline: 1_000 }, () => db.query('SELECT repeat($1, 1000) AS s', ['x'])),
      )
      const span = spans.find((candidate) => candidate.name === 'sql.query')
      assert.ok(Number(span?.attributes['db.statement_timeout']) > 0)
      assert.ok(Number(span?.attributes['db.bytes_received']) > 1_000)
      assert.ok(Number(span?.attributes['db.bytes_sent']) > 0)
    })
  })

  describe('connections', () => {
    test('opens at most `max` connections however many queries run at once', async () => {
      await using pooled = postgres(database.url, { max: 3 })
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          pooled.query<{ i: number }>('SELECT $1::int AS i, pg_sleep(0.02)', [i]),
        ),
      )
      assert.deepEqual(
        results.map((result) => result.rows[0]?.i),
        Array.from({ length: 12 }, (_, i) => i),
      )
      assert.equal(pooled.stats().connectionsOpened, 3)
    })

    test('a refused connection fails with BackendRefused naming postgres and the address', async () => {
      await using refused = postgres('postgres://postgres@127.0.0.1:1/none')
      await assert.rejects(refused.query('SELECT 1'), (error) => {
        assert.ok(error instanceof BackendRefused)
        assert.equal(error.backend, 'postgres')
        assert.equal(error.address, '127.0.0.1:1')
        assert.match(error.message, /^postgres 127\.0\.0\.1:1: connect: connection refused/)
        return true
      })
    })

    test('a server that never answers fails the connect with BackendTimeout', async () => {
      const accepted = new Set<Socket>()
      const silent = createServer((socket) => accepted.add(socket)) // accepts, then says nothing
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
      const { port } = silent.address() as AddressInfo
      try {
        await using mute = postgres(`postgres://postgres@127.0.0.1:${port}/none`, { connectTimeout: 50 })
        await assert.rejects(mute.query('SELECT 1'), { name: 'BackendTimeout', address: `127.0.0.1:${port}` })
      } finally {
        for (const socket of accepted) socket.destroy()
        silent.close()
      }
    })

    test('a connection lost mid-statement fails the call with BackendRefused; the next call gets a new one', async () => {
      await using single = postgres(database.url, { max: 1 })
      const { rows } = await single.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      const outcome = single.query('SELECT pg_sleep(10)').then(
        () => assert.fail('the statement should fail'),
        (error: unknown) => error,
      )
      await eventually(async () => (await running('SELECT pg_sleep(10)')) >= 1, 2_000)
      await observer.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid])
      assert.ok((await outcome) instanceof BackendRefused)
      assert.deepEqual((await single.query('SELECT 1 AS ok')).rows, [{ ok: 1 }])
      assert.equal(single.stats().connectionsOpened, 2)
    })
  })
})
