/**
 * `npm run worker`: the task worker as a process of its own, next to servers started with `WORKERS=0`.
 * The tasks live in the database (or on Redis with `QUEUE_BACKEND=redis`), so this needs the
 * `DATABASE_URL` the servers use: the embedded database belongs to the one process that opened it.
 */
import { configureTracing } from 'weft'
import { queueFromEnv } from 'weft/queue'
import { databaseFromEnv } from 'weft/sql'
import { loadConfigOrExit } from './config.ts'
import { migrate } from './data/migrate.ts'
import { otlpFromEnv } from './observability/otlp.ts'
import { stopCleanlyOnSignal } from './shutdown.ts'
import { startWorkers } from './worker.ts'

const config = loadConfigOrExit()
if (config.databaseUrl === undefined) {
  console.error(
    'weft worker: set DATABASE_URL to the database the servers use (the embedded database cannot be shared between processes; `npm start` runs a worker in process)',
  )
  process.exit(2)
}
const db = databaseFromEnv(config.databaseUrl)
await migrate(db)
const queue = queueFromEnv(config.env, db)
// Deliveries continue the traces of the requests that enqueued them: exported, they join those traces.
const otlp = otlpFromEnv('weft-worker')
if (otlp !== undefined) configureTracing({ enabled: true, onTrace: otlp.onTrace })
startWorkers(queue, db, { concurrency: Math.max(1, config.workers) })
stopCleanlyOnSignal([() => queue.close(), () => db.close(), () => otlp?.shutdown()])
console.log(`weft worker running on ${queue.backend} ${queue.address}`)
