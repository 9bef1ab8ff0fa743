// Random trees of scopes and tasks, with random virtual delays, failures, explicit cancellations, parent
// aborts and deadlines, run under the virtual clock. Every unit of work logs what it sees (start, abort,
// exit) with a sequence number and the virtual time; the guarantees are then checked on the log.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { AbortError, DeadlineExceeded, type Scope, ScopeClosedError, scope, sleep, type Task } from 'weft'
import type { VirtualClock } from 'weft/testing'
import { ignoring, inVirtualTime } from './support.ts'

// ---- the random trees ------------------------------------------------------------------------------

interface ScopeSpec {
  /** Own budget in ms; x.5 so that it never ties with the whole-ms delays of the work. */
  deadline: number | undefined
  steps: Step[]
  ends: 'returns' | 'throws'
}

/** One step of a scope's callback: wait (heeding cancellation or not), then act. */
interface Step {
  wait: number
  ignoresCancellation: boolean
  action: { spawn: TaskSpec } | { cancel: number }
}

interface TaskSpec {
  delay: number
  ignoresCancellation: boolean
  outcome: 'returns' | 'throws' | { nested: ScopeSpec }
}

interface RequestSpec {
  root: ScopeSpec
  /** When the request's parent signal aborts (x.25: never a tie), if it does. */
  parentAbortAt: number | undefined
}

const mostlyNot = fc.oneof(
  { weight: 3, arbitrary: fc.constant(false) },
  { weight: 1, arbitrary: fc.constant(true) },
)

/** How often things go wrong: a calm request lets deep trees run to the end, a stormy one rarely does. */
interface Weather {
  /** One unit of work in `throwsOneIn` throws. */
  throwsOneIn: number
  /** One scope in `deadlineOneIn` has a deadline of its own. */
  deadlineOneIn: number
}

/** `value` one time in `oneIn`, else undefined. */
function sometimes<T>(value: fc.Arbitrary<T>, oneIn: number): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: value })
}

function ends({ throwsOneIn }: Weather): fc.Arbitrary<'returns' | 'throws'> {
  return fc.oneof(
    { weight: throwsOneIn - 1, arbitrary: fc.constant<'returns'>('returns') },
    { weight: 1, arbitrary: fc.constant<'throws'>('throws') },
  )
}

function taskSpec(depth: number, weather: Weather): fc.Arbitrary<TaskSpec> {
  return fc.record({
    delay: fc.integer({ min: 0, max: 20 }),
    ignoresCancellation: mostlyNot,
    outcome:
      depth === 0
        ? ends(weather)
        : fc.oneof(
            ends(weather),
            scopeSpec(depth - 1, weather).map((nested) => ({ nested })),
          ),
  })
}

function scopeSpec(depth: number, weather: Weather): fc.Arbitrary<ScopeSpec> {
  const step: fc.Arbitrary<Step> = fc.record({
    wait: fc.integer({ min: 0, max: 10 }),
    ignoresCancellation: mostlyNot,
    action: fc.oneof(
      { weight: 3, arbitrary: taskSpec(depth, weather).map((spawn) => ({ spawn })) },
      { weight: 1, arbitrary: fc.nat(9).map((cancel) => ({ cancel })) },
    ),
  })
  return fc.record({
    deadline: sometimes(
      fc.integer({ min: 0, max: 100 }).map((ms) => ms + 0.5),
      weather.deadlineOneIn,
    ),
    steps: fc.array(step, { minLength: 1, maxLength: 6, size: 'max' }),
    ends: ends(weather),
  })
}

function requestSpec(weather: Weather): fc.Arbitrary<RequestSpec> {
  return fc.record({
    root: scopeSpec(3, weather),
    parentAbortAt: sometimes(
      fc.integer({ min: 0, max: 150 }).map((ms) => ms + 0.25),
      weather.deadlineOneIn,
    ),
  })
}

const requests = fc.oneof(
  requestSpec({ throwsOneIn: 4, deadlineOneIn: 2 }),
  requestSpec({ throwsOneIn: 40, deadlineOneIn: 8 }),
)

// ---- running a tree and logging what happens ------------------------------------------------------

/** A failure thrown on purpose by a unit of work. */
class Failure extends Error {}

/** Something that happened: its place in the log and the virtual time. */
interface Entry {
  seq: number
  time: number
  reason?: unknown
  value?: unknown
  error?: unknown
  failed?: boolean
}

interface ScopeRecord {
  id: number
  spec: ScopeSpec
  /** The scope whose task opened this one; undefined for the request's scope. */
  enclosing: ScopeRecord | undefined
  /** The abort that cancels it from outside: its task's, or the request's parent signal's. */
  parentAbort: () => Entry | undefined
  /** The deadline it inherits (epoch ms), if any. */
  inherited: number | undefined
  opened: Entry
  /** Its own deadline (epoch ms), when it is earlier than the inherited one: then it has a timer. */
  ownTimer: number | undefined
  called: boolean
  handle?: Scope
  abort?: Entry
  bodyExit?: Entry
  tasks: TaskRecord[]
  settled?: Entry
}

interface TaskRecord {
  id: number
  scope: ScopeRecord
  task: Task<unknown>
  spawnedWhileAborted: boolean
  called: boolean
  cancel?: Entry
  abort?: Entry
  exit?: Entry
}

class Run {
  readonly scopes: ScopeRecord[] = []
  #seq = 0
  #ids = 0
  readonly clock: VirtualClock

  constructor(clock: VirtualClock) {
    this.clock = clock
  }

  entry(fields: Omit<Entry, 'seq' | 'time'> = {}): Entry {
    this.#seq += 1
    return { seq: this.#seq, time: this.clock.now(), ...fields }
  }

  /** Opens a scope running `spec`, nested in whatever is ambient. */
  open(
    spec: ScopeSpec,
    enclosing: ScopeRecord | undefined,
    parentAbort: () => Entry | undefined,
    inherited: number | undefined,
    signal?: AbortSignal,
  ): Promise<unknown> {
    const id = ++this.#ids
    const opened = this.entry()
    const own = spec.deadline === undefined ? undefined : opened.time + spec.deadline
    const record: ScopeRecord = {
      id,
      spec,
      enclosing,
      parentAbort,
      inherited,
      opened,
      ownTimer: own !== undefined && (inherited === undefined || own < inherited) ? own : undefined,
      called: false,
      tasks: [],
    }
    this.scopes.push(record)
    const options = {
      name: `scope ${id}`,
      ...(spec.deadline === undefined ? {} : { deadline: spec.deadline }),
      ...(signal === undefined ? {} : { signal }),
    }
    const settled = scope(options, (s) => this.#body(record, s))
    settled.then(
      (value) => {
        record.settled = this.entry({ value })
      },
      (error: unknown) => {
        record.settled = this.entry({ error, failed: true })
      },
    )
    return settled
  }

  async #body(record: ScopeRecord, s: Scope): Promise<unknown> {
    record.called = true
    record.handle = s
    s.signal.addEventListener('abort', () => {
      record.abort ??= this.entry({ reason: s.signal.reason })
    })
    try {
      for (const step of record.spec.steps) {
        await sleep(step.wait, step.ignoresCancellation ? { signal: ignoring() } : undefined)
        if ('spawn' in step.action) this.#spawn(record, s, step.action.spawn)
        else this.#cancel(record, step.action.cancel)
      }
      if (record.spec.ends === 'throws') throw new Failure(`callback of scope ${record.id}`)
      const value = { scope: record.id }
      record.bodyExit = this.entry({ value })
      return value
    } catch (error) {
      record.bodyExit = this.entry({ error, failed: true })
      throw error
    }
  }

  #spawn(owner: ScopeRecord, s: Scope, spec: TaskSpec): void {
    const id = ++this.#ids
    const spawnedWhileAborted = s.signal.aborted
    const record = { id, scope: owner, spawnedWhileAborted, called: false } as TaskRecord
    owner.tasks.push(record)
    record.task = s.spawn(`task ${id}`, async ({ signal }) => {
      record.called = true
      signal.addEventListener('abort', () => {
        record.abort ??= this.entry({ reason: signal.reason })
      })
      try {
        await sleep(spec.delay, spec.ignoresCancellation ? { signal: ignoring() } : undefined)
        let value: unknown = { task: id }
        if (spec.outcome === 'throws') throw new Failure(`task ${id}`)
        if (typeof spec.outcome === 'object') {
          const deadline = s.deadline
          value = await this.open(spec.outcome.nested, owner, () => record.abort, deadline)
        }
        record.exit = this.entry({ value })
        return value
      } catch (error) {
        record.exit = this.entry({ error, failed: true })
        throw error
      }
    })
  }

  #cancel(owner: ScopeRecord, which: number): void {
    const target = owner.tasks[which % Math.max(1, owner.tasks.length)]
    if (target === undefined) return
    const reason = { cancelled: target.id }
    if (target.task.state === 'running' && target.cancel === undefined) target.cancel = this.entry({ reason })
    target.task.cancel(reason)
  }
}

// ---- the guarantees, checked on the log -----------------------------------------------------------

const before = (a: Entry | undefined, b: Entry | undefined): boolean =>
  a !== undefined && (b === undefined || a.seq < b.seq)

/** The exits of a scope's callback and tasks that count as failures of the scope when they happen. */
function failures(record: ScopeRecord): Entry[] {
  const found: Entry[] = []
  if (record.bodyExit?.failed) found.push(record.bodyExit)
  for (const task of record.tasks) {
    const exit = task.exit
    if (!exit?.failed) continue
    // A task that was cancelled fails only with an error of its own, not with the cancellation.
    if (before(task.abort, exit) && !(exit.error instanceof Failure)) continue
    found.push(exit)
  }
  return found.sort((a, b) => a.seq - b.seq)
}

async function checkScope(record: ScopeRecord): Promise<void> {
  const where = `scope ${record.id}`
  const settled = record.settled
  assert.ok(settled, `${where} settled`)
  const parentAbort = record.parentAbort()

  // A scope opened under an aborted parent never calls its callback.
  if (before(parentAbort, record.opened)) {
    assert.equal(record.called, false, `${where}: callback of a scope opened under an aborted parent`)
    assert.ok(settled.error instanceof AbortError, `${where} rejects with an AbortError`)
    assert.equal(settled.error.reason, parentAbort?.reason, `${where}: reason of the parent`)
    return
  }
  assert.equal(record.called, true, `${where}: callback called`)

  // 1. It settles only after its callback and every task function it started have returned.
  for (const exit of [record.bodyExit, ...record.tasks.filter((t) => t.called).map((t) => t.exit)]) {
    assert.ok(exit, `${where}: every function it started returned`)
    assert.ok(exit.seq < settled.seq, `${where} settled before a function of its own returned`)
  }

  // 2. The first failure, its own deadline or its parent's abort, whichever came first, decides.
  const first = failures(record).filter((exit) => before(exit, record.abort))[0]
  const abort = record.abort
  if (abort === undefined) {
    assert.equal(first, undefined, `${where}: a failure did not abort the scope`)
    assert.ok(!before(parentAbort, settled), `${where}: the parent's abort did not reach it`)
    if (record.ownTimer !== undefined) assert.ok(settled.time < record.ownTimer, `${where}: deadline missed`)
    assert.equal(settled.failed, undefined, `${where} fulfils when nothing failed`)
    assert.equal(settled.value, record.bodyExit?.value, `${where} fulfils with its callback's value`)
  } else if (first !== undefined) {
    assert.equal(abort.reason, first.error, `${where}: aborted with the first failure`)
    assert.equal(abort.time, first.time, `${where}: aborted when it failed`)
    assert.equal(settled.error, first.error, `${where} rejects with the first failure`)
  } else if (abort.reason instanceof DeadlineExceeded && !before(parentAbort, abort)) {
    assert.equal(abort.time, record.ownTimer, `${where}: aborted at its own deadline`)
    assert.equal(settled.error, abort.reason, `${where} rejects with its DeadlineExceeded`)
  } else {
    assert.ok(before(parentAbort, abort), `${where}: aborted with no failure, deadline or parent abort`)
    assert.equal(abort.reason, parentAbort?.reason, `${where}: aborted with the parent's reason`)
    assert.ok(settled.error instanceof AbortError, `${where} rejects with an AbortError`)
    assert.equal(settled.error.reason, abort.reason, `${where}: the AbortError says why`)
  }
  if (abort !== undefined && record.ownTimer !== undefined) {
    assert.ok(abort.time <= record.ownTimer, `${where}: aborted no later than its own deadline`)
  }

  // Errors raised after the first failure are kept on `suppressed`, the cancellation itself is not.
  const later = failures(record).filter((exit) => before(abort, exit) && exit.error !== abort?.reason)
  const expected = later.map((exit) => exit.error).filter((error) => error instanceof Failure)
  const suppressed = record.handle?.suppressed ?? []
  for (const error of expected) assert.ok(suppressed.includes(error), `${where}: a later failure was lost`)
  for (const error of suppressed) {
    assert.ok(
      later.some((exit) => exit.error === error),
      `${where}: suppressed holds an error raised before the abort`,
    )
  }
  // The list is also on the error the scope rejects with, which keeps the later errors of every
  // scope it failed, inner ones included.
  if (suppressed.length > 0 && settled.error instanceof Error) {
    const onError = (settled.error as { suppressed?: unknown[] }).suppressed ?? []
    for (const error of suppressed) assert.ok(onError.includes(error), `${where}: error.suppressed lost one`)
  }

  // 3. Cancelled tasks reject with an AbortError that says why; 7. tasks spawned too late never run.
  for (const task of record.tasks) await checkTask(task)

  // 4. Once settled, the scope refuses new tasks.
  assert.throws(() => record.handle?.spawn(() => {}), ScopeClosedError)
}

async function checkTask(record: TaskRecord): Promise<void> {
  const where = `task ${record.id}`
  const outcome = await record.task.then(
    (value) => ({ value, error: undefined }),
    (error: unknown) => ({ value: undefined, error }),
  )
  if (record.spawnedWhileAborted) {
    assert.equal(record.called, false, `${where}: spawned into an aborted scope, yet called`)
    assert.equal(record.task.state, 'cancelled')
    assert.ok(outcome.error instanceof AbortError, `${where} rejects with an AbortError`)
    assert.equal(outcome.error.reason, record.scope.abort?.reason, `${where}: reason of its scope`)
    return
  }
  assert.equal(record.called, true, `${where}: spawned into a running scope, yet not called`)
  const { abort, exit } = record
  if (before(abort, exit)) {
    const why = before(record.scope.abort, abort) ? record.scope.abort?.reason : record.cancel?.reason
    assert.notEqual(why, undefined, `${where}: aborted with no cause`)
    assert.equal(abort?.reason, why, `${where}: its signal says why`)
    assert.equal(record.task.state, 'cancelled')
    assert.ok(outcome.error instanceof AbortError, `${where} rejects with an AbortError`)
    assert.equal(outcome.error.reason, why, `${where}: the AbortError says why`)
  } else if (exit?.failed) {
    assert.equal(record.task.state, 'rejected')
    assert.equal(outcome.error, exit.error)
  } else {
    assert.equal(record.task.state, 'fulfilled')
    assert.equal(outcome.value, exit?.value)
  }
}

// ---- the property ---------------------------------------------------------------------------------

test('random trees of scopes and tasks keep every guarantee of the core', async () => {
  await fc.assert(
    fc.asyncProperty(requests, (request) =>
      // inVirtualTime also proves that no timer is left pending and no rejection went unhandled.
      inVirtualTime(async (clock) => {
        const run = new Run(clock)
        const parent = new AbortController()
        let parentAbort: Entry | undefined
        parent.signal.addEventListener('abort', () => {
          parentAbort = run.entry({ reason: parent.signal.reason })
        })
        const timer =
          request.parentAbortAt === undefined
            ? undefined
            : clock.setTimeout(() => parent.abort({ parentAborted: true }), request.parentAbortAt)
        const root = run.open(request.root, undefined, () => parentAbort, undefined, parent.signal)
        await clock.run(root.catch(() => {}))
        if (timer !== undefined) clock.clearTimeout(timer)
        for (const record of run.scopes) await checkScope(record)
      })(),
    ),
    { numRuns: 400 },
  )
})
