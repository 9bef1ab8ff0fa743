// The queue on the embedded database (PGlite), kept in a temporary directory so that the crash test's
// child process can open it once this process has let go of it.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { postgresQueue, type QueueOptions } from 'weft/queue'
import { type Database, embeddedDatabase } from 'weft/sql'
import { queueContract } from './contract.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'weft-queue-'))
let db: Database = embeddedDatabase({ dataDir })
after(async () => {
  await db.close()
  rmSync(dataDir, { recursive: true, force: true })
})

queueContract('the embedded database (PGlite)', {
  open: (options?: QueueOptions) => postgresQueue(db, { pollInterval: 20, ...options }),
  childEnv: () => ({ QUEUE_BACKEND: 'postgres', WEFT_PGLITE_DIR: dataDir }),
  release: () => db.close(),
  reacquire: async () => {
    db = embeddedDatabase({ dataDir })
  },
})
