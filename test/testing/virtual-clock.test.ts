import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { clock, currentScope, scope, sleep, systemClock } from 'weft'
import { VirtualClock, withVirtualClock } from 'weft/testing'
import { rejection } from '../core/support.ts'

describe('VirtualClock', () => {
  test('starts at the epoch ms it is given (2026-01-01 by default) and moves only when told', async () => {
    assert.equal(new VirtualClock().now(), Date.UTC(2026, 0, 1))
    const virtual = new VirtualClock(1_000)
    virtual.setTimeout(() => {}, 5)
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(virtual.now(), 1_000)
    assert.equal(virtual.pendingTimers, 1)
  })

  test('advance() fires due timers in order of due time, then of creation, each at its own time', async () => {
    const virtual = new VirtualClock(0)
    const fired: [string, number][] = []
    const at = (label: string) => () => fired.push([label, virtual.now()])
    virtual.setTimeout(at('30'), 30)
    virtual.setTimeout(at('10 first'), 10)
    virtual.setTimeout(at('20'), 20)
    virtual.setTimeout(at('10 second'), 10)
    await virtual.advance(30)
    assert.deepEqual(fired, [
      ['10 first', 10],
      ['10 second', 10],
      ['20', 20],
      ['30', 30],
    ])
  })

  test('advance() ends at exactly now + ms and leaves the timers due later pending', async () => {
    const virtual = new VirtualClock(0)
    let fired = false
    virtual.setTimeout(() => {
      fired = true
    }, 11)
    await virtual.advance(10)
    assert.equal(virtual.now(), 10)
    assert.equal(fired, false)
    assert.equal(virtual.pendingTimers, 1)
    await virtual.advance(1)
    assert.equal(fired, true)
    assert.equal(virtual.pendingTimers, 0)
  })

  test('a timer set by a timer fires in the same advance() when it falls due within it', async () => {
    const virtual = new VirtualClock(0)
    const fired: number[] = []
    virtual.setTimeout(() => {
      fired.push(virtual.now())
      virtual.setTimeout(() => fired.push(virtual.now()), 5)
      virtual.setTimeout(() => fired.push(virtual.now()), 50)
    }, 10)
    await virtual.advance(20)
    assert.deepEqual(fired, [10, 15])
    assert.equal(virtual.pendingTimers, 1)
  })

  test('the promise reactions a timer triggers run before the next timer fires', async () => {
    const virtual = new VirtualClock(0)
    const order: string[] = []
    virtual.setTimeout(() => {
      Promise.resolve()
        .then(() => order.push('reaction of first'))
        .then(() => order.push('second reaction of first'))
    }, 10)
    virtual.setTimeout(() => order.push('second timer'), 10)
    await virtual.advance(10)
    assert.deepEqual(order, ['reaction of first', 'second reaction of first', 'second timer'])
  })

  test('clearTimeout() cancels a timer, also from inside another timer, and ignores spent handles', async () => {
    const virtual = new VirtualClock(0)
    const fired: string[] = []
    const cleared = virtual.setTimeout(() => fired.push('cleared'), 5)
    const clearedByTimer = virtual.setTimeout(() => fired.push('cleared by a timer'), 20)
    const spent = virtual.setTimeout(() => {
      fired.push('clears another')
      virtual.clearTimeout(clearedByTimer)
    }, 10)
    virtual.clearTimeout(cleared)
    await virtual.advance(30)
    virtual.clearTimeout(spent)
    virtual.clearTimeout(cleared)
    assert.deepEqual(fired, ['clears another'])
    assert.equal(virtual.pendingTimers, 0)
  })

  test('pendingTimers counts the timers neither fired nor cleared', async () => {
    const virtual = new VirtualClock(0)
    assert.equal(virtual.pendingTimers, 0)
    const a = virtual.setTimeout(() => {}, 10)
    virtual.setTimeout(() => {}, 20)
    virtual.setTimeout(() => {}, 30)
    assert.equal(virtual.pendingTimers, 3)
    virtual.clearTimeout(a)
    assert.equal(virtual.pendingTimers, 2)
    await virtual.advance(20)
    assert.equal(virtual.pendingTimers, 1)
  })

  test('a timer given a negative delay fires at the current time', async () => {
    const virtual = new VirtualClock(100)
    let firedAt: number | undefined
    virtual.setTimeout(() => {
      firedAt = virtual.now()
    }, -5)
    await virtual.advance(0)
    assert.equal(firedAt, 100)
  })

  test('runAll() fires every timer, including the ones fired timers set', async () => {
    const virtual = new VirtualClock(0)
    const fired: number[] = []
    virtual.setTimeout(() => {
      fired.push(virtual.now())
      virtual.setTimeout(() => fired.push(virtual.now()), 1_000)
    }, 10)
    await virtual.runAll()
    assert.deepEqual(fired, [10, 1_010])
    assert.equal(virtual.pendingTimers, 0)
  })
})

describe('VirtualClock.run()', () => {
  test('jumps from timer to timer until the work settles, and returns its value', async () => {
    await withVirtualClock(async (virtual) => {
      const start = virtual.now()
      const value = await virtual.run(
        (async () => {
          await sleep(30_000)
          await sleep(5)
          return 'woke up'
        })(),
      )
      assert.equal(value, 'woke up')
      assert.equal(virtual.now() - start, 30_005)
    })
  })

  test('rejects with the error the work rejects with', async () => {
    await withVirtualClock(async (virtual) => {
      const failure = new Error('work failed')
      const error = await rejection(
        virtual.run(
          (async () => {
            await sleep(10)
            throw failure
          })(),
        ),
      )
      assert.equal(error, failure)
    })
  })

  test('stops once the work has settled: timers due later stay pending', async () => {
    await withVirtualClock(async (virtual) => {
      const start = virtual.now()
      const later = virtual.setTimeout(() => {}, 1_000)
      await virtual.run(sleep(10))
      assert.equal(virtual.now() - start, 10)
      assert.equal(virtual.pendingTimers, 1)
      virtual.clearTimeout(later)
    })
  })

  test('rejects with a deadlock error when the work waits on something no timer will bring', async () => {
    await withVirtualClock(async (virtual) => {
      const never = new Promise<void>(() => {})
      await assert.rejects(virtual.run(never), /no timer is left to fire \(deadlock\)/)
    })
  })
})

describe('withVirtualClock()', () => {
  test("installs a fresh virtual clock for weft's timers and puts the previous clock back", async () => {
    const before = clock()
    await withVirtualClock(async (virtual) => {
      assert.equal(clock(), virtual)
      const start = virtual.now()
      await virtual.run(sleep(60_000))
      assert.equal(virtual.now() - start, 60_000)
    })
    assert.equal(clock(), before)
  })

  test('puts the previous clock back when its function throws', async () => {
    const before = clock()
    await assert.rejects(
      withVirtualClock(() => {
        throw new Error('test body failed')
      }),
      /test body failed/,
    )
    assert.equal(clock(), before)
  })

  test('starts the clock at the epoch ms it is given', async () => {
    await withVirtualClock((virtual) => assert.equal(virtual.now(), 42), 42)
  })
})

describe('VirtualClock', () => {
  test('a timer callback runs in the async context it was set in, as with the system clock', async () => {
    // Code that reads the ambient scope in a timer callback must see under test what it sees in production.
    const seenBySystemClock = await scope(
      (s) => new Promise((resolve) => systemClock.setTimeout(() => resolve(currentScope() === s), 1)),
    )
    assert.equal(seenBySystemClock, true)
    await withVirtualClock(async (virtual) => {
      let seen: boolean | undefined
      const work = scope(async (s) => {
        await new Promise<void>((resolve) =>
          clock().setTimeout(() => {
            seen = currentScope() === s
            resolve()
          }, 1),
        )
      })
      await virtual.run(work)
      assert.equal(seen, true)
    })
  })

  test('a timer given a NaN delay does not stop the other timers from firing', async () => {
    // Node fires a NaN-delay timer after 1 ms; here it must at least not block the timers due after it.
    const virtual = new VirtualClock(0)
    const fired: string[] = []
    virtual.setTimeout(() => fired.push('NaN delay'), Number.NaN)
    virtual.setTimeout(() => fired.push('10 ms'), 10)
    await virtual.advance(100)
    assert.deepEqual(fired, ['NaN delay', '10 ms'])
  })
})

describe('VirtualClock.run with work that hops through setImmediate', () => {
  test('lets chains of calls flushed at setImmediate finish before firing the next timer', async () => {
    await withVirtualClock(async (virtual) => {
      const hop = () => new Promise<void>((resolve) => setImmediate(resolve))
      let hops = 0
      const chain = async () => {
        for (let i = 0; i < 50; i++) {
          await hop()
          hops += 1
        }
      }
      const timedOut = new Promise<string>((resolve) => clock().setTimeout(() => resolve('timed out'), 1000))
      const winner = await virtual.run(Promise.race([chain().then(() => 'chain'), timedOut]))
      assert.equal(winner, 'chain')
      assert.equal(hops, 50)
      assert.equal(virtual.now() - Date.UTC(2026, 0, 1), 0, 'no virtual time had to pass')
    })
  })
})
