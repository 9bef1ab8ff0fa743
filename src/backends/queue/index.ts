/**
 * `weft/queue`: a durable task queue (the seed's Celery). One contract ({@link TaskQueue}): enqueue
 * with delay, attempts and a dedupe key; workers with a concurrency limit; at-least-once delivery,
 * retries with exponential backoff, dead letters, graceful shutdown; the enqueuing request's trace
 * carried into each delivery. Two backends keep it: {@link postgresQueue} (PostgreSQL, or the embedded
 * database) and {@link redisQueue} (BullMQ); {@link queueFromEnv} picks one from configuration.
 */
export { retryDelay } from './backoff.ts'
export { type QueueFromEnvOptions, queueFromEnv } from './env.ts'
export { type PostgresQueueOptions, postgresQueue } from './postgres-queue.ts'
export { type RedisQueueOptions, redisQueue } from './redis-queue.ts'
export type {
  CloseOptions,
  DeadLetter,
  DeadLetterOptions,
  EnqueueOptions,
  EnqueueResult,
  QueueOptions,
  TaskContext,
  TaskCounts,
  TaskHandler,
  TaskQueue,
  Worker,
  WorkerOptions,
} from './task-queue.ts'
