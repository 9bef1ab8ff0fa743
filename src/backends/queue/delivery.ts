/**
 * One delivery of a task to its handler, as a request of its own: a scope opened outside whatever
 * context the worker was started in, with the worker's stop signal, the delivery's time budget and a
 * trace linked to the enqueuing request. What both backends' workers share.
 */

import { detached } from '../../core/detached.ts'
import { DeadlineExceeded, isAbort } from '../../core/errors.ts'
import { scope } from '../../core/scope.ts'
import type { TraceListener } from '../../trace/span.ts'
import { parseTraceparent } from '../../trace/traceparent.ts'
import type { TaskHandler } from './task-queue.ts'
import { deliveryTracing, describeDelivery } from './trace-context.ts'

/** A task as a worker received it. */
export interface Delivery {
  readonly id: string
  readonly name: string
  readonly payload: unknown
  /** This delivery's number, from 1. */
  readonly attempt: number
  readonly maxAttempts: number
  readonly dedupeKey: string | undefined
  /** The enqueuing request's producer span, as W3C `traceparent`. */
  readonly traceparent: string | undefined
}

/**
 * How a delivery ended: the handler returned (`done`), failed (`failed`: retry or dead letter), or
 * was stopped by its worker's shutdown before it finished (`returned`: back to the queue, the attempt
 * not used up).
 */
export type Outcome = { status: 'done' } | { status: 'failed'; error: unknown } | { status: 'returned' }

/** A worker's settings that shape each delivery. */
export interface DeliverySettings {
  readonly timeout: number | undefined
  readonly trace: boolean | TraceListener | undefined
  readonly backend: string
  readonly address: string
}

/**
 * Runs `handler` for `delivery` in a new scope (cancelled by `stop` and by the settings' timeout) and
 * says how it ended. Never rejects.
 */
export async function deliver(
  delivery: Delivery,
  handler: TaskHandler,
  settings: DeliverySettings,
  stop: AbortSignal,
): Promise<Outcome> {
  const parent = parseTraceparent(delivery.traceparent)
  let finished = false
  try {
    await detached(() =>
      scope(
        {
          name: `queue.process ${delivery.name}`,
          kind: 'consumer',
          signal: stop,
          ...(settings.timeout !== undefined && { deadline: settings.timeout }),
          ...deliveryTracing(parent, settings.trace),
        },
        async (s) => {
          describeDelivery(s.span, {
            'queue.backend': settings.backend,
            'queue.name': delivery.name,
            'queue.task_id': delivery.id,
            'queue.attempt': delivery.attempt,
            'server.address': settings.address,
          })
          await handler(delivery.payload, {
            id: delivery.id,
            name: delivery.name,
            attempt: delivery.attempt,
            maxAttempts: delivery.maxAttempts,
            dedupeKey: delivery.dedupeKey ?? delivery.id,
            signal: s.signal,
            deadline: s.deadline,
            traceId: parent?.traceId,
          })
          finished = true
        },
      ),
    )
    return { status: 'done' }
  } catch (error) {
    // The handler's work is done even if a task it left running was cancelled afterwards.
    if (finished) return { status: 'done' }
    if (stop.aborted && isAbort(error) && !(error instanceof DeadlineExceeded)) return { status: 'returned' }
    return { status: 'failed', error }
  }
}

/** A failure as stored with the task: the message (with the error's name), never more than 2000 characters. */
export function describeFailure(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  return text.length > 2000 ? `${text.slice(0, 1999)}…` : text
}
