// Admission control (service/admission.ts): at most `limit` searches at once, the rest wait their
// turn in order, and a wait past `maxWait` is a 503 OVERLOADED before any work; over HTTP too.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { embeddedDatabase } from 'weft/sql'
import { withVirtualClock } from 'weft/testing'
import { Admission } from '../../service/admission.ts'
import { mapCalls } from '../../service/backend-calls.ts'
import { Overloaded } from '../../service/errors.ts'
import { lisbonVisitor, loadTestData } from './fixtures.ts'
import { startService } from './support.ts'

const never = new AbortController().signal

describe('Admission', () => {
  test('runs `limit` at once; the next ones run in order as slots free', async () => {
    const admission = new Admission(2, 60_000)
    const gates = [
      Promise.withResolvers<void>(),
      Promise.withResolvers<void>(),
      Promise.withResolvers<void>(),
      Promise.withResolvers<void>(),
    ]
    const started: number[] = []
    const runs = gates.map((gate, i) =>
      admission.run(async () => {
        started.push(i)
        await gate.promise
        return i
      }, never),
    )
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(started, [0, 1])
    assert.deepEqual(admission.state, { running: 2, waiting: 2 })
    gates[1]?.resolve()
    assert.equal(await runs[1], 1)
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(started, [0, 1, 2])
    for (const gate of gates) gate.resolve()
    assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3])
    assert.deepEqual(admission.state, { running: 0, waiting: 0 })
  })

  test('a wait past maxWait is refused with Overloaded, and never runs', () =>
    withVirtualClock(async (clock) => {
      const admission = new Admission(1, 20)
      const gate = Promise.withResolvers<void>()
      const first = admission.run(() => gate.promise, never)
      let ran = false
      const second = admission.run(async () => {
        ran = true
      }, never)
      const refused = assert.rejects(
        second,
        (error) =>
          error instanceof Overloaded &&
          error.status === 503 &&
          error.code === 'OVERLOADED' &&
          error.headers['retry-after'] === '1',
      )
      await clock.advance(19)
      assert.deepEqual(admission.state, { running: 1, waiting: 1 })
      await clock.advance(1)
      await refused
      assert.equal(ran, false)
      assert.deepEqual(admission.state, { running: 1, waiting: 0 })
      gate.resolve()
      await first
    }))

  test('an aborted wait rejects with its reason and leaves the queue; a failed run frees its slot', async () => {
    const admission = new Admission(1, 60_000)
    const gate = Promise.withResolvers<void>()
    const first = admission.run(async () => {
      await gate.promise
      throw new Error('search failed')
    }, never)
    const gone = new AbortController()
    const abandoned = admission.run(async () => 'abandoned', gone.signal)
    const next = admission.run(async () => 'next', never)
    gone.abort(new Error('the client closed the connection'))
    await assert.rejects(abandoned, /the client closed the connection/)
    assert.deepEqual(admission.state, { running: 1, waiting: 1 })
    gate.resolve()
    await assert.rejects(first, /search failed/)
    assert.equal(await next, 'next')
    assert.deepEqual(admission.state, { running: 0, waiting: 0 })
  })

  test('a limit that is not a whole number of at least 1 is refused', () => {
    assert.throws(() => new Admission(0, 10), RangeError)
    assert.throws(() => new Admission(1.5, 10), RangeError)
    assert.throws(() => new Admission(1, -1), RangeError)
  })
})

test('over HTTP: with MAX_IN_FLIGHT=1, a second search waits a quarter of its budget, then gets a 503', async () => {
  await using db = embeddedDatabase()
  await loadTestData(db)
  const entered = Promise.withResolvers<void>()
  const release = Promise.withResolvers<void>()
  let held = true
  await using service = await startService({
    db,
    worker: false,
    env: { MAX_IN_FLIGHT: '1', REQUEST_TIMEOUT_MS: '2000' },
    budgets: { geocoder: 60_000 },
    // The first search's geocode waits for the test; the ones after it do not.
    wrap: (backends) =>
      mapCalls(backends, (backend, _name, call) =>
        backend !== 'geocoder'
          ? call
          : async (...args) => {
              if (held) {
                held = false
                entered.resolve()
                await release.promise
              }
              return call(...args)
            },
      ),
  })
  const first = service.search(lisbonVisitor, { q: 'lisb' })
  await entered.promise
  const started = performance.now()
  const second = await service.search(lisbonVisitor, { q: 'porto' })
  const waited = performance.now() - started
  assert.equal(second.status, 503, JSON.stringify(second.body))
  assert.equal(second.body.code, 'OVERLOADED')
  assert.equal(second.headers.get('retry-after'), '1')
  assert.ok(waited >= 500 - 5, `refused after ${waited} ms`)
  release.resolve()
  assert.equal((await first).status, 200)
  assert.equal((await service.search(lisbonVisitor, { q: 'faro' })).status, 200)
})
