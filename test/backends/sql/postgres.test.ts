// PostgreSQL over real sockets against the SQL contract, and what only a server does: cancel
// requests, statement timeouts, connection failures.
import { after, before } from 'node:test'
import { postgres } from 'weft/sql'
import { createTestDatabase, type TestDatabase } from '../../../src/testing/postgres.ts'
import { sqlContract } from './contract.ts'

let database: TestDatabase
before(async () => {
  database = await createTestDatabase()
})
after(() => database.drop())

sqlContract('PostgreSQL', {
  open: async (options) => postgres(database.url, options),
  cleanup: async () => {},
})
