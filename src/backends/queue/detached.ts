import { AsyncResource } from 'node:async_hooks'

// Created at load time, where no weft context is ambient.
const outside = new AsyncResource('weft.queue')

/**
 * Runs `fn` outside any request: weft's ambient scope, signal, deadline and span of the code that
 * triggered it do not apply inside. Deliveries run this way (a worker started inside a request must
 * not make its deliveries part of it), and so do writes shared by many requests' calls.
 */
export function detached<T>(fn: () => T): T {
  return outside.runInAsyncScope(fn)
}
