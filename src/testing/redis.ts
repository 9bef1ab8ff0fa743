import { type ChildProcess, spawn } from 'node:child_process'
import { tmpdir } from 'node:os'
import { checkOptions, checkString } from '../core/validate.ts'
import { freePort } from './free-port.ts'

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /** The port to listen on (127.0.0.1). Default: a free one. Give it to restart a server where it was. */
  port?: number
  /** The `redis-server` binary. Default `/usr/bin/redis-server`. */
  binary?: string
  /**
   * More settings, as `redis-server` arguments after the defaults (a later setting wins): say
   * `['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir]` for a server whose data survives
   * a kill and a restart on the same port and folder.
   */
  args?: readonly string[]
}

/** A throwaway `redis-server` started by {@link startRedisServer}. */
export interface RedisServer {
  readonly port: number
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string
  /** Stops the server (SIGTERM) and resolves once it exited. Harmless once it has. */
  stop(): Promise<void>
  /** Kills the server at once (SIGKILL), as a crash would, and resolves once it exited. */
  kill(): Promise<void>
}

const READY = 'Ready to accept connections'
/** How many free ports to try when another process takes the one found free before the server binds it. */
const PORT_ATTEMPTS = 5

/**
 * Starts a `redis-server` of its own for a test: loopback only, nothing persisted, on a free port.
 * Tests that pause, slow down or kill a server use one of these, never a shared server. Stop it when
 * done; a server left running is killed when the process exits.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { redisClient } from 'weft/redis'
 * import { startRedisServer } from 'weft/testing'
 * const server = await startRedisServer()
 * const redis = redisClient({ url: server.url })
 * await redis.set('key', 'value')
 * assert.equal(await redis.get('key'), 'value')
 * await redis.close()
 * await server.stop()
 * ```
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  checkOptions('startRedisServer()', options)
  const { port, binary = '/usr/bin/redis-server', args = [] } = options
  checkString('startRedisServer()', 'options.binary', binary)
  if (!Array.isArray(args) || !args.every((arg) => typeof arg === 'string')) {
    throw new TypeError('startRedisServer(): options.args must be an array of strings')
  }
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    throw new TypeError(`startRedisServer(): options.port must be a port number, got ${String(port)}`)
  }
  for (let attempt = 1; ; attempt++) {
    const chosen = port ?? (await freePort())
    try {
      return await launch(binary, chosen, args)
    } catch (error) {
      const taken = error instanceof Error && /in use/i.test(error.message)
      if (port !== undefined || !taken || attempt === PORT_ATTEMPTS) throw error
    }
  }
}

async function launch(binary: string, port: number, extra: readonly string[]): Promise<RedisServer> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extra]
  const child = spawn(binary, args, { cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] })
  const killOnExit = (): void => {
    child.kill('SIGKILL')
  }
  process.on('exit', killOnExit)
  // 'error' stands for 'exit' when the binary could not be started at all.
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.once('error', () => resolve())
  }).then(() => {
    process.off('exit', killOnExit)
  })
  await ready(child)
  // Keep draining the output so that a chatty server never blocks on a full pipe.
  child.stdout?.resume()
  child.stderr?.resume()
  const end = (signal: NodeJS.Signals) => async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    await exited
  }
  return { port, url: `redis://127.0.0.1:${port}`, stop: end('SIGTERM'), kill: end('SIGKILL') }
}

/** Resolves once the server says it accepts connections; rejects with its output if it exits first. */
function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = ''
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      if (output.includes(READY)) {
        cleanup()
        resolve()
      }
    }
    const onExit = (code: number | null): void => {
      cleanup()
      reject(new Error(`redis-server exited (${code}) before accepting connections:\n${output.trim()}`))
    }
    const onError = (error: Error): void => {
      cleanup()
      reject(error)
    }
    const cleanup = (): void => {
      child.stdout?.off('data', onData)
      child.stderr?.off('data', onData)
      child.off('exit', onExit)
      child.off('error', onError)
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', onExit)
    child.once('error', onError)
  })
}
