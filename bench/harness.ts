// Shared measuring loop for the benchmarks: variants run interleaved, round after round, so that
// machine noise (2 shared cores here) hits every variant alike; figures are medians over rounds and
// the headline numbers are ratios between variants of the same run.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { createTestDatabase, startMemcached, startRedisServer } from 'weft/testing'

export interface Variant {
  name: string
  /** One operation; the benchmark divides the time by `unitsPerOp` to report a per-unit cost. */
  op: () => Promise<unknown> | unknown
}

export interface Measured {
  name: string
  /** Median nanoseconds per unit over the rounds. */
  nsPerUnit: number
  /** Spread between rounds: (max - min) / median. */
  spread: number
  /** Nanoseconds per unit in each round, in round order (the rounds of one run line up across variants). */
  perRound: number[]
}

/**
 * Each variant's cost as a multiple of `baseline`'s: the median over rounds of the two costs measured
 * in the same round. On a noisy machine a round that runs slow runs slow for every variant in it, so
 * same-round ratios are steadier than the ratio of two medians taken over different rounds.
 */
export function ratiosTo(results: readonly Measured[], baseline: string): Record<string, number> {
  const base = results.find((result) => result.name === baseline)
  return Object.fromEntries(
    results.map((result) => [
      result.name,
      base === undefined ? Number.NaN : median(roundRatios(result, base)),
    ]),
  )
}

/**
 * Each variant's same-round ratios to `baseline`'s (see {@link ratiosTo}) as an interval that holds
 * their median with at least 95% confidence: from the order statistics, which assume nothing of how
 * the ratios are distributed, only that rounds are independent. With 31 rounds it runs from the 10th
 * ratio to the 22nd (97%); under 6 rounds no interval reaches 95%, and it is NaN to NaN.
 */
export function ratioIntervalsTo(
  results: readonly Measured[],
  baseline: string,
): Record<string, [number, number]> {
  const base = results.find((result) => result.name === baseline)
  return Object.fromEntries(
    results.map((result) => [
      result.name,
      base === undefined ? [Number.NaN, Number.NaN] : medianInterval(roundRatios(result, base)),
    ]),
  )
}

/** `result`'s cost in each round as a multiple of `base`'s in the same round. */
function roundRatios(result: Measured, base: Measured): number[] {
  return result.perRound.map((ns, round) => ns / (base.perRound[round] ?? Number.NaN))
}

/** The interval of order statistics that holds the median of `values`' population with at least 95% confidence. */
export function medianInterval(values: readonly number[]): [number, number] {
  const sorted = [...values].sort((a, b) => a - b)
  const n = sorted.length
  // The largest k with P(Binomial(n, 1/2) < k) <= 2.5%: the median lies below the kth smallest value
  // with that probability, and above the kth largest with the same.
  let below = 0
  let term = 0.5 ** n // P(X = 0)
  let k = 0
  for (let i = 0; i < n; i++) {
    below += term
    if (below > 0.025) break
    k = i + 1
    term = (term * (n - i)) / (i + 1)
  }
  if (k === 0) return [Number.NaN, Number.NaN]
  return [sorted[k - 1] as number, sorted[n - k] as number]
}

/** The middle value of `values` (the mean of the two middle ones for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

/** The `p`-th percentile (0 to 100) of `values`: the value at that rank; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

/**
 * Runs each variant's `op` for about `msPerRound` per round, `rounds` times, interleaved, and
 * returns the median cost per unit of each.
 */
export async function measure(
  variants: Variant[],
  options: { unitsPerOp: number; rounds?: number; msPerRound?: number },
): Promise<Measured[]> {
  const { unitsPerOp, rounds = 7, msPerRound = 150 } = options
  const samples = new Map<string, number[]>(variants.map((variant) => [variant.name, []]))
  for (const variant of variants) for (let i = 0; i < 50; i++) await variant.op() // warm up the JIT
  for (let round = 0; round < rounds; round++) {
    // Each round starts one variant further on, so that every variant follows every other one
    // equally often: a variant pays for the garbage its predecessor left and for the code and data
    // it pushed out of the caches, and where it ran in the round moved two copies of the same code
    // apart by up to 8% when the order was fixed. (A full collection before each turn was tried
    // first: it throws away optimized code and, after a few, left node's own process.nextTick two to
    // three times slower for the rest of the process, in one variant or another.)
    for (let turn = 0; turn < variants.length; turn++) {
      const variant = variants[(round + turn) % variants.length] as Variant
      // The first third of a turn unmeasured: the switch from the variant before costs the first
      // few milliseconds of whichever runs next.
      await runFor(variant, msPerRound / 3)
      const { ops, elapsed } = await runFor(variant, msPerRound)
      samples.get(variant.name)?.push(elapsed / (ops * unitsPerOp))
    }
  }
  return variants.map(({ name }) => {
    const values = samples.get(name) ?? []
    const mid = median(values)
    return {
      name,
      nsPerUnit: mid,
      spread: (Math.max(...values) - Math.min(...values)) / mid,
      perRound: values,
    }
  })
}

/** Runs `variant` for about `ms`: how many operations, in how many nanoseconds. */
async function runFor(variant: Variant, ms: number): Promise<{ ops: number; elapsed: number }> {
  const start = process.hrtime.bigint()
  let ops = 0
  let elapsed = 0
  while (elapsed < ms * 1e6) {
    await variant.op()
    ops += 1
    elapsed = Number(process.hrtime.bigint() - start)
  }
  return { ops, elapsed }
}

/** Writes a benchmark's figures to bench/results/<name>.json with the machine and runtime they came from. */
export function writeResults(name: string, figures: unknown): string {
  const file = join(import.meta.dirname, 'results', `${name}.json`)
  const report = {
    benchmark: name,
    date: new Date().toISOString(),
    node: process.version,
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
    figures,
  }
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`)
  return file
}

/** Prints rows as an aligned table. */
export function printTable(rows: Record<string, string | number>[]): void {
  if (rows.length === 0) return
  // Every column any row has (a row without one shows an empty cell).
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))]
  const cell = (value: string | number | undefined): string =>
    typeof value === 'number'
      ? Number.isInteger(value)
        ? String(value)
        : value.toFixed(2)
      : String(value ?? '')
  const widths = columns.map((column) =>
    Math.max(column.length, ...rows.map((row) => cell(row[column]).length)),
  )
  const line = (values: string[]): string =>
    values.map((value, i) => value.padEnd(widths[i] as number)).join('  ')
  console.log(line(columns))
  console.log(line(widths.map((width) => '-'.repeat(width))))
  for (const row of rows) console.log(line(columns.map((column) => cell(row[column]))))
}

/**
 * Starts a script of the repository (or `node` arguments) as a child process with `env` over this
 * process's environment, and resolves with its first stdout line (its "listening" line); rejects if it
 * exits first.
 */
export async function startProcess(
  args: string[],
  env: Record<string, string>,
  cwd = join(import.meta.dirname, '..'),
): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, ['--conditions=source', ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`${args.join(' ')} exited with ${code}`)
  })
  const [line] = (await Promise.race([once(createInterface({ input: child.stdout! }), 'line'), exited])) as [
    string,
  ]
  return { child, line }
}

/** SIGTERM, resolved once the child exited. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  await exited
}

/** Where the servers of {@link withServers} are, as the service's configuration variables name them. */
export interface ServersEnv {
  DATABASE_URL: string
  MEMCACHE_SERVERS: string
  REDIS_URL: string
}

/**
 * Runs `fn` with servers of its own for the service, as in production: a PostgreSQL database (empty),
 * three memcached servers and a Redis server; all of them dropped or stopped afterwards.
 */
export async function withServers<T>(fn: (env: ServersEnv) => Promise<T>): Promise<T> {
  const [database, memcached, redis] = await Promise.all([
    createTestDatabase(),
    startMemcached({ servers: 3, memory: 64 }),
    startRedisServer(),
  ])
  try {
    return await fn({
      DATABASE_URL: database.url,
      MEMCACHE_SERVERS: memcached.addresses.join(','),
      REDIS_URL: redis.url,
    })
  } finally {
    await Promise.all([database.drop(), memcached.stop(), redis.stop()])
  }
}

/**
 * The node flags of a benchmark process whose instructions callgrind counts: one thread (the
 * collector's work is counted with the rest, and in the same order each run), and no randomness that
 * would change hash tables or compilation from one run to the next.
 */
export const repeatableNodeFlags = [
  '--single-threaded',
  '--predictable',
  '--random-seed=1',
  '--hash-seed=1',
  '--conditions=source',
]

/** Throws, naming `script`, unless `command` is on the PATH (it comes in the Debian package `debian`). */
export function requireCommand(command: string, script: string, debian = command): void {
  if (spawnSync(command, ['--version']).error !== undefined) {
    throw new Error(`${script} needs ${command} on the PATH (apt-get install -y ${debian})`)
  }
}
