import { describeFailure } from './delivery.ts'

/** The default `onError` of a worker: a process warning (printed once per distinct message by Node). */
export function warn(error: unknown): void {
  process.emitWarning(`weft/queue worker: ${describeFailure(error)}`, { type: 'WeftQueueWarning' })
}
