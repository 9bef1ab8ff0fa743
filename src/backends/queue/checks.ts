/** Argument checks of the queue's entry points, shared by every backend. */
import {
  checkCount,
  checkDuration,
  checkFunction,
  checkOptions,
  checkSignal,
  checkString,
  describe,
} from '../../core/validate.ts'
import type { DeliverySettings } from './delivery.ts'
import type {
  CloseOptions,
  DeadLetterOptions,
  EnqueueOptions,
  QueueOptions,
  TaskHandler,
  WorkerOptions,
} from './task-queue.ts'
import { warn } from './warn.ts'

/** Queue settings with their defaults applied. */
export interface QueueSettings {
  readonly attempts: number
  readonly backoff: { readonly initial: number; readonly max: number }
  readonly lease: number
  readonly keepDone: number
}

/** How long `close()` lets deliveries in flight finish, by default. */
export const DEFAULT_GRACE_MS = 10_000

// Letters, digits, `.`, `_` and `-`: a name is part of Redis keys, where `:` separates fields.
const taskName = /^[A-Za-z0-9._-]{1,200}$/

/** Checks a task name: 1 to 200 letters, digits, `.`, `_` or `-`. */
export function checkTaskName(where: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || !taskName.test(name)) {
    throw new TypeError(
      `${where}: name must be 1 to 200 letters, digits, '.', '_' or '-', got ${describe(name)}`,
    )
  }
}

/** Checks the queue-wide options and applies their defaults. */
export function queueSettings(where: string, options: QueueOptions): QueueSettings {
  const { attempts = 3, backoff = {}, lease = 30_000, keepDone = 3_600_000 } = options
  checkCount(where, 'options.attempts', attempts, 1)
  checkOptions(where, backoff)
  const { initial = 1000, max = 300_000 } = backoff
  checkDuration(where, 'options.backoff.initial', initial)
  checkDuration(where, 'options.backoff.max', max)
  checkDuration(where, 'options.lease', lease)
  if (lease < 10) throw new TypeError(`${where}: options.lease must be at least 10 ms, got ${lease}`)
  checkDuration(where, 'options.keepDone', keepDone)
  return { attempts, backoff: { initial, max }, lease, keepDone }
}

/** Checks an enqueue and returns the payload's JSON text: a payload JSON cannot carry fails here, at the call. */
export function checkEnqueue(name: unknown, payload: unknown, options: EnqueueOptions | undefined): string {
  const where = 'enqueue()'
  checkTaskName(where, name)
  checkOptions(where, options)
  const { delay, attempts, dedupeKey, signal } = options ?? {}
  if (delay !== undefined) checkDuration(where, 'options.delay', delay)
  if (attempts !== undefined) checkCount(where, 'options.attempts', attempts, 1)
  if (dedupeKey !== undefined) {
    checkString(where, 'options.dedupeKey', dedupeKey)
    if (dedupeKey === '') throw new TypeError(`${where}: options.dedupeKey must not be empty`)
  }
  if (signal !== undefined) checkSignal(where, 'options.signal', signal)
  let json: string | undefined
  try {
    json = JSON.stringify(payload)
  } catch (error) {
    throw new TypeError(`${where}: payload must be JSON-serializable: ${(error as Error).message}`)
  }
  if (json === undefined) {
    throw new TypeError(`${where}: payload must be JSON-serializable, got ${describe(payload)}`)
  }
  return json
}

/** What every backend's worker takes from `worker()`'s arguments, defaults applied. */
export interface WorkerSettings {
  readonly name: string
  readonly handler: TaskHandler
  readonly concurrency: number
  readonly delivery: DeliverySettings
  readonly onError: (error: unknown) => void
}

/** Checks the arguments of `worker()` and returns the worker's settings on the queue at `endpoint`. */
export function workerSettings(
  name: unknown,
  handler: unknown,
  options: WorkerOptions | undefined,
  endpoint: { readonly backend: string; readonly address: string },
): WorkerSettings {
  const where = 'worker()'
  checkTaskName(where, name)
  checkFunction(where, 'handler', handler)
  checkOptions(where, options)
  const { concurrency = 1, timeout, trace, onError = warn } = options ?? {}
  checkCount(where, 'options.concurrency', concurrency, 1)
  if (timeout !== undefined) checkDuration(where, 'options.timeout', timeout)
  if (trace !== undefined && typeof trace !== 'boolean' && typeof trace !== 'function') {
    throw new TypeError(`${where}: options.trace must be a boolean or a function, got ${describe(trace)}`)
  }
  checkFunction(where, 'options.onError', onError)
  return {
    name,
    handler: handler as TaskHandler,
    concurrency,
    delivery: { timeout, trace, backend: endpoint.backend, address: endpoint.address },
    onError,
  }
}

/** Checks close options and returns the grace period. */
export function graceOf(where: string, options: CloseOptions | undefined): number {
  checkOptions(where, options)
  const { graceMs = DEFAULT_GRACE_MS } = options ?? {}
  checkDuration(where, 'options.graceMs', graceMs)
  return graceMs
}

/** Checks `deadLetters()` arguments and returns the limit. */
export function checkDeadLetters(name: unknown, options: DeadLetterOptions | undefined): number {
  const where = 'deadLetters()'
  checkTaskName(where, name)
  checkOptions(where, options)
  const { limit = 100 } = options ?? {}
  checkCount(where, 'options.limit', limit, 1)
  return limit
}
