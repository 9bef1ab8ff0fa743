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

test('QUEUE_LEASE_MS is how long a delivery holds its task: a claimed task is leased that far ahead', async () => {
  const table = `lease_env_${process.pid}`
  await using queue = queueFromEnv({ QUEUE_LEASE_MS: ' 5000 ' }, db, { table })
  let release = (): void => {}
  const claimed = new Promise<void>((entered) => {
    queue.worker('lease-check', async () => {
      entered()
      await new Promise<void>((resolve) => {
        release = resolve
      })
    })
  })
  const enqueuedAt = Date.now()
  await queue.enqueue('lease-check', {})
  await claimed
  let row: { ms: number } | undefined
  try {
    ;[row] = (
      await db.query<{ ms: number }>(`SELECT extract(epoch FROM lease_until) * 1000 AS ms FROM ${table}`)
    ).rows
  } finally {
    release() // else closing the queue would wait for the delivery forever
  }
  const ahead = Number(row?.ms) - enqueuedAt
  assert.ok(ahead >= 4_900 && ahead <= 5_000 + (Date.now() - enqueuedAt), `leased ${ahead} ms ahead`)
})

test('a QUEUE_LEASE_MS that is not a whole number of milliseconds, 10 or more, is refused naming it', () => {
  for (const value of ['5s', '-1', '1.5', '9']) {
    assert.throws(() => queueFromEnv({ QUEUE_LEASE_MS: value }, db), {
      name: 'TypeError',
      message: new RegExp(
        `^queueFromEnv\\(\\): QUEUE_LEASE_MS must be a whole number of milliseconds, 10 or more, got "${value.replace('.', '\\.')}"$`,
      ),
    })
  }
})
