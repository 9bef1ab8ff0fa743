export { Allowance } from './allowance.ts'
export { type Awaitable, asCompleted } from './as-completed.ts'
export { type Clock, clock, systemClock, type TimerHandle, useClock } from './clock.ts'
export { currentDeadline, currentScope, currentSignal, currentSpan, remaining } from './context.ts'
export { detached } from './detached.ts'
export {
  AbortError,
  BackendError,
  type BackendErrorDetails,
  BackendRefused,
  BackendTimeout,
  BackendUnavailable,
  DeadlineExceeded,
  isAbort,
  ProtocolError,
  ScopeClosedError,
  WeftError,
  type WeftErrorCode,
} from './errors.ts'
export { type HedgeOptions, hedge } from './hedge.ts'
export { type MapOptions, map } from './map.ts'
export { onAbort } from './on-abort.ts'
export { type RaceOptions, race } from './race.ts'
export { type ExponentialBackoff, type RetryOptions, retry } from './retry.ts'
export { Scope, type ScopeOptions, scope } from './scope.ts'
export { type SleepOptions, sleep } from './sleep.ts'
export { Task, type TaskContext, type TaskFn, type TaskState } from './task.ts'
