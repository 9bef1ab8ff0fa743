// The search service on its embedded defaults: PGlite, in-process memcache shards and Redis, the
// geocoder and the worker in process.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { embeddedDatabase } from 'weft/sql'
import { loadTestData } from './fixtures.ts'
import { searchSuite } from './search-suite.ts'
import { startService } from './support.ts'

searchSuite('the embedded defaults', async () => {
  const db = embeddedDatabase()
  await loadTestData(db)
  return { db, env: {}, close: () => db.close() }
})

test('GET / serves the search page, GET /healthz says ok, unknown routes are JSON 404s', async () => {
  await using db = embeddedDatabase()
  await loadTestData(db)
  await using service = await startService({ db, worker: false })
  const page = await service.get('/')
  assert.equal(page.status, 200)
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/)
  assert.match(page.body, /fetch\('\/search\?'/)
  assert.deepEqual((await service.get('/healthz')).body, { status: 'ok' })
  const missing = await service.get('/nowhere')
  assert.equal(missing.status, 404)
  assert.equal(missing.body.code, 'NOT_FOUND')
})
