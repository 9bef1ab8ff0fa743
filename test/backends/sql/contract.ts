// The behaviour every weft SQL database keeps, PostgreSQL over sockets or embedded PGlite: one suite,
// run against both (postgres.test.ts, embedded.test.ts), so that neither drifts from the other.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import {
  AbortError,
  BackendUnavailable,
  DeadlineExceeded,
  type ScopeOptions,
  type SpanData,
  scope,
  type Trace,
} from 'weft'
import { type Database, type DatabaseOptions, QueryError, TransactionClosedError } from 'weft/sql'

/** How the suite reaches one kind of database. */
export interface ContractTarget {
  /** A new database: on the same server for a real one, a new one for the embedded (closed by the suite). */
  open(options?: DatabaseOptions): Promise<Database>
  /** Releases what the target set up, once the suite is done. */
  cleanup(): Promise<void>
}

/** Runs `fn` in a traced request (with `options`) and returns its spans. */
export async function traced(fn: () => Promise<unknown>, options: ScopeOptions = {}): Promise<SpanData[]> {
  let trace: Trace | undefined
  await scope({ name: 'request', ...options, trace: (finished) => (trace = finished) }, fn)
  return trace?.toJSON().spans ?? []
}

/** Blocks the thread (timers cannot fire meanwhile) for `ms`. */
export function blockThread(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

export function sqlContract(name: string, target: ContractTarget): void {
  describe(`${name} keeps the SQL contract`, () => {
    let db: Database
    let tables = 0
    /** A new table of its own for each test. */
    const table = async (columns: string): Promise<string> => {
      tables += 1
      const created = `contract_${tables}`
      await db.query(`CREATE TABLE ${created} (${columns})`)
      return created
    }

    before(async () => {
      // One connection, as the embedded database has: the same pool shape on both sides.
      db = await target.open({ max: 1 })
    })
    after(async () => {
      await db.close()
      await target.cleanup()
    })

    test('returns the rows, typed by the caller, and how many there are', async () => {
      const { rows, rowCount } = await db.query<{ n: number; square: number }>(
        'SELECT n, n * n AS square FROM generate_series(1, 3) AS n',
      )
      assert.deepEqual(rows, [
        { n: 1, square: 1 },
        { n: 2, square: 4 },
        { n: 3, square: 9 },
      ])
      assert.equal(rowCount, 3)
    })

    test('reports the rows affected by INSERT, UPDATE and DELETE', async () => {
      const t = await table('id int, done boolean')
      assert.equal((await db.query(`INSERT INTO ${t} VALUES (1, false), (2, false), (3, true)`)).rowCount, 3)
      assert.equal((await db.query(`UPDATE ${t} SET done = true WHERE NOT done`)).rowCount, 2)
      assert.equal((await db.query(`DELETE FROM ${t} WHERE id > $1`, [1])).rowCount, 2)
    })

    test('sends parameters and parses results the same way on both', async () => {
      const when = new Date('2026-03-01T12:34:56.789Z')
      const { rows } = await db.query(
        `SELECT $1::int AS int, $2::text AS text, $3::boolean AS bool, $4::text AS nothing, $5::jsonb AS json,
                $6::bytea AS bytes, $7::int[] AS ints, $8::timestamptz AS at, $9::bigint AS big,
                $10::numeric AS exact, $11::float8 AS float, $12::text[] AS texts`,
        [
          7,
          'é ✓',
          true,
          null,
          { a: [1, 'b'] },
          Buffer.from([0, 255]),
          [1, 2],
          when,
          2n ** 62n,
          '1.10',
          0.5,
          ['x', 'y'],
        ],
      )
      assert.deepEqual(rows[0], {
        int: 7,
        text: 'é ✓',
        bool: true,
        nothing: null,
        json: { a: [1, 'b'] },
        bytes: Buffer.from([0, 255]),
        ints: [1, 2],
        at: when,
        // 64-bit integers and numerics come back as strings: a JavaScript number would lose digits.
        big: (2n ** 62n).toString(),
        exact: '1.10',
        float: 0.5,
        texts: ['x', 'y'],
      })
    })

    test('runs several statements without parameters in one call and returns the last result', async () => {
      const t = `contract_multi_${tables}`
      const { rows } = await db.query(
        `CREATE TABLE ${t} (id int); INSERT INTO ${t} VALUES (1), (2); SELECT count(*)::int AS n FROM ${t}`,
      )
      assert.deepEqual(rows, [{ n: 2 }])
    })

    test('fails a rejected statement with QueryError (SQLSTATE, backend, address), and goes on', async () => {
      const t = await table('id int PRIMARY KEY')
      await db.query(`INSERT INTO ${t} VALUES (1)`)
      await assert.rejects(db.query(`INSERT INTO ${t} VALUES ($1)`, [1]), (error) => {
        assert.ok(error instanceof QueryError)
        assert.equal(error.sqlState, '23505')
        assert.equal(error.constraint, `${t}_pkey`)
        assert.equal(error.backend, db.backend)
        assert.equal(error.address, db.address)
        assert.match(
          error.message,
          new RegExp(`^${db.backend} ${db.address}: duplicate key .*\\(SQLSTATE 23505\\)$`),
        )
        return true
      })
      assert.deepEqual((await db.query(`SELECT count(*)::int AS n FROM ${t}`)).rows, [{ n: 1 }])
    })

    test('fails with QueryError 08P01 when the parameters do not match the placeholders', async () => {
      await assert.rejects(db.query('SELECT $1::int + $2::int', [1]), {
        name: 'QueryError',
        sqlState: '08P01',
      })
      assert.deepEqual((await db.query('SELECT 1 AS one')).rows, [{ one: 1 }])
    })

    test('commits a transaction when its callback returns, and returns its value', async () => {
      const t = await table('id int')
      const value = await db.tx(async (tx) => {
        await tx.query(`INSERT INTO ${t} VALUES (1)`)
        await tx.query(`INSERT INTO ${t} VALUES (2)`)
        return 'done'
      })
      assert.equal(value, 'done')
      assert.deepEqual((await db.query(`SELECT id FROM ${t} ORDER BY id`)).rows, [{ id: 1 }, { id: 2 }])
    })

    test('rolls a transaction back when its callback throws, and rethrows that very error', async () => {
      const t = await table('id int')
      const boom = new Error('boom')
      await assert.rejects(
        db.tx(async (tx) => {
          await tx.query(`INSERT INTO ${t} VALUES (1)`)
          throw boom
        }),
        (error) => error === boom,
      )
      assert.deepEqual((await db.query(`SELECT id FROM ${t}`)).rows, [])
    })

    test('rolls a transaction back when its scope is cancelled before the commit', async () => {
      const t = await table('id int')
      const outcome = scope(async (s) => {
        await db.tx(async (tx) => {
          await tx.query(`INSERT INTO ${t} VALUES (1)`)
          s.spawn('fails', () => {
            throw new Error('a sibling failed')
          })
          await Promise.resolve() // the sibling fails meanwhile; the callback itself returns normally
        })
      })
      await assert.rejects(outcome, /a sibling failed/)
      assert.deepEqual((await db.query(`SELECT id FROM ${t}`)).rows, [])
    })

    test('gives a cancelled transaction an AbortError that names the backend and keeps the reason', async () => {
      const controller = new AbortController()
      await assert.rejects(
        db.tx(
          async (tx) => {
            await tx.query('SELECT 1')
            controller.abort('client went away')
          },
          { signal: controller.signal },
        ),
        (error) =>
          error instanceof AbortError &&
          error.reason === 'client went away' &&
          error.message.includes(`${db.backend} ${db.address}`),
      )
    })

    test('sends nothing for a transaction that runs no query', async () => {
      const before = db.stats().roundTrips
      assert.equal(await db.tx(() => 42), 42)
      assert.equal(db.stats().roundTrips, before)
    })

    test('sends the BEGIN with the first query: two queries in a transaction take three round trips', async () => {
      const before = db.stats()
      await db.tx(async (tx) => {
        await tx.query('SELECT 1')
        await tx.query('SELECT 2')
      })
      const after = db.stats()
      assert.equal(after.roundTrips - before.roundTrips, 3)
      assert.ok(after.statements - before.statements >= 4) // BEGIN, two queries, COMMIT
    })

    test('rolls a nested transaction back to its savepoint while the outer one commits', async () => {
      const t = await table('label text')
      await db.tx(async (tx) => {
        await tx.query(`INSERT INTO ${t} VALUES ('outer')`)
        await assert.rejects(
          tx.tx(async (inner) => {
            await inner.query(`INSERT INTO ${t} VALUES ('inner')`)
            await inner.query('SELECT 1/0')
          }),
          { sqlState: '22012' },
        )
        await tx.tx((inner) => inner.query(`INSERT INTO ${t} VALUES ('second inner')`))
      })
      const { rows } = await db.query(`SELECT label FROM ${t} ORDER BY label`)
      assert.deepEqual(rows, [{ label: 'outer' }, { label: 'second inner' }])
    })

    test('refuses to report a commit when a statement of the transaction failed: QueryError 25P02', async () => {
      const t = await table('id int')
      await assert.rejects(
        db.tx(async (tx) => {
          await tx.query(`INSERT INTO ${t} VALUES (1)`)
          await tx.query('SELECT 1/0').catch(() => {}) // swallowed: the transaction is still failed
        }),
        { name: 'QueryError', sqlState: '25P02' },
      )
      assert.deepEqual((await db.query(`SELECT id FROM ${t}`)).rows, [])
    })

    test('refuses queries on a transaction after it ended', async () => {
      let escaped: { query(text: string): Promise<unknown> } | undefined
      await db.tx((tx) => {
        escaped = tx
      })
      await assert.rejects(escaped!.query('SELECT 1'), TransactionClosedError)
    })

    test('rejects a call whose signal is already aborted, without a round trip', async () => {
      const before = db.stats().roundTrips
      await assert.rejects(db.query('SELECT 1', [], { signal: AbortSignal.abort('not wanted') }), {
        name: 'AbortError',
        reason: 'not wanted',
      })
      assert.equal(db.stats().roundTrips, before)
    })

    test('rejects a call made after its deadline passed with a DeadlineExceeded reason, without a round trip', async () => {
      await db.query('SELECT 1') // the connection is open: the check happens right before sending
      const before = db.stats().roundTrips
      await assert.rejects(
        scope({ deadline: 5 }, () => {
          blockThread(20) // the deadline passes before its timer can fire
          return db.query('SELECT 1')
        }),
        (error) => error instanceof AbortError && error.reason instanceof DeadlineExceeded,
      )
      assert.equal(db.stats().roundTrips, before)
    })

    test('rejects an aborted statement at once, and its result never reaches the next query', async () => {
      const controller = new AbortController()
      const first = db.query('SELECT pg_sleep(0.1), 1 AS first', [], { signal: controller.signal })
      controller.abort(new Error('gave up'))
      await assert.rejects(
        first,
        (error) => error instanceof AbortError && (error.reason as Error).message === 'gave up',
      )
      assert.deepEqual((await db.query('SELECT 2 AS second')).rows, [{ second: 2 }])
    })

    test('makes calls wait for the connection a transaction holds; a waiting call can be cancelled', async () => {
      const order: string[] = []
      const inside = Promise.withResolvers<void>()
      const release = Promise.withResolvers<void>()
      const held = db.tx(async (tx) => {
        await tx.query('SELECT 1')
        inside.resolve()
        await release.promise
        order.push('tx done')
      })
      try {
        await inside.promise
        const controller = new AbortController()
        const cancelled = db.query('SELECT 1', [], { signal: controller.signal })
        const waiting = db.query('SELECT 1').then(() => order.push('query done'))
        assert.equal(db.stats().pool.waiting, 2)
        controller.abort('no longer needed')
        await assert.rejects(cancelled, { name: 'AbortError', reason: 'no longer needed' })
        assert.equal(db.stats().pool.waiting, 1)
        release.resolve()
        await Promise.all([held, waiting])
        assert.deepEqual(order, ['tx done', 'query done'])
      } finally {
        release.resolve()
        await held
      }
    })

    test('records a client span per query, and the queries of a transaction under its span', async () => {
      const t = await table('id int')
      const spans = await traced(async () => {
        await db.query(`INSERT INTO ${t} VALUES ($1)`, [1])
        await db.tx((tx) => tx.query(`SELECT id FROM ${t}`))
      })
      const [insert, transaction, select] = spans.filter((span) => span.name.startsWith('sql.'))
      assert.equal(insert?.name, 'sql.query')
      assert.equal(insert?.kind, 'client')
      assert.equal(insert?.status, 'ok')
      assert.deepEqual(
        {
          system: insert?.attributes['db.system'],
          backend: insert?.attributes['weft.backend'],
          address: insert?.attributes['server.address'],
          statement: insert?.attributes['db.statement'],
          rows: insert?.attributes['db.rows'],
        },
        {
          system: 'postgresql',
          backend: db.backend,
          address: db.address,
          statement: `INSERT INTO ${t} VALUES ($1)`,
          rows: 1,
        },
      )
      assert.equal(transaction?.name, 'sql.transaction')
      assert.equal(transaction?.attributes['db.outcome'], 'commit')
      assert.equal(select?.name, 'sql.query')
      assert.equal(select?.parentId, transaction?.spanId)
    })

    test('marks the span of a failed query as an error and that of a cancelled one as cancelled', async () => {
      const spans = await traced(async () => {
        await db.query('SELECT 1/0').catch(() => {})
        await db.query('SELECT 1', [], { signal: AbortSignal.abort() }).catch(() => {})
      })
      const [failed, cancelled] = spans.filter((span) => span.name === 'sql.query')
      assert.equal(failed?.status, 'error')
      assert.match(failed?.error ?? '', /QueryError/)
      assert.equal(cancelled?.status, 'cancelled')
    })

    test('counts one round trip per query', async () => {
      const before = db.stats().roundTrips
      await db.query('SELECT 1')
      await db.query('SELECT $1::int', [2])
      assert.equal(db.stats().roundTrips - before, 2)
    })

    test('once closed, lets calls in flight finish and fails new ones with BackendUnavailable', async () => {
      const other = await target.open()
      await other.query('SELECT 1') // connected: the next call is in flight at once
      const inFlight = other.query<{ n: number }>('SELECT 1 AS n')
      const closing = other.close()
      assert.deepEqual((await inFlight).rows, [{ n: 1 }])
      await closing
      await assert.rejects(other.query('SELECT 1'), (error) => {
        return (
          error instanceof BackendUnavailable &&
          error.backend === other.backend &&
          /closed/.test(error.message)
        )
      })
    })
  })
}
