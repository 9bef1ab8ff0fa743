// One variant of the service for bench/observability.ts, as a process of its own: OBSERVE names what
// is observed (see observability-app.ts: `off`, `on`, or a list like `on,otlp`), BACKENDS=servers puts
// it on the servers its environment names rather than in memory. Prints its URL.
import { configureTracing } from 'weft'
import { observedServer, partsOf } from './observability-app.ts'

const parts = partsOf(process.env.OBSERVE ?? 'on')
const { app } = await observedServer(parts, process.env.BACKENDS === 'servers' ? 'servers' : 'memory')
if (!parts.has('trace')) configureTracing({ enabled: false })
process.once('SIGTERM', () => app.close().then(() => process.exit(0)))
console.log(await app.listen({ host: '127.0.0.1', port: 0 }))
