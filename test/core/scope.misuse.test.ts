// Bad input is refused at the call, synchronously, with a TypeError naming the function, the argument,
// what was expected and what was received; nothing is started.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type Scope, type ScopeOptions, scope, sleep } from 'weft'
import { VirtualClock } from 'weft/testing'

/** Calls `scope` with arguments its types forbid, as untyped JavaScript callers can. */
const untypedScope = scope as (...args: unknown[]) => Promise<unknown>

/** Asserts that `call` throws, synchronously, a TypeError whose message matches `message`. */
function refuses(call: () => unknown, message: RegExp): void {
  assert.throws(call, (error: unknown) => {
    assert.ok(error instanceof TypeError, `expected a TypeError, got ${String(error)}`)
    assert.match(error.message, message)
    return true
  })
}

describe('scope() refuses bad input with a TypeError naming the argument', () => {
  let called = false
  const callback = (): void => {
    called = true
  }
  /** A scope call with these options: refused before the callback could run. */
  const withOptions = (options: unknown) => () => untypedScope(options, callback)

  test('a callback that is not a function', () => {
    refuses(() => untypedScope(), /^scope\(\): fn must be a function, got undefined$/)
    refuses(() => untypedScope({}), /^scope\(\): fn must be a function, got undefined$/)
    refuses(
      () => untypedScope({ name: 'x' }, 'not a function'),
      /^scope\(\): fn must be a function, got "not a function"$/,
    )
  })

  test('options that are not an object', () => {
    refuses(() => untypedScope(null, callback), /^scope\(\): options must be an object, got null$/)
    refuses(() => untypedScope('request', callback), /^scope\(\): options must be an object, got "request"$/)
  })

  test('a negative, non-finite or non-number deadline', () => {
    for (const [deadline, shown] of [
      [-1, '-1'],
      [Number.NaN, 'NaN'],
      [Infinity, 'Infinity'],
      ['100', '"100"'],
    ]) {
      refuses(
        withOptions({ deadline }),
        new RegExp(
          `^scope\\(\\): options.deadline must be a finite number of milliseconds, 0 or more, got ${shown}$`,
        ),
      )
    }
  })

  test('a deadlineAt that is not a number of epoch milliseconds', () => {
    refuses(withOptions({ deadlineAt: '2026-01-01' }), /^scope\(\): options.deadlineAt must be a number/)
    refuses(
      withOptions({ deadlineAt: Number.NaN }),
      /^scope\(\): options.deadlineAt must be a number.*got NaN$/,
    )
  })

  test('both deadline and deadlineAt', () => {
    refuses(withOptions({ deadline: 10, deadlineAt: 10 }), /options.deadline or options.deadlineAt, not both/)
  })

  test('a signal that is not an AbortSignal, such as the AbortController itself', () => {
    refuses(
      withOptions({ signal: new AbortController() }),
      /^scope\(\): options.signal must be an AbortSignal, got an object$/,
    )
    refuses(
      withOptions({ signal: 'abort' }),
      /^scope\(\): options.signal must be an AbortSignal, got "abort"$/,
    )
  })

  test('a name that is not a string', () => {
    refuses(withOptions({ name: 42 }), /^scope\(\): options.name must be a string, got 42$/)
    refuses(withOptions({ name: null }), /^scope\(\): options.name must be a string, got null$/)
  })

  test('never calls the callback of a refused scope', () => {
    const refused: ScopeOptions[] = [{ deadline: -1 }, { name: 7 as unknown as string }]
    for (const options of refused) assert.throws(() => scope(options, callback), TypeError)
    assert.equal(called, false)
  })
})

describe('spawn() refuses bad input with a TypeError naming the argument', () => {
  /** Calls `spawn` with arguments its types forbid. */
  const untypedSpawn = (s: Scope, ...args: unknown[]): unknown =>
    (s.spawn as (...args: unknown[]) => unknown).apply(s, args)

  test('a task function that is not a function', async () => {
    await scope((s) => {
      refuses(
        () => untypedSpawn(s, 'named but no function'),
        /^spawn\(\): fn must be a function, got undefined$/,
      )
      refuses(() => untypedSpawn(s, 42), /^spawn\(\): fn must be a function, got 42$/)
      refuses(
        () => untypedSpawn(s, 'name', 'not a function'),
        /^spawn\(\): fn must be a function, got "not a function"$/,
      )
    })
  })

  test('a refused spawn leaves the scope free to settle', async () => {
    const value = await scope((s) => {
      assert.throws(() => untypedSpawn(s, 'no function'), TypeError)
      return 'settled'
    })
    assert.equal(value, 'settled')
  })
})

describe('sleep() refuses bad input with a TypeError naming the argument', () => {
  test('a negative, non-finite or non-number duration', () => {
    const untypedSleep = sleep as (...args: unknown[]) => Promise<void>
    refuses(
      () => untypedSleep(-5),
      /^sleep\(\): ms must be a finite number of milliseconds, 0 or more, got -5$/,
    )
    refuses(() => untypedSleep(Infinity), /^sleep\(\): ms must be .*got Infinity$/)
    refuses(() => untypedSleep('10'), /^sleep\(\): ms must be .*got "10"$/)
    refuses(() => untypedSleep(), /^sleep\(\): ms must be .*got undefined$/)
  })

  test('options that are not an object, or a signal that is not an AbortSignal', () => {
    const untypedSleep = sleep as (...args: unknown[]) => Promise<void>
    refuses(() => untypedSleep(10, 'fast'), /^sleep\(\): options must be an object, got "fast"$/)
    refuses(
      () => untypedSleep(10, { signal: new AbortController() }),
      /^sleep\(\): options.signal must be an AbortSignal, got an object$/,
    )
  })
})

describe('VirtualClock.advance() refuses bad input with a TypeError naming the argument', () => {
  test('a negative or non-finite duration', async () => {
    const virtual = new VirtualClock(0)
    await assert.rejects(virtual.advance(-1), /^TypeError: VirtualClock.advance\(\): ms must be .*got -1$/)
    await assert.rejects(virtual.advance(Number.NaN), TypeError)
    assert.equal(virtual.now(), 0)
  })
})

describe('spawn() and scope() refuse a bad name or trace option', () => {
  test('spawn() refuses a name that is not a string', async () => {
    const untypedSpawn = (s: Scope, ...args: unknown[]): unknown =>
      (s.spawn as (...args: unknown[]) => unknown).apply(s, args)
    await scope((s) => {
      refuses(() => untypedSpawn(s, 42, () => {}), /^spawn\(\): name must be a string, got 42$/)
      refuses(() => untypedSpawn(s, null, () => {}), /^spawn\(\): name must be a string, got null$/)
    })
  })

  test('scope() refuses a trace option that is neither a boolean nor a function', () => {
    refuses(() => untypedScope({ trace: 'yes' }, () => {}), /^scope\(\): options.trace must be/)
  })

  test('scope() refuses a span option that is not a boolean', () => {
    refuses(() => untypedScope({ span: 0 }, () => {}), /^scope\(\): options.span must be a boolean, got 0$/)
  })
})
