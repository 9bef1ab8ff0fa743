import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import {
  createDatabase,
  type Database,
  databaseFromEnv,
  embeddedDatabase,
  keyLoader,
  migrate,
  postgres,
  rowsByKey,
} from 'weft/sql'

// Arguments are checked before anything is sent: an embedded database that never runs a query is
// never even started.
const db = embeddedDatabase()
after(() => db.close())

/** Calls `fn` with arguments its types forbid, as untyped JavaScript callers can. */
function loosely<R>(fn: (...args: never[]) => R): (...args: unknown[]) => R {
  return fn as unknown as (...args: unknown[]) => R
}

describe('db.query() misuse', () => {
  const query = loosely(db.query.bind(db))

  test('rejects text that is not a non-empty string', () => {
    assert.throws(() => query(42), /db\.query\(\): text must be a non-empty SQL string, got 42/)
    assert.throws(() => query('  '), /text must be a non-empty SQL string, got " {2}"/)
  })

  test('rejects params that are not an array', () => {
    assert.throws(() => query('SELECT $1', 'x'), /db\.query\(\): params must be an array, got "x"/)
    assert.throws(() => query('SELECT $1', { 1: 'x' }), /params must be an array, got an object/)
  })

  test('rejects a parameter that cannot be sent, naming its position and placeholder', () => {
    assert.throws(
      () => query('SELECT $1, $2', [1, () => 2]),
      /db\.query\(\): params\[1\] \(for \$2\) must be a string, number, .* got a function/,
    )
    assert.throws(() => query('SELECT $1', [Symbol('s')]), /params\[0\] \(for \$1\)/)
  })

  test('rejects bad options', () => {
    assert.throws(() => query('SELECT 1', [], 'fast'), /db\.query\(\): options must be an object, got "fast"/)
    assert.throws(() => query('SELECT 1', [], { signal: 'stop' }), /options\.signal must be an AbortSignal/)
    assert.throws(() => query('SELECT 1', [], { timeout: -1 }), /options\.timeout must be a finite number/)
    assert.throws(
      () => query('SELECT 1', [], { deadlineAt: Number.NaN }),
      /options\.deadlineAt must be a number/,
    )
  })

  test('rejects an object JSON cannot encode, and an array holding something that cannot be sent', () => {
    const circular: Record<string, unknown> = {}
    circular.self = circular
    assert.throws(
      () => query('SELECT $1::jsonb', [circular]),
      /params\[0\] .* got an object JSON cannot encode/,
    )
    assert.throws(() => query('SELECT $1::jsonb', [{ big: 1n }]), /got an object JSON cannot encode/)
    assert.throws(() => query('SELECT $1', [[1, () => 2]]), /params\[0\] .* got an array holding a function/)
  })
})

describe('db.tx() misuse', () => {
  const tx = loosely(db.tx.bind(db))

  test('rejects a callback that is not a function', () => {
    assert.throws(() => tx('BEGIN'), /db\.tx\(\): fn must be a function, got "BEGIN"/)
  })

  test('rejects an unknown isolation level or a non-boolean readOnly', () => {
    assert.throws(
      () => tx(() => {}, { isolation: 'snapshot' }),
      /options\.isolation must be 'read committed'/,
    )
    assert.throws(() => tx(() => {}, { readOnly: 'yes' }), /options\.readOnly must be a boolean, got string/)
  })

  test('rejects a nested transaction without a callback', async () => {
    await db.tx(async (outer) => {
      assert.throws(() => loosely(outer.tx.bind(outer))(42), /tx\.tx\(\): fn must be a function, got 42/)
    })
  })
})

describe('opening a database with bad options', () => {
  test('postgres() wants a URL string and sane pool settings', () => {
    assert.throws(() => loosely(postgres)(5432), /postgres\(\): url must be a string, got 5432/)
    assert.throws(
      () => postgres('postgres://x', { max: 0 }),
      /options\.max must be a whole number of at least 1, got 0/,
    )
    assert.throws(
      () => postgres('postgres://x', { idleTimeout: -5 }),
      /options\.idleTimeout must be a finite number/,
    )
    assert.throws(
      () => postgres('postgres://x', { statementTimeout: Number.NaN }),
      /options\.statementTimeout/,
    )
    assert.throws(() => postgres('postgres://x', { connectTimeout: -1 }), /options\.connectTimeout/)
  })

  test('embeddedDatabase() wants a string dataDir', () => {
    assert.throws(() => loosely(embeddedDatabase)({ dataDir: 7 }), /options\.dataDir must be a string, got 7/)
  })

  test('createDatabase() wants a url or a driver', () => {
    assert.throws(
      () => loosely(createDatabase)({ driver: {} }),
      /options\.driver must be a SqlDriver, got an object/,
    )
    assert.throws(
      () => loosely(createDatabase)(null),
      /createDatabase\(\): options must be an object, got null/,
    )
  })

  test('databaseFromEnv() wants a string or nothing', () => {
    assert.throws(() => loosely(databaseFromEnv)(42), /databaseFromEnv\(\): url must be a string, got 42/)
  })
})

describe('migrate() misuse', () => {
  const run = loosely(migrate)

  test('rejects migrations that are not a list of { id, sql }', async () => {
    await assert.rejects(
      run(db, 42),
      /migrate\(\): migrations must be an array of \{ id, sql \} or a directory, got 42/,
    )
    await assert.rejects(
      run(db, [{ id: '', sql: 'SELECT 1' }]),
      /migrations\[0\]\.id must be a non-empty string/,
    )
    await assert.rejects(
      run(db, [{ id: 'a' }]),
      /migrations\[0\]\.sql must be a non-empty string, got undefined/,
    )
    await assert.rejects(
      run(db, [
        { id: 'a', sql: 'SELECT 1' },
        { id: 'a', sql: 'SELECT 2' },
      ]),
      /migration id "a" appears twice/,
    )
  })

  test('rejects a record table that is not a plain identifier', async () => {
    await assert.rejects(
      run(db, [], { table: 'x; DROP TABLE users' }),
      /options\.table must be a lower-case SQL identifier/,
    )
  })
})

describe('keyLoader() and rowsByKey() misuse', () => {
  const sql = 'SELECT * FROM users WHERE id = ANY($1)'

  test('want a database or a transaction', () => {
    assert.throws(
      () => loosely(keyLoader)({}, { name: 'x', sql, key: 'id' }),
      /keyLoader\(\): db must be a Database/,
    )
  })

  test('want a statement that uses $1 for the keys', () => {
    assert.throws(
      () => keyLoader(db as Database, { name: 'x', sql: 'SELECT * FROM users', key: 'id' }),
      /options\.sql must use \$1 for the array of keys/,
    )
  })

  test('want a key column or function, and a positive maxBatchSize', () => {
    assert.throws(
      () => loosely(rowsByKey)(db, { name: 'x', sql, key: 3 }),
      /options\.key must be a column name or a function/,
    )
    assert.throws(
      () => rowsByKey(db, { name: 'x', sql, key: 'id', maxBatchSize: 0 }),
      /options\.maxBatchSize/,
    )
  })
})
