import assert from 'node:assert/strict'
import { test } from 'node:test'
import { migrate } from '../../../service/data/migrate.ts'
import type { Migration } from '../../../service/data/schema.ts'
import { untouchable } from './databases.ts'

const ok = 'CREATE TABLE t (id int)'

test('an id that does not look like "001_name" is refused: ids are written into the SQL', async () => {
  for (const id of ['1_cities', 'cities', "001_x'; DROP TABLE cities; --", '001_Cities', '', 7]) {
    await assert.rejects(migrate(untouchable, [{ id, sql: ok } as Migration]), {
      name: 'TypeError',
      message: /a migration id must look like "001_name"/,
    })
  }
})

test('migrations out of order, or an id twice, are refused', async () => {
  const list = (...ids: string[]) => ids.map((id) => ({ id, sql: ok }))
  await assert.rejects(
    migrate(untouchable, list('002_b', '001_a')),
    /migration "001_a" is out of order after "002_b"/,
  )
  await assert.rejects(migrate(untouchable, list('001_a', '001_a')), /out of order/)
})

test('a migration without SQL, or using the quote the runner wraps it in, is refused', async () => {
  for (const sql of ['', '   ', undefined, 'SELECT $weft_migration$ x $weft_migration$']) {
    await assert.rejects(migrate(untouchable, [{ id: '001_a', sql } as Migration]), {
      name: 'TypeError',
      message: /migration "001_a" must have SQL text/,
    })
  }
})

test('a list that is not an array is refused', async () => {
  await assert.rejects(migrate(untouchable, 'CREATE TABLE t ()' as never), /migrations must be an array/)
  await assert.rejects(migrate(untouchable, [null] as never), /a migration id must look like/)
})
