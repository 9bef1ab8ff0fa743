// The `weft` command, run for real as a child process: through npx as a user types it, through the
// machine's own node (which may predate the project's Node 24: bin/weft.js then re-runs it under that),
// and against a running search service.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { renderWaterfall, type Scope, sleep } from 'weft'
import { embeddedDatabase } from 'weft/sql'
import { freePort } from '../../src/testing/free-port.ts'
import { lisbonVisitor, loadTestData } from '../service/fixtures.ts'
import { startService } from '../service/support.ts'
import { record } from '../trace/helpers.ts'

const root = join(import.meta.dirname, '..', '..')
const bin = join(root, 'bin', 'weft.js')
const dir = mkdtempSync(join(tmpdir(), 'weft-cli-'))
after(() => rmSync(dir, { recursive: true, force: true }))

interface Run {
  code: number
  stdout: string
  stderr: string
}

/**
 * Runs `command args` in the repository, with `env` over this process's environment (NO_COLOR and
 * WEFT_URL unset), writing `input` to its standard input.
 */
function run(
  command: string,
  args: readonly string[],
  env: Record<string, string> = {},
  input = '',
): Promise<Run> {
  const { NO_COLOR: _, WEFT_URL: __, ...inherited } = process.env
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      [...args],
      { cwd: root, env: { ...inherited, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : (error as { code?: unknown }).code
        if (typeof code !== 'number') reject(error)
        else resolve({ code, stdout, stderr })
      },
    )
    child.stdin?.end(input)
  })
}

/** The weft command under the project's Node 24 (the fastest way in; npx and node 20 have a test each). */
const weft = (args: readonly string[], env?: Record<string, string>) =>
  run(process.execPath, [bin, ...args], env)

async function searchLike(s: Scope): Promise<void> {
  s.spawn('geocode', () => sleep(20))
  s.spawn('session', async () => {
    await sleep(5)
    await sleep(10)
  })
  await sleep(25)
}

test('npx weft trace <file.json> prints the waterfall, then the critical path and the slack', async () => {
  const trace = await record(searchLike)
  const file = join(dir, 'trace.json')
  writeFileSync(file, JSON.stringify(trace))
  // npm's own notices (a newer npm is out, checked now and then against the registry) would go to
  // stderr, which is weft's to keep empty.
  const { code, stdout, stderr } = await run('npx', ['weft', 'trace', file], {
    npm_config_update_notifier: 'false',
  })
  assert.equal(stderr, '')
  assert.equal(code, 0)
  const waterfall = renderWaterfall(trace, { width: 100 })
  assert.ok(
    stdout.startsWith(`${waterfall}\n`),
    'the waterfall, 100 columns wide and plain when not on a terminal',
  )
  assert.deepEqual(stdout.slice(waterfall.length + 1).split('\n'), [
    '',
    "critical path, 25.0 ms over 2 spans: where the time went (each span's own time on it)",
    '    20.0 ms  80%  geocode',
    '    5.00 ms  20%  request',
    '',
    'off the path, least slack first (how much later each could have ended without delaying the request):',
    '     slack 10.0 ms  session',
    '',
  ])
})

test('weft trace - reads the trace from standard input', async () => {
  const trace = await record(searchLike)
  const piped = await run(process.execPath, [bin, 'trace', '-', '--width', '60'], {}, JSON.stringify(trace))
  assert.equal(piped.code, 0, piped.stderr)
  assert.ok(piped.stdout.startsWith(renderWaterfall(trace, { width: 60 })))
})

test('run by the node on PATH (older than 24 on these machines), the command re-runs itself under the project node', async () => {
  const trace = await record(searchLike)
  const file = join(dir, 'old-node.json')
  writeFileSync(file, JSON.stringify({ traceId: trace.id, spans: trace.toJSON().spans }))
  const { code, stdout } = await run('node', [bin, 'trace', file, '--width', '60', '--color'])
  assert.equal(code, 0)
  assert.ok(stdout.startsWith(renderWaterfall(trace, { width: 60, color: true })))
})

test('weft trace <id> asks a running service, --url or WEFT_URL; an unknown id fails with exit 1', async () => {
  await using db = embeddedDatabase()
  await loadTestData(db)
  await using service = await startService({ db, worker: false })
  const search = await service.search(lisbonVisitor, { q: 'lisb' })
  const id = search.body.traceId as string

  const byUrl = await weft(['trace', id, '--url', service.url])
  assert.equal(byUrl.code, 0, byUrl.stderr)
  assert.match(byUrl.stdout, new RegExp(`^GET /search · .* · trace ${id}\n`))
  for (const step of ['geocode', 'rate limits', 'session', 'query text'])
    assert.match(byUrl.stdout, new RegExp(step))
  assert.match(byUrl.stdout, /\ncritical path, .* ms over \d+ spans/)

  const byEnv = await weft(['trace', id], { WEFT_URL: service.url })
  assert.equal(byEnv.code, 0, byEnv.stderr)

  const unknown = await weft(['trace', 'ab'.repeat(16), '--url', service.url])
  assert.equal(unknown.code, 1)
  assert.equal(unknown.stdout, '')
  assert.equal(
    unknown.stderr,
    `weft trace: no trace ${'ab'.repeat(16)} at ${service.url}: it may have been sampled out, or forgotten\n`,
  )
})

test("a service that is not there, or a URL that is no service's: exit 1 saying so", async () => {
  // A port that was free a moment ago: nothing listens there.
  const port = await freePort()
  const down = await weft(['trace', 'ab'.repeat(16), '--url', `http://127.0.0.1:${port}`])
  assert.equal(down.code, 1)
  assert.equal(
    down.stderr,
    `weft trace: cannot reach the service at http://127.0.0.1:${port} (ECONNREFUSED): is it running (npm start)? Give its address with --url or WEFT_URL\n`,
  )
  const badUrl = await weft(['trace', 'ab'.repeat(16), '--url', 'ftp://example'])
  assert.equal(badUrl.code, 1)
  assert.match(
    badUrl.stderr,
    /the service's URL must start with http:\/\/ or https:\/\/, got "ftp:\/\/example"/,
  )
})

test('a file that is missing, not JSON, or not a trace: exit 1 naming the problem', async () => {
  const missing = await weft(['trace', join(dir, 'nope.json')])
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /^weft trace: cannot read .*nope\.json: no such file \(nor is it a trace id/)
  const notJson = join(dir, 'not.json')
  writeFileSync(notJson, '{"traceId":')
  const broken = await weft(['trace', notJson])
  assert.equal(broken.code, 1)
  assert.match(broken.stderr, /not\.json is not a trace: parseTrace\(\): the text is not JSON/)
  const notTrace = join(dir, 'spans.json')
  writeFileSync(notTrace, JSON.stringify({ traceId: 'x', spans: [{ spanId: 1 }] }))
  const wrong = await weft(['trace', notTrace])
  assert.equal(wrong.code, 1)
  assert.match(wrong.stderr, /spans\.json is not a trace: parseTrace\(\): spans\[0\]\.traceId must be/)
})

test('usage: help on request (exit 0), and on a wrong command line (exit 2)', async () => {
  const help = await weft(['--help'])
  assert.equal(help.code, 0)
  assert.match(help.stdout, /^usage: weft trace <trace id \| file\.json>/)
  for (const [args, message] of [
    [[], /^usage: weft trace/],
    [['traces'], /^weft: unknown command "traces"\nusage:/],
    [['trace'], /^weft: trace takes one trace id or file, got none\n/],
    [['trace', 'a.json', 'b.json'], /^weft: trace takes one trace id or file, got 2\n/],
    [
      ['trace', 'a.json', '--width', '10'],
      /^weft: --width must be a whole number of columns, at least 40, got "10"/,
    ],
    [['trace', 'a.json', '--colour'], /^weft: Unknown option '--colour'/],
  ] as const) {
    const wrong = await weft(args)
    assert.equal(wrong.code, 2, args.join(' '))
    assert.match(wrong.stderr, message, args.join(' '))
  }
})
