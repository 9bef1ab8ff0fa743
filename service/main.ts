/**
 * `npm start`: the whole search engine in one process. Reads the configuration (config.ts), opens the
 * backends (embedded where nothing is configured), brings the schema up to date and loads the data
 * sets on the first start (with a progress bar; later starts reuse them), starts the task worker
 * (unless `WORKERS=0`) and the geocoder (unless `GEOCODER_URL` names one) in process, and serves on
 * `PORT`, printing the URL. SIGINT or SIGTERM stops it cleanly.
 */
import { openBackends } from './backends.ts'
import { loadConfigOrExit } from './config.ts'
import { loadDatasets } from './data/load.ts'
import { migrate } from './data/migrate.ts'
import { progressBar } from './data/progress.ts'
import { ServiceMetrics, serviceLogger } from './observability/index.ts'
import { otlpFromEnv } from './observability/otlp.ts'
import { createServer } from './server.ts'
import { stopCleanlyOnSignal } from './shutdown.ts'
import { startWorkers } from './worker.ts'

const config = loadConfigOrExit()
const logger = loggerOrExit()
const otlp = otlpFromEnv('weft-search')
const runtime = await openBackends(config)
const { db, queue } = runtime.resources
await migrate(db)
await loadDatasets(db, { onProgress: progressBar() })
if (config.workers > 0) startWorkers(queue, db, { concurrency: config.workers })
const app = await createServer({
  backends: runtime.backends,
  config,
  logger,
  metrics: new ServiceMetrics({ ...runtime.resources, process: true }),
  ...(otlp !== undefined && { onTrace: otlp.onTrace }),
})
stopCleanlyOnSignal([() => app.close(), () => runtime.close(), () => otlp?.shutdown()])
const address = await app.listen({ host: config.host, port: config.port })
if (config.sessionSecretGenerated) {
  console.error('SESSION_SECRET is not set: sessions are signed with a random key and end with this process')
}
console.log(`weft search listening on ${address}`)

/**
 * The log at `LOG_LEVEL`, or exit 2 naming the variable. Default warn: stdout starts with the URL line
 * that supervisors and tests wait for; `info` adds the line per request.
 */
function loggerOrExit() {
  try {
    return serviceLogger({ level: process.env.LOG_LEVEL?.trim() || 'warn' })
  } catch (error) {
    console.error(`weft search: ${(error as Error).message}`)
    process.exit(2)
  }
}
