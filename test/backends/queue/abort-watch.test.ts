import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { test } from 'node:test'
import { watchAbort } from '../../../src/backends/queue/abort-watch.ts'

test('many watchers of one signal share one listener, removed when the last stops watching', () => {
  const controller = new AbortController()
  const stops = Array.from({ length: 1000 }, () => watchAbort(controller.signal, () => {}))
  assert.equal(getEventListeners(controller.signal, 'abort').length, 1)
  for (const stop of stops) stop()
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0)
})

test('every watcher still watching is called when the signal aborts', () => {
  const controller = new AbortController()
  const called: string[] = []
  watchAbort(controller.signal, () => called.push('a'))
  const stopB = watchAbort(controller.signal, () => called.push('b'))
  watchAbort(controller.signal, () => called.push('c'))
  stopB()
  controller.abort()
  assert.deepEqual(called, ['a', 'c'])
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0)
})

test('watching again after the last watcher left adds the listener again', () => {
  const controller = new AbortController()
  watchAbort(controller.signal, () => {})()
  let called = false
  watchAbort(controller.signal, () => {
    called = true
  })
  controller.abort()
  assert.equal(called, true)
})

test('stopping twice is harmless', () => {
  const controller = new AbortController()
  const stop = watchAbort(controller.signal, () => {})
  const other = watchAbort(controller.signal, () => {})
  stop()
  stop()
  assert.equal(getEventListeners(controller.signal, 'abort').length, 1, 'the other watcher keeps it')
  other()
})
