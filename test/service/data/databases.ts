// The engines the data layer must work on, each giving a throwaway database: PGlite in memory, and a
// PostgreSQL database created for the test on 127.0.0.1:5432 and dropped afterwards.
import { randomBytes } from 'node:crypto'
import { after } from 'node:test'
import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import type { SqlExecutor } from '../../../service/data/sql-executor.ts'

export interface TestDatabase {
  db: SqlExecutor
  close(): Promise<void>
}

export interface Engine {
  name: string
  open(): Promise<TestDatabase>
}

const server = { host: '127.0.0.1', port: 5432, user: 'postgres' }

async function asAdmin(sql: string): Promise<void> {
  const admin = new pg.Client({ ...server, database: 'postgres' })
  await admin.connect()
  try {
    await admin.query(sql)
  } finally {
    await admin.end()
  }
}

// Starting PGlite costs a second or two; cloning a started one, a fraction of that.
let template: Promise<PGlite> | undefined
after(async () => {
  await (await template)?.close()
})

export const pglite: Engine = {
  name: 'PGlite',
  async open() {
    template ??= PGlite.create()
    const db = await (await template).clone()
    return { db, close: () => db.close() }
  },
}

export const postgres: Engine = {
  name: 'PostgreSQL',
  async open() {
    const name = `weft_svc_${randomBytes(6).toString('hex')}`
    await asAdmin(`CREATE DATABASE ${name}`)
    const pool = new pg.Pool({ ...server, database: name, max: 4 })
    return {
      db: pool,
      async close() {
        // pool.end() resolves before its sockets are closed; the forced DROP then terminates those
        // sessions, which the pool reports as an error on its idle clients. Expected here.
        pool.on('error', () => {})
        await pool.end()
        await asAdmin(`DROP DATABASE ${name} WITH (FORCE)`)
      },
    }
  },
}

export const engines: readonly Engine[] = [pglite, postgres]

/** A database that must not be reached: for calls that have to refuse bad input before any statement. */
export const untouchable: SqlExecutor = {
  query: () => {
    throw new Error('the database was queried')
  },
}
