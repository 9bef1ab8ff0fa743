// The worker's handlers: each write idempotent, and a session's states applied in order whatever
// the order of their deliveries.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { TaskContext } from 'weft/queue'
import { type Database, embeddedDatabase } from 'weft/sql'
import { migrate } from '../../service/data/migrate.ts'
import { afterSearch, newSession } from '../../service/session.ts'
import { taskHandlers } from '../../service/worker.ts'

let db: Database
before(async () => {
  db = embeddedDatabase()
  await migrate(db)
})
after(() => db.close())

const task = { attempt: 1 } as TaskContext

async function savedSession(id: string) {
  const { rows } = await db.query<{ data: { recent: string[]; searches: number } }>(
    'SELECT data FROM sessions WHERE id = $1',
    [id],
  )
  return rows.map(({ data }) => data)
}

test('saving a session twice saves it once, and never over a later state', async () => {
  const handlers = taskHandlers(db)
  const session = newSession(1000)
  const later = afterSearch(session, 'lisbon', 2000)
  await handlers['save-session']({ session }, task)
  await handlers['update-session']({ session: later }, task)
  await handlers['save-session']({ session }, task)
  assert.deepEqual(await savedSession(session.id), [later])
})

test('updates delivered out of order, or twice, leave the latest state', async () => {
  const handlers = taskHandlers(db)
  const first = afterSearch(newSession(1000), 'porto', 2000)
  const second = afterSearch(first, 'braga', 3000)
  await handlers['update-session']({ session: second }, task)
  await handlers['update-session']({ session: first }, task)
  await handlers['update-session']({ session: second }, task)
  assert.deepEqual(await savedSession(first.id), [second])
})

test('a ranking decision is logged once per request, however often it is delivered', async () => {
  const handlers = taskHandlers(db)
  const decision = {
    requestId: 'request 1',
    traceId: 'ab'.repeat(16),
    query: 'lis',
    results: [{ id: 2267057, name: 'Lisbon', score: 2, why: ['population 517,802'] }],
  }
  await handlers['log-ranking-decision'](decision, task)
  await handlers['log-ranking-decision'](decision, task)
  const { rows } = await db.query('SELECT request_id, trace_id, query, results FROM ranking_log')
  assert.deepEqual(rows, [
    { request_id: 'request 1', trace_id: decision.traceId, query: 'lis', results: decision.results },
  ])
})

test('a malformed payload fails its delivery and writes nothing', async () => {
  const handlers = taskHandlers(db)
  await assert.rejects(handlers['save-session']({ session: { id: 'x' } as never }, task), TypeError)
  await assert.rejects(handlers['log-ranking-decision']({ requestId: 7 } as never, task), TypeError)
})
