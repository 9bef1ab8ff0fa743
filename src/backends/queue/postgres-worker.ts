import { clock, type TimerHandle } from '../../core/clock.ts'
import { detached } from '../../core/detached.ts'
import { retryDelay } from './backoff.ts'
import { graceOf, type QueueSettings, type WorkerSettings } from './checks.ts'
import { deliver, describeFailure, type Outcome } from './delivery.ts'
import type { GroupCommit } from './group-commit.ts'
import { InFlight } from './in-flight.ts'
import type { Claimed, Lease, Settlement, TaskStore } from './postgres-store.ts'
import type { CloseOptions, Worker } from './task-queue.ts'

/** Most tasks claimed by one statement. */
const MAX_CLAIM = 100

/** What a {@link PostgresWorker} runs on and how. */
export interface PostgresWorkerSettings extends WorkerSettings {
  readonly queue: QueueSettings
  /** How often an idle worker looks for due tasks, in ms. */
  readonly pollInterval: number
}

/**
 * A worker of the PostgreSQL queue: claims due tasks with `FOR UPDATE SKIP LOCKED` (as many as it has
 * free slots), runs them, renews their leases while they run, records their outcomes in batches,
 * and sweeps the leases of crashed workers. It polls while idle, and is woken at once by enqueues
 * made through the same queue object.
 */
export class PostgresWorker implements Worker {
  readonly name: string
  readonly #store: TaskStore
  readonly #settles: GroupCommit<Settlement, boolean>
  readonly #settings: PostgresWorkerSettings
  readonly #inFlight = new InFlight<Lease>()
  readonly #onClosed: () => void
  #polling: Promise<void> | undefined
  #pollAgain = false
  #idleTimer: TimerHandle | undefined
  #renewTimer: TimerHandle | undefined
  #sweepTimer: TimerHandle | undefined
  #closing: Promise<void> | undefined
  /** Set once the deliveries have drained: leases are no longer renewed. */
  #stopped = false
  /** Background statements under way (a sweep, a renewal): `close` waits for them. */
  readonly #background = new Set<Promise<void>>()

  constructor(
    store: TaskStore,
    settles: GroupCommit<Settlement, boolean>,
    settings: PostgresWorkerSettings,
    onClosed: () => void,
  ) {
    this.name = settings.name
    this.#store = store
    this.#settles = settles
    this.#settings = settings
    this.#onClosed = onClosed
    detached(() => {
      this.#sweep()
      this.#poll()
      this.#scheduleRenewal()
    })
  }

  get active(): number {
    return this.#inFlight.size
  }

  /** Looks for tasks now (a task of this name was just enqueued through the same queue). */
  wake(): void {
    detached(() => this.#poll())
  }

  close(options?: CloseOptions): Promise<void> {
    const graceMs = graceOf('worker.close()', options)
    this.#closing ??= this.#close(graceMs)
    return this.#closing
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  async #close(graceMs: number): Promise<void> {
    this.#clear(this.#idleTimer)
    this.#clear(this.#sweepTimer)
    await this.#polling // tasks it claims now are handed back at once
    await this.#inFlight.drain(graceMs)
    this.#stopped = true
    this.#clear(this.#renewTimer)
    await Promise.all(this.#background)
    this.#onClosed()
  }

  #poll(): void {
    if (this.#closing !== undefined) return
    if (this.#polling !== undefined) {
      this.#pollAgain = true
      return
    }
    const free = this.#settings.concurrency - this.#inFlight.size
    if (free <= 0) return // a delivery that ends polls again
    this.#clear(this.#idleTimer)
    this.#idleTimer = undefined
    const limit = Math.min(free, MAX_CLAIM)
    this.#polling = this.#claim(limit).then(
      (claimed) => {
        this.#polling = undefined
        const again = this.#pollAgain || claimed === limit
        this.#pollAgain = false
        if (again) this.#poll()
        else this.#idle(this.#settings.pollInterval)
      },
      (error: unknown) => {
        this.#polling = undefined
        this.#settings.onError(error)
        this.#idle(this.#settings.pollInterval)
      },
    )
  }

  async #claim(limit: number): Promise<number> {
    await this.#store.ready()
    const now = clock().now()
    const tasks = await this.#store.claim(this.name, limit, now, now + this.#settings.queue.lease)
    if (this.#closing !== undefined) {
      // Closed while claiming: these never start, and go back with their attempt refunded.
      await Promise.all(tasks.map((task) => this.#record(task, { status: 'returned' })))
      return tasks.length
    }
    for (const task of tasks) this.#start(task)
    return tasks.length
  }

  #idle(ms: number): void {
    if (this.#closing !== undefined || this.#idleTimer !== undefined) return
    this.#idleTimer = this.#after(ms, () => {
      this.#idleTimer = undefined
      this.#poll()
    })
  }

  #start(task: Claimed): void {
    const { handler, delivery } = this.#settings
    this.#inFlight
      .run(`${task.id}/${task.token}`, task, async (stop) => {
        // The lease stays renewed until the outcome is written, so a slow write never redelivers it.
        await this.#record(task, await deliver({ ...task, name: this.name }, handler, delivery, stop))
      })
      .then(() => {
        if (this.#idleTimer === undefined) this.#poll()
      })
  }

  /** Writes a delivery's outcome; a failed write is reported, and the lease's expiry redelivers the task. */
  async #record(task: Claimed, outcome: Outcome): Promise<void> {
    try {
      await this.#settles.submit(settlementOf(task, outcome, this.#settings.queue))
    } catch (error) {
      this.#settings.onError(error)
    }
  }

  /** Renews the leases every third of a lease, until the deliveries have drained. */
  #scheduleRenewal(): void {
    this.#renewTimer = this.#after(this.#settings.queue.lease / 3, () =>
      this.#inBackground(this.#renew(), () => {
        if (!this.#stopped) this.#scheduleRenewal()
      }),
    )
  }

  async #renew(): Promise<void> {
    if (this.#inFlight.size === 0) return
    const leases = [...this.#inFlight.entries()]
    const held = await this.#store.renew(
      leases.map(([, lease]) => lease),
      clock().now() + this.#settings.queue.lease,
    )
    for (const [key, lease] of leases) {
      if (!held.has(lease.id)) {
        this.#inFlight.stop(
          key,
          new DOMException('the task lease was lost: it is being delivered again', 'AbortError'),
        )
      }
    }
  }

  /** Requeues the tasks of crashed workers and purges old finished tasks, every half lease while taking tasks. */
  #sweep(): void {
    const now = clock().now()
    const sweeping = this.#store
      .ready()
      .then(() => this.#store.sweep(now, now - this.#settings.queue.keepDone))
    this.#inBackground(sweeping, () => {
      if (this.#closing === undefined)
        this.#sweepTimer = this.#after(this.#settings.queue.lease / 2, () => this.#sweep())
    })
  }

  /** Tracks `work` until it settles (reporting its failure; `close` waits for it), then calls `next`. */
  #inBackground(work: Promise<unknown>, next: () => void): void {
    const tracked: Promise<void> = work.then(
      () => {},
      (error: unknown) => this.#settings.onError(error),
    )
    this.#background.add(tracked)
    tracked.finally(() => {
      this.#background.delete(tracked)
      next()
    })
  }

  #after(ms: number, fn: () => void): TimerHandle {
    return clock().setTimeout(() => detached(fn), ms)
  }

  #clear(timer: TimerHandle | undefined): void {
    if (timer !== undefined) clock().clearTimeout(timer)
  }
}

/** How a delivery's outcome is recorded. */
export function settlementOf(task: Claimed, outcome: Outcome, queue: QueueSettings): Settlement {
  const lease = { id: task.id, token: task.token }
  switch (outcome.status) {
    case 'done':
      return { ...lease, state: 'done' }
    case 'returned':
      return { ...lease, state: 'queued', runAt: clock().now(), refund: true }
    case 'failed': {
      const error = describeFailure(outcome.error)
      if (task.attempt >= task.maxAttempts) return { ...lease, state: 'dead', error }
      return {
        ...lease,
        state: 'queued',
        runAt: clock().now() + retryDelay(task.attempt, queue.backoff),
        error,
      }
    }
  }
}
