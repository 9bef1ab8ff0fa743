// The queue on a PostgreSQL server, in a database of its own created for this file.
import { after, before } from 'node:test'
import { postgresQueue, type QueueOptions } from 'weft/queue'
import { type Database, postgres } from 'weft/sql'
import { queueContract } from './contract.ts'
import { createQueueDatabase } from './support.ts'

let database: { url: string; drop(): Promise<void> }
let db: Database
before(async () => {
  database = await createQueueDatabase()
  db = postgres(database.url, { max: 10 })
})
after(async () => {
  await db.close()
  await database.drop()
})

queueContract('PostgreSQL', {
  open: (options?: QueueOptions) => postgresQueue(db, { pollInterval: 20, ...options }),
  childEnv: () => ({ QUEUE_BACKEND: 'postgres', DATABASE_URL: database.url }),
})
