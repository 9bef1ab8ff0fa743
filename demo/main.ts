// npm start (until the search service lands): two requests through the seed's pipeline on simulated
// backends, each printed as a waterfall with its critical path.
import { criticalPath, renderWaterfall, type Trace } from 'weft'
import { latency, search } from './pipeline.ts'

const color = process.stdout.isTTY === true
const width = Math.max(80, Math.min(process.stdout.columns ?? 110, 140))

async function request(label: string, ip: string, sessionId: string): Promise<void> {
  let trace: Trace | undefined
  const started = performance.now()
  const answer = await search(ip, sessionId, (finished) => {
    trace = finished
  })
  const elapsed = performance.now() - started
  console.log(
    `\n== ${label}: best "${answer.best.name}" for ${answer.where.city}, in ${elapsed.toFixed(1)} ms`,
  )
  if (trace === undefined) return
  const path = criticalPath(trace)
  const calls = trace.spans.filter((span) => span.kind === 'task').length
  console.log(
    `${trace.spans.length} spans, ${calls} tasks; the critical path explains ${path.duration.toFixed(1)} ms\n`,
  )
  console.log(renderWaterfall(trace, { width, color }))
}

console.log('weft demo: the seed pipeline on simulated backends (latencies in ms):', JSON.stringify(latency))
await request('first request (new session)', '203.0.113.7', 'alice')
await request('second request', '198.51.100.23', 'bob')
