// npm run bench:backends — does the unified model pay off on real servers?
//
// Side by side in one run, each question against its naive version:
// - 100 independent memcache gets issued in one turn over 3 real memcached shards: round trips and
//   time, against the same gets awaited one by one, and against the floor: the 100 meta-protocol
//   requests written by hand on raw sockets, one pipelined write per shard.
// - 100 row lookups through the SQL key loader (one `= ANY($1)` statement) against 100 single
//   queries, awaited one by one and issued all at once over the pool, on PostgreSQL and on PGlite.
// Figures go to bench/results/backends.json; the queue has its own (bench/queue.ts).
import { connect, type Socket } from 'node:net'
import { scope } from 'weft'
import { type Memcache, memcacheClient } from 'weft/memcache'
import { type Database, embeddedDatabase, keyLoader, postgres } from 'weft/sql'
import { createTestDatabase, startMemcached } from 'weft/testing'
import { type Measured, measure, printTable, ratiosTo, writeResults } from './harness.ts'

const lookups = 100

function table(
  title: string,
  results: Measured[],
  baseline: string,
  extra: Record<string, Record<string, number>> = {},
) {
  const ratios = ratiosTo(results, baseline)
  console.log(`\n${title}`)
  printTable(
    results.map((result) => ({
      variant: result.name,
      'µs per 100': (result.nsPerUnit * lookups) / 1000,
      [`x ${baseline}`]: ratios[result.name] ?? Number.NaN,
      ...extra[result.name],
    })),
  )
}

/** The floor: every get written by hand as one pipelined meta-protocol write per shard. */
class RawShard {
  readonly #socket: Socket
  #buffer = ''
  #waiting: (() => void) | undefined
  constructor(address: string) {
    const [host, port] = address.split(':')
    this.#socket = connect(Number(port), host)
    this.#socket.setNoDelay(true)
    this.#socket.on('data', (chunk) => {
      this.#buffer += chunk.toString('latin1')
      if (this.#buffer.endsWith('MN\r\n')) {
        this.#buffer = ''
        this.#waiting?.()
      }
    })
  }
  getMany(keys: string[]): Promise<void> {
    return new Promise((resolve) => {
      this.#waiting = resolve
      this.#socket.write(`${keys.map((key) => `mg ${key} v\r\n`).join('')}mn\r\n`)
    })
  }
  close(): void {
    this.#socket.destroy()
  }
}

async function memcacheBench() {
  await using servers = await startMemcached({ servers: 3 })
  const cache: Memcache = memcacheClient({ servers: servers.addresses })
  const keys = Array.from({ length: lookups }, (_, i) => `bench:key:${i}`)
  await Promise.all(keys.map((key) => cache.set(key, `value of ${key}`)))
  const byShard = new Map<string, string[]>()
  for (const key of keys) {
    const shard = cache.serverFor(key)
    byShard.set(shard, [...(byShard.get(shard) ?? []), key])
  }
  const raw = new Map([...byShard.keys()].map((address) => [address, new RawShard(address)]))
  const roundTrips = () => cache.stats().reduce((sum, shard) => sum + shard.roundTrips, 0)
  const tripsOf = async (op: () => Promise<unknown>) => {
    const before = roundTrips()
    await op()
    return roundTrips() - before
  }
  const inOneTurn = () => scope(() => Promise.all(keys.map((key) => cache.get(key))))
  const oneByOne = () =>
    scope(async () => {
      for (const key of keys) await cache.get(key)
    })
  const handWritten = () =>
    Promise.all([...byShard].map(([address, shardKeys]) => raw.get(address)?.getMany(shardKeys)))
  const trips = { inOneTurn: await tripsOf(inOneTurn), oneByOne: await tripsOf(oneByOne) }
  const results = await measure(
    [
      { name: 'weft: 100 gets in one turn', op: inOneTurn },
      { name: 'weft: awaited one by one', op: oneByOne },
      { name: 'floor: raw sockets, one write per shard', op: handWritten },
    ],
    { unitsPerOp: lookups, rounds: 5, msPerRound: 300 },
  )
  table('100 memcache gets over 3 real shards', results, 'weft: 100 gets in one turn', {
    'weft: 100 gets in one turn': { 'round trips': trips.inOneTurn },
    'weft: awaited one by one': { 'round trips': trips.oneByOne },
    'floor: raw sockets, one write per shard': { 'round trips': byShard.size },
  })
  for (const shard of raw.values()) shard.close()
  await cache.close()
  return { shards: 3, gets: lookups, roundTrips: { ...trips, floor: byShard.size }, results }
}

async function sqlBench(label: string, db: Database) {
  await db.query('CREATE TABLE IF NOT EXISTS bench_users (id int PRIMARY KEY, name text NOT NULL)')
  await db.query(
    'INSERT INTO bench_users SELECT i, $1 || i FROM generate_series(1, 1000) AS i ON CONFLICT (id) DO NOTHING',
    ['user '],
  )
  const ids = Array.from({ length: lookups }, (_, i) => 1 + ((i * 37) % 1000))
  const byId = keyLoader<{ id: number; name: string }, number>(db, {
    name: 'users by id',
    sql: 'SELECT id, name FROM bench_users WHERE id = ANY($1)',
    key: 'id',
  })
  const single = (id: number) => db.query('SELECT id, name FROM bench_users WHERE id = $1', [id])
  const viaLoader = () => scope(() => Promise.all(ids.map((id) => byId.load(id))))
  const oneByOne = async () => {
    for (const id of ids) await single(id)
  }
  const allAtOnce = () => Promise.all(ids.map(single))
  const tripsOf = async (op: () => Promise<unknown>) => {
    const before = db.stats().roundTrips
    await op()
    return db.stats().roundTrips - before
  }
  const trips = {
    loader: await tripsOf(viaLoader),
    oneByOne: await tripsOf(oneByOne),
    allAtOnce: await tripsOf(allAtOnce),
  }
  const results = await measure(
    [
      { name: 'weft: key loader (one statement)', op: viaLoader },
      { name: '100 single queries, one by one', op: oneByOne },
      { name: '100 single queries, all at once', op: allAtOnce },
    ],
    { unitsPerOp: lookups, rounds: 5, msPerRound: 300 },
  )
  table(`100 row lookups on ${label}`, results, 'weft: key loader (one statement)', {
    'weft: key loader (one statement)': { 'round trips': trips.loader },
    '100 single queries, one by one': { 'round trips': trips.oneByOne },
    '100 single queries, all at once': { 'round trips': trips.allAtOnce },
  })
  await db.query('DROP TABLE bench_users')
  const vsLoader = ratiosTo(results, results[0]?.name ?? '')
  return {
    database: label,
    lookups,
    roundTrips: trips,
    results,
    speedup: {
      oneByOne: vsLoader[results[1]?.name ?? ''] ?? Number.NaN,
      allAtOnce: vsLoader[results[2]?.name ?? ''] ?? Number.NaN,
    },
  }
}

const memcache = await memcacheBench()
await using testDatabase = await createTestDatabase()
const onPostgres = postgres(testDatabase.url)
const sqlPostgres = await sqlBench('PostgreSQL (127.0.0.1:5432)', onPostgres)
await onPostgres.close()
await using onPglite = embeddedDatabase()
const sqlPglite = await sqlBench('PGlite (embedded)', onPglite)
const file = writeResults('backends', { memcache, sql: [sqlPostgres, sqlPglite] })
console.log(`\nfigures written to ${file}`)
