// Bad input to the queue is a TypeError at the call, naming the argument, what was expected and what came.
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { postgresQueue, queueFromEnv, redisQueue, type TaskQueue } from 'weft/queue'
import { embeddedDatabase } from 'weft/sql'

// Never queried: PGlite starts on first use, so these checks cost nothing.
const db = embeddedDatabase()
const queue: TaskQueue = postgresQueue(db)
after(async () => {
  await queue.close()
  await db.close()
})

const typeError = (message: RegExp) => ({ name: 'TypeError', message })

describe('postgresQueue()', () => {
  test('needs a weft/sql database', () => {
    assert.throws(
      () => postgresQueue(undefined as never),
      typeError(/db must be a Database from weft\/sql, got undefined/),
    )
    assert.throws(() => postgresQueue({} as never), typeError(/db must be a Database/))
  })

  test('checks its options', () => {
    assert.throws(
      () => postgresQueue(db, 'fast' as never),
      typeError(/options must be an object, got "fast"/),
    )
    assert.throws(
      () => postgresQueue(db, { table: 'tasks; DROP TABLE users' }),
      typeError(/options.table must be a lower-case SQL identifier/),
    )
    assert.throws(
      () => postgresQueue(db, { pollInterval: -1 }),
      typeError(/options.pollInterval must be a finite number/),
    )
    assert.throws(
      () => postgresQueue(db, { attempts: 0 }),
      typeError(/options.attempts must be a whole number of at least 1, got 0/),
    )
    assert.throws(() => postgresQueue(db, { attempts: 1.5 }), typeError(/options.attempts/))
    assert.throws(() => postgresQueue(db, { backoff: { initial: -5 } }), typeError(/options.backoff.initial/))
    assert.throws(
      () => postgresQueue(db, { backoff: 1000 as never }),
      typeError(/options must be an object, got 1000/),
    )
    assert.throws(
      () => postgresQueue(db, { lease: 5 }),
      typeError(/options.lease must be at least 10 ms, got 5/),
    )
    assert.throws(() => postgresQueue(db, { keepDone: Number.NaN }), typeError(/options.keepDone/))
  })
})

describe('redisQueue()', () => {
  test('needs a redis:// URL', () => {
    assert.throws(() => redisQueue(undefined as never), typeError(/options must be an object with a url/))
    assert.throws(() => redisQueue({} as never), typeError(/options.url must be a string, got undefined/))
    assert.throws(
      () => redisQueue({ url: 'http://127.0.0.1:6379' }),
      typeError(/redis:\/\/ or rediss:\/\/ URL, got "http/),
    )
    assert.throws(() => redisQueue({ url: 'not a url' }), typeError(/redis:\/\/ or rediss:\/\/ URL/))
  })

  test('checks its prefix and timeouts', () => {
    const url = 'redis://127.0.0.1:6379'
    assert.throws(
      () => redisQueue({ url, prefix: '' }),
      typeError(/options.prefix must be a non-empty string without ':'/),
    )
    assert.throws(() => redisQueue({ url, prefix: 'a:b' }), typeError(/options.prefix/))
    assert.throws(() => redisQueue({ url, connectTimeout: -1 }), typeError(/options.connectTimeout/))
    assert.throws(() => redisQueue({ url, commandTimeout: Number.NaN }), typeError(/options.commandTimeout/))
    assert.throws(() => redisQueue({ url, lease: 1 }), typeError(/options.lease must be at least 10 ms/))
  })
})

describe('enqueue()', () => {
  test('needs a task name of letters, digits, dots, underscores and dashes', () => {
    for (const name of ['', 'has space', 'a:b', 'x'.repeat(201), 42, undefined]) {
      assert.throws(
        () => queue.enqueue(name as never, {}),
        typeError(/enqueue\(\): name must be 1 to 200 letters/),
      )
    }
  })

  test('needs a payload JSON can carry', () => {
    assert.throws(() => queue.enqueue('mail', 10n), typeError(/payload must be JSON-serializable: .*BigInt/))
    assert.throws(
      () => queue.enqueue('mail', undefined),
      typeError(/payload must be JSON-serializable, got undefined/),
    )
    assert.throws(
      () => queue.enqueue('mail', () => {}),
      typeError(/payload must be JSON-serializable, got a function/),
    )
    const circular: Record<string, unknown> = {}
    circular.self = circular
    assert.throws(
      () => queue.enqueue('mail', circular),
      typeError(/payload must be JSON-serializable: .*circular/),
    )
  })

  test('checks its options', () => {
    assert.throws(
      () => queue.enqueue('mail', {}, null as never),
      typeError(/options must be an object, got null/),
    )
    assert.throws(
      () => queue.enqueue('mail', {}, { delay: -1 }),
      typeError(/options.delay must be a finite number/),
    )
    assert.throws(() => queue.enqueue('mail', {}, { delay: Infinity }), typeError(/options.delay/))
    assert.throws(
      () => queue.enqueue('mail', {}, { attempts: 0 }),
      typeError(/options.attempts must be a whole number/),
    )
    assert.throws(
      () => queue.enqueue('mail', {}, { dedupeKey: '' }),
      typeError(/options.dedupeKey must not be empty/),
    )
    assert.throws(
      () => queue.enqueue('mail', {}, { dedupeKey: 7 as never }),
      typeError(/options.dedupeKey must be a string, got 7/),
    )
    assert.throws(
      () => queue.enqueue('mail', {}, { signal: 'stop' as never }),
      typeError(/options.signal must be an AbortSignal/),
    )
  })
})

describe('worker()', () => {
  test('needs a name and a handler function', () => {
    assert.throws(() => queue.worker('bad name', () => {}), typeError(/worker\(\): name must be/))
    assert.throws(
      () => queue.worker('mail', undefined as never),
      typeError(/worker\(\): handler must be a function, got undefined/),
    )
  })

  test('checks its options', () => {
    const handler = (): void => {}
    assert.throws(
      () => queue.worker('mail', handler, { concurrency: 0 }),
      typeError(/options.concurrency must be a whole number of at least 1/),
    )
    assert.throws(() => queue.worker('mail', handler, { concurrency: 2.5 }), typeError(/options.concurrency/))
    assert.throws(() => queue.worker('mail', handler, { timeout: -1 }), typeError(/options.timeout/))
    assert.throws(
      () => queue.worker('mail', handler, { trace: 'yes' as never }),
      typeError(/options.trace must be a boolean or a function, got "yes"/),
    )
    assert.throws(
      () => queue.worker('mail', handler, { onError: 5 as never }),
      typeError(/options.onError must be a function, got 5/),
    )
  })
})

describe('close(), deadLetters()', () => {
  test('check their options', () => {
    assert.throws(
      () => queue.close({ graceMs: -1 }),
      typeError(/queue.close\(\): options.graceMs must be a finite number/),
    )
    assert.throws(
      () => queue.deadLetters('mail', { limit: 0 }),
      typeError(/deadLetters\(\): options.limit must be a whole number of at least 1/),
    )
    assert.throws(() => queue.deadLetters('no good'), typeError(/deadLetters\(\): name must be/))
  })
})

describe('queueFromEnv()', () => {
  test('names what the configuration lacks', () => {
    assert.throws(
      () => queueFromEnv({ QUEUE_BACKEND: 'mysql' }, db),
      typeError(/QUEUE_BACKEND must be 'postgres' or 'redis', got "mysql"/),
    )
    assert.throws(
      () => queueFromEnv({ QUEUE_BACKEND: 'redis' }),
      typeError(/QUEUE_BACKEND=redis needs REDIS_URL/),
    )
    assert.throws(
      () => queueFromEnv({}),
      typeError(/QUEUE_BACKEND=postgres keeps the tasks in a database: pass db/),
    )
    assert.throws(() => queueFromEnv(null as never, db), typeError(/env must be an object, got null/))
  })
})
