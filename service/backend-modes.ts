/**
 * Ways to run the pipeline on altered backends, for tests and the benchmark: with a fixed latency
 * added to each backend's calls, serialised (each call awaited in turn, the pipeline made sequential
 * without changing a line of it), or counted.
 */
import { currentScope } from 'weft'
import { type FaultPlan, withFaults } from 'weft/testing'
import { type BackendName, type Backends, type Call, mapCalls } from './backend-calls.ts'

/** Latency added to every call of each backend, in ms: a constant, or a range drawn per call. */
export type Latencies = Partial<Record<BackendName, NonNullable<FaultPlan['latency']>>>

/**
 * `backends` with `latencies` added to their calls (on weft's clock, cancelled with the call), as a
 * network between the service and each backend would.
 */
export function withLatency(backends: Backends, latencies: Latencies): Backends {
  return mapCalls(backends, (backend, _name, call) => {
    const latency = latencies[backend]
    return latency === undefined ? call : withFaults(call, { latency })
  })
}

/**
 * `backends` whose calls, within one request, run one at a time, each awaited before the next starts:
 * the pipeline as it would run written sequentially, with the same calls. Requests are told apart by
 * their outermost scope; calls outside any scope share one queue.
 */
export function sequential(backends: Backends): Backends {
  const outside = {}
  const tails = new WeakMap<object, Promise<unknown>>()
  return mapCalls(backends, (_backend, _name, call) => (...args) => {
    const request = currentScope()?.root ?? outside
    const result = (tails.get(request) ?? Promise.resolve()).then(() => call(...args))
    tails.set(
      request,
      result.catch(() => {}),
    )
    return result
  })
}

/** Calls made so far, per backend. */
export type CallCounts = Record<BackendName, number>

/** `backends` counting their calls; `counts()` reads the counters. */
export function countingCalls(backends: Backends): { backends: Backends; counts(): CallCounts } {
  const counts: CallCounts = { geocoder: 0, database: 0, memcache: 0, redis: 0, queue: 0 }
  const counting = mapCalls(backends, (backend, _name, call): Call => {
    return (...args) => {
      counts[backend] += 1
      return call(...args)
    }
  })
  return { backends: counting, counts: () => ({ ...counts }) }
}
