// `npm start` and `npm run worker` as processes: on a fresh machine the service loads the data sets,
// serves on PORT and prints its URL; a later start reuses the data; bad configuration exits 2.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, test } from 'node:test'
import { createTestDatabase } from '../../src/testing/postgres.ts'

const root = join(import.meta.dirname, '../..')
const dataDir = mkdtempSync(join(tmpdir(), 'weft-search-'))
after(() => rmSync(dataDir, { recursive: true, force: true }))

function run(script: string, env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--conditions=source', script], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: '', MEMCACHE_SERVERS: '', REDIS_URL: '', GEOCODER_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

/** The first line the process prints on stdout; fails if it exits first. */
async function firstLine(child: ChildProcess): Promise<string> {
  const exited = once(child, 'exit').then(([code]) => assert.fail(`exited with ${code} before printing`))
  const [line] = (await Promise.race([once(createInterface({ input: child.stdout! }), 'line'), exited])) as [
    string,
  ]
  return line
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const [code] = await exited
  return code as number | null
}

function collect(stream: NodeJS.ReadableStream): () => string {
  let text = ''
  stream.on('data', (chunk) => {
    text += String(chunk)
  })
  return () => text
}

test('npm start on a fresh machine loads the data with progress, serves on PORT, and stops on SIGTERM', async () => {
  const child = run('service/main.ts', { PORT: '0', DATA_DIR: dataDir })
  const stderr = collect(child.stderr!)
  const line = await firstLine(child)
  const url = /^weft search listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line)?.[1]
  assert.ok(url, line)
  assert.match(stderr(), /cities: loaded 135,233 rows/)
  assert.match(stderr(), /ip_networks: loaded 411,961 rows/)
  const response = await fetch(`${url}/search?q=lisb&limit=1`)
  assert.equal(response.status, 200)
  assert.equal(((await response.json()) as { results: { name: string }[] }).results[0]?.name, 'Lisbon')
  assert.equal(await stop(child), 0)

  const again = run('service/main.ts', { PORT: '0', DATA_DIR: dataDir })
  const againStderr = collect(again.stderr!)
  assert.match(await firstLine(again), /^weft search listening on /)
  assert.match(againStderr(), /cities: reused 135,233 rows/)
  assert.equal(await stop(again), 0)
})

test('npm start with an unusable variable exits 2, naming it', async () => {
  const child = run('service/main.ts', { PORT: 'eighty' })
  const stderr = collect(child.stderr!)
  const [code] = await once(child, 'exit')
  assert.equal(code, 2)
  assert.match(stderr(), /PORT must be a whole number from 0 to 65535, got "eighty"/)
})

test('npm run worker runs on the database the servers use, and needs one', async () => {
  const refused = run('service/worker-main.ts', {})
  const refusal = collect(refused.stderr!)
  assert.equal((await once(refused, 'exit'))[0], 2)
  assert.match(refusal(), /set DATABASE_URL/)

  await using database = await createTestDatabase()
  const worker = run('service/worker-main.ts', { DATABASE_URL: database.url })
  assert.match(await firstLine(worker), /^weft worker running on postgres /)
  assert.equal(await stop(worker), 0)
})
