import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { test } from 'node:test'
import { onAbort, sleep } from 'weft'

test('many watchers of one signal share one listener, removed when the last stops watching', () => {
  const controller = new AbortController()
  const stops = Array.from({ length: 1000 }, () => onAbort(controller.signal, () => {}))
  assert.equal(getEventListeners(controller.signal, 'abort').length, 1)
  for (const stop of stops) stop()
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0)
})

test('every watcher still watching is called when the signal aborts', () => {
  const controller = new AbortController()
  const called: string[] = []
  onAbort(controller.signal, () => called.push('a'))
  const stopB = onAbort(controller.signal, () => called.push('b'))
  onAbort(controller.signal, () => called.push('c'))
  stopB()
  controller.abort()
  assert.deepEqual(called, ['a', 'c'])
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0)
})

test('watching again after the last watcher left adds the listener again', () => {
  const controller = new AbortController()
  onAbort(controller.signal, () => {})()
  let called = false
  onAbort(controller.signal, () => {
    called = true
  })
  controller.abort()
  assert.equal(called, true)
})

test('stopping twice is harmless', () => {
  const controller = new AbortController()
  const stop = onAbort(controller.signal, () => {})
  const other = onAbort(controller.signal, () => {})
  stop()
  stop()
  assert.equal(getEventListeners(controller.signal, 'abort').length, 1, 'the other watcher keeps it')
  other()
})

test('sleeps under one signal share its listener, so ten thousand of them cost linear time', async () => {
  const controller = new AbortController()
  const sleeping = Array.from({ length: 10_000 }, () =>
    sleep(60_000, { signal: controller.signal }).catch(() => 'woken'),
  )
  assert.equal(getEventListeners(controller.signal, 'abort').length, 1)
  controller.abort()
  assert.equal((await Promise.all(sleeping)).filter((outcome) => outcome === 'woken').length, 10_000)
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0)
})
