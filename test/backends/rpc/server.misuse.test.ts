import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import Fastify from 'fastify'
import { type WeftFastifyOptions, weftFastify } from 'weft/rpc'

async function register(options: unknown): Promise<unknown> {
  const app = Fastify()
  try {
    await app.register(weftFastify, options as WeftFastifyOptions)
    return undefined
  } catch (error) {
    return error
  } finally {
    await app.close().catch(() => {})
  }
}

describe('weftFastify misuse', () => {
  test('options are checked when the plugin is registered', async () => {
    const cases: [unknown, RegExp][] = [
      [
        { maxDeadline: -1 },
        /weftFastify\(\): options.maxDeadline must be a finite number of milliseconds, 0 or more, got -1/,
      ],
      [{ maxDeadline: Infinity }, /options.maxDeadline must be a finite number/],
      [
        { defaultDeadline: '5s' },
        /options.defaultDeadline must be a finite number of milliseconds, 0 or more, got "5s"/,
      ],
    ]
    for (const [options, message] of cases) {
      const error = await register(options)
      assert.ok(error instanceof TypeError, `${JSON.stringify(options)}: ${String(error)}`)
      assert.match(error.message, message)
    }
  })
})
