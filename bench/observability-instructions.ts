// npm run bench:observability:instructions — what observing the search service costs, in instructions.
//
// bench:observability times the service; on these shared 2-core machines its same-round ratios
// spread by ±30% and its medians move by 5% and more from run to run, more than most changes to
// tracing. Here each variant (`off`, `trace`, `metrics`, `trace,metrics`, `traceall`,
// `traceall,metrics`) is a server process on the
// in-memory backends under valgrind's callgrind, and what is counted is the instructions of REQUESTS
// searches (fastify inject, one at a time, or AT_ONCE at a time, each of a returning visitor of its
// own, as in bench:observability), after a
// warm-up, split three ways: the garbage collector's (its entry point's inclusive count), the
// optimizing compilers' (left out: when a function gets compiled is not a cost of a request), and
// everything else. Made repeatable: one thread, fixed hash and random seeds, seeded `Math.random` and
// `node:crypto` randomness (a session's id picks the memcache shard of its key), a weft clock that
// never moves (no deadline fires, no cache entry expires, no trace is slow), a young generation of
// fixed size, and the in-memory queue emptied every 250 requests rather than by a timer. With a clock
// that never moves, `trace` (at most 50 searches traced a second, the default) traces the first 50
// searches of the warm-up and none after: what tracing costs the searches it does not record;
// `traceall` traces every search: what recording costs. Two runs of
// the same code side by side then count within 0.1% of each other; runs at different times, the
// machine busy or not, moved by up to 1%, and the collector's part by more (when V8 starts marking
// the old generation depends on timers too; `--predictable-gc-schedule` fixes that, but with heap
// limits so small that collecting dominated every count). Counts say nothing of cache misses, which
// tracing (more memory touched) has its share of: they complement bench:observability, they do not
// replace it.
// Each variant is counted twice: served through fastify's inject (no sockets: the service's own
// work, where observing it shows most), and over HTTP, its requests sent over keep-alive
// connections by this process (not counted), as bench:observability drives it: the figure closest
// to the throughput the 10% target is about, counted rather than timed. OVER=inject or OVER=http
// counts only one of them. AT_ONCE=8 counts searches sent eight at a time, as part 0 of
// bench:observability also times them.
// Needs valgrind (`apt-get install -y valgrind`). Figures go to bench/results/observability-instructions.json
// (observability-instructions-8-at-once.json with AT_ONCE=8).
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createRequire, syncBuiltinESMExports } from 'node:module'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { configureTracing, map, useClock } from 'weft'
import { VirtualClock } from 'weft/testing'
import { printTable, repeatableNodeFlags, requireCommand, writeResults } from './harness.ts'
import {
  observedServer,
  partsOf,
  returningVisitorAt,
  returningVisitorOf,
  type searches,
  searchOverHttp,
  tracingOf,
} from './observability-app.ts'

const VARIANTS = process.env.VARIANTS?.split(';') ?? [
  'off',
  'trace',
  'metrics',
  'trace,metrics',
  'traceall',
  'traceall,metrics',
]
const WARM_UP_REQUESTS = 3_000
const REQUESTS = 900
const FORGET_EVERY = 250
/** How the searches reach the service: fastify's inject, or HTTP from the parent process. */
type Transport = 'inject' | 'http'
const TRANSPORTS: Transport[] =
  process.env.OVER === 'inject' || process.env.OVER === 'http' ? [process.env.OVER] : ['inject', 'http']
/** Searches sent at once (`AT_ONCE`, default 1), each of a visitor of its own (see {@link sendInTurn}). */
const AT_ONCE = Number(process.env.AT_ONCE ?? 1)
const NODE_FLAGS = [...repeatableNodeFlags, '--min-semi-space-size=16', '--max-semi-space-size=16']

/** Replaces every source of randomness a search draws on with a seeded one. */
function seedRandomness(): void {
  let state = 42
  const next = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0
    return state
  }
  Math.random = () => next() / 2 ** 32
  const fill = <T extends NodeJS.ArrayBufferView>(
    view: T,
    offset = 0,
    size = view.byteLength - offset,
  ): T => {
    const bytes = new Uint8Array(view.buffer, view.byteOffset + offset, size)
    for (let i = 0; i < bytes.length; i++) bytes[i] = next() >>> 24
    return view
  }
  const crypto = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto')
  crypto.randomBytes = ((size: number, callback?: (error: null, bytes: Buffer) => void) => {
    const bytes = fill(Buffer.alloc(size))
    if (callback === undefined) return bytes
    process.nextTick(callback, null, bytes)
  }) as typeof crypto.randomBytes
  crypto.randomFillSync = fill as typeof crypto.randomFillSync
  crypto.randomUUID = () => {
    const hex = fill(Buffer.alloc(16)).toString('hex')
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`
  }
  // The service's modules import these by name: their bindings follow the CommonJS module's.
  syncBuiltinESMExports()
}

/**
 * In the child, under callgrind: the service observed as `variant`. Through inject: warmed up, then
 * serving batches of searches as told on stdin (`N`: N requests, then `done`), while the parent
 * switches callgrind's counting on and dumps its counts. Over HTTP: listening (`ready <url>`), the
 * parent sending every request. Until `quit`.
 */
async function serve(variant: string, over: Transport): Promise<void> {
  seedRandomness()
  useClock(new VirtualClock())
  const parts = partsOf(variant)
  const { app, onTrace, forget } = await observedServer(parts, 'memory', 'manual')
  configureTracing(tracingOf(parts, onTrace))
  // callgrind_control acts when the process runs code: a timer keeps it doing so while it waits.
  const awake = setInterval(() => {}, 5)
  const commands = createInterface({ input: process.stdin })
  if (over === 'http') {
    let answered = 0
    app.addHook('onResponse', (_request, _reply, done) => {
      if (++answered % FORGET_EVERY === 0) forget()
      done()
    })
    console.log(`ready ${await app.listen({ host: '127.0.0.1', port: 0 })}`)
    for await (const line of commands) if (line === 'quit') break
  } else {
    const visitors = await atOnce(() => returningVisitorOf(app))
    let served = 0
    const run = async (requests: number) => {
      served = await sendInTurn(visitors, served, requests, async (visit, index) => {
        const response = await app.inject({ url: visit.path, headers: visit.headers })
        if (index % FORGET_EVERY === 0) forget()
        return { status: response.statusCode, body: response.body }
      })
    }
    await run(WARM_UP_REQUESTS)
    console.log('ready')
    for await (const line of commands) {
      if (line === 'quit') break
      await run(Number(line))
      console.log('done')
    }
  }
  clearInterval(awake)
  await app.close()
}

type Visit = ReturnType<typeof searches>[number]

/** `AT_ONCE` returning visitors, each made by `visitor`. */
async function atOnce(visitor: () => Promise<Visit[]>): Promise<Visit[][]> {
  const visitors: Visit[][] = []
  while (visitors.length < AT_ONCE) visitors.push(await visitor())
  return visitors
}

/**
 * Sends `requests` searches with `send`, from the `served`th on, `visitors.length` at once (the
 * `i`th of each group from the `i`th visitor, each going round its searches); returns how many have
 * been sent then. Each search sent at once comes from a visitor of its own: one visitor's searches
 * side by side updated the session each other read, in an order that observing the service changed,
 * so that the variants did not count the same work (ten at a time, the traced service did ~15% less
 * JSON parsing than the others; eight at a time over HTTP, it missed memcache more often). With a
 * visitor each, they do.
 */
async function sendInTurn(
  visitors: Visit[][],
  served: number,
  requests: number,
  send: (visit: Visit, index: number) => Promise<{ status: number; body: string }>,
): Promise<number> {
  for (const end = served + requests; served < end; ) {
    const first = served
    const group = visitors.slice(0, end - first)
    served += group.length
    await Promise.all(
      group.map(async (visits, i) => {
        const { status, body } = await send(visits[(first + i) % visits.length] as Visit, first + i)
        if (status !== 200) throw new Error(`a search answered ${status}: ${body}`)
      }),
    )
  }
  return served
}

/** Sends searches of `visitors` to the service at `url` over HTTP, as {@link sendInTurn} does. */
function sendOverHttp(url: string, visitors: Visit[][], served: number, requests: number): Promise<number> {
  return sendInTurn(visitors, served, requests, (visit) => searchOverHttp(url, visit.path, visit.headers))
}

interface Counts {
  variant: string
  over: Transport
  /** Per request: everything but the collector and the compilers. */
  instructions: number
  /** Per request: the garbage collector. */
  gc: number
}

/** Runs `variant` under callgrind and returns its counts per request (the child is killed if `signal` aborts). */
async function countVariant(variant: string, over: Transport, signal: AbortSignal): Promise<Counts> {
  const directory = mkdtempSync(join(tmpdir(), 'weft-callgrind-'))
  const child = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--instr-atstart=no',
      `--callgrind-out-file=${join(directory, 'out')}`,
      process.execPath,
      ...NODE_FLAGS,
      import.meta.filename,
      '--serve',
      variant,
      over,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'], signal },
  )
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr += text
  })
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  /** The child's next line, which must start with `wanted`: the rest of it. */
  const expect = async (wanted: string) => {
    const line = await lines.next()
    if (line.done || !line.value.startsWith(wanted)) {
      throw new Error(`callgrind run of ${variant} (${over}): expected "${wanted}":\n${stderr.slice(-3000)}`)
    }
    return line.value.slice(wanted.length).trim()
  }
  try {
    const url = await expect('ready')
    const control = (option: string) =>
      execFileSync('callgrind_control', [option, String(child.pid)], { stdio: 'ignore' })
    if (over === 'http') {
      const visitors = await atOnce(() => returningVisitorAt(url))
      const served = await sendOverHttp(url, visitors, 0, WARM_UP_REQUESTS)
      control('--instr=on')
      control('--zero')
      await sendOverHttp(url, visitors, served, REQUESTS)
    } else {
      control('--instr=on')
      control('--zero')
      child.stdin.write(`${REQUESTS}\n`)
      await expect('done')
    }
    control('--dump')
    const dump = readdirSync(directory)
      .filter((name) => name.startsWith('out'))
      .sort()
      .at(-1)
    if (dump === undefined) throw new Error(`callgrind run of ${variant} wrote no counts`)
    const split = inclusiveCounts(join(directory, dump))
    child.stdin.end('quit\n')
    await once(child, 'exit')
    return {
      variant,
      over,
      instructions: (split.total - split.gc - split.compile) / REQUESTS,
      gc: split.gc / REQUESTS,
    }
  } finally {
    child.kill()
    rmSync(directory, { recursive: true, force: true })
  }
}

/** The total count of a callgrind dump, and the inclusive counts of the collector and the optimizing compilers. */
function inclusiveCounts(file: string): { total: number; gc: number; compile: number } {
  const text = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', file], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  })
  const count = (pattern: RegExp) => {
    const line = text.split('\n').find((row) => pattern.test(row))
    return line === undefined ? 0 : Number(line.trim().split(' ')[0]?.replaceAll(',', ''))
  }
  return {
    total: count(/PROGRAM TOTALS/),
    gc: count(/v8::internal::Heap::CollectGarbage\(v8::internal::AllocationSpace/),
    compile: count(/v8::internal::Compiler::CompileOptimized\(/),
  }
}

async function main(): Promise<void> {
  requireCommand('valgrind', 'bench:observability:instructions')
  const runs = TRANSPORTS.flatMap((over) => VARIANTS.map((variant) => ({ variant, over })))
  console.log(`${runs.length} callgrind runs of ${REQUESTS} searches each, after ${WARM_UP_REQUESTS}...`)
  const counts = await map(
    runs,
    ({ variant, over }, _index, { signal }) => countVariant(variant, over, signal),
    {
      concurrency: availableParallelism(),
    },
  )
  const results: Record<string, unknown> = {
    method: `callgrind, ${REQUESTS} searches ${AT_ONCE === 1 ? 'one' : AT_ONCE} at a time (each of a visitor of its own) after ${WARM_UP_REQUESTS}, node ${NODE_FLAGS.join(' ')}: instructions per search without the collector and the optimizing compilers, and the collector's; inject: fastify's inject, http: over a keep-alive connection from another process`,
  }
  for (const over of TRANSPORTS) {
    const counted = counts.filter((count) => count.over === over)
    const off = counted.find((count) => count.variant === 'off')
    const rows = counted.map((count) => ({
      ...count,
      instructionsVsOff: off === undefined ? Number.NaN : count.instructions / off.instructions,
      withGcVsOff:
        off === undefined ? Number.NaN : (count.instructions + count.gc) / (off.instructions + off.gc),
    }))
    console.log(
      `\nInstructions per search (callgrind), the search service on the in-memory backends, ${over === 'http' ? 'over HTTP' : 'through inject'}`,
    )
    printTable(
      rows.map((row) => ({
        variant: row.variant,
        instructions: Math.round(row.instructions),
        'garbage collector': Math.round(row.gc),
        'vs off': row.instructionsVsOff,
        'with the collector, vs off': row.withGcVsOff,
      })),
    )
    results[over === 'http' ? 'overHttp' : 'variants'] = rows
  }
  if (process.env.VARIANTS !== undefined || process.env.OVER !== undefined) return
  const file = writeResults(
    AT_ONCE === 1 ? 'observability-instructions' : `observability-instructions-${AT_ONCE}-at-once`,
    results,
  )
  console.log(`\nfigures written to ${file}`)
}

if (process.argv[2] === '--serve') await serve(process.argv[3] as string, process.argv[4] as Transport)
else await main()
