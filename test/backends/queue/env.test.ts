import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { Redis as IORedis } from 'ioredis'
import { queueFromEnv } from 'weft/queue'
import { embeddedDatabase } from 'weft/sql'
import { deleteKeys, REDIS_URL, uniquePrefix } from './support.ts'

const db = embeddedDatabase()
after(() => db.close())

test('without QUEUE_BACKEND the tasks are kept in the database given', async () => {
  await using queue = queueFromEnv({}, db)
  assert.equal(queue.backend, 'pglite')
  assert.equal(queue.address, db.address)
})

test('QUEUE_BACKEND=postgres is the same, whatever its case and spaces', async () => {
  await using queue = queueFromEnv({ QUEUE_BACKEND: ' Postgres ' }, db)
  assert.equal(queue.backend, 'pglite')
})

test('QUEUE_BACKEND=redis keeps the tasks at REDIS_URL, under QUEUE_PREFIX', async () => {
  const prefix = uniquePrefix()
  try {
    await using queue = queueFromEnv({ QUEUE_BACKEND: 'redis', REDIS_URL, QUEUE_PREFIX: prefix })
    assert.equal(queue.backend, 'redis')
    assert.equal(queue.address, new URL(REDIS_URL).host)
    const { id } = await queue.enqueue('env-check', { ok: true })
    const redis = new IORedis(REDIS_URL)
    try {
      assert.equal(await redis.exists(`${prefix}:env-check:${id}`), 1)
    } finally {
      await redis.quit()
    }
  } finally {
    await deleteKeys(prefix)
  }
})
