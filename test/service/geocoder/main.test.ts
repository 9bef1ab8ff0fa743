// `npm run geocoder`: the script starts the service on GEOCODER_PORT, prints its URL, and stops
// cleanly on SIGTERM.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { test } from 'node:test'

const root = join(import.meta.dirname, '../../..')

function start(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--conditions=source', 'service/geocoder/main.ts'], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

test('listens on GEOCODER_PORT, prints its URL, answers, and exits 0 on SIGTERM', async () => {
  const child = start({ GEOCODER_PORT: '0' })
  const exited = once(child, 'exit')
  try {
    const [line] = (await Promise.race([
      once(createInterface({ input: child.stdout! }), 'line'),
      exited.then(([code]) => assert.fail(`the geocoder exited with ${code} before listening`)),
    ])) as [string]
    const url = /^geocoder listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line)?.[1]
    assert.ok(url, line)
    const response = await fetch(`${url}/geocode?ip=8.8.8.8`)
    assert.equal(response.status, 200)
    assert.equal(((await response.json()) as { country: string }).country, 'US')
  } finally {
    child.kill('SIGTERM')
  }
  assert.deepEqual(await exited, [0, null])
})

test('refuses a GEOCODER_PORT that is not a port number, exiting 2 with a message', async () => {
  const child = start({ GEOCODER_PORT: 'http' })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk
  })
  const [code] = await once(child, 'exit')
  assert.equal(code, 2)
  assert.match(stderr, /GEOCODER_PORT must be a port number from 0 to 65535, got "http"/)
})
