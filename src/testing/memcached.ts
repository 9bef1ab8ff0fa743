import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { connect } from 'node:net'
import { systemClock } from '../core/clock.ts'
import { checkCount, checkOptions, checkString } from '../core/validate.ts'
import { freePort } from './free-port.ts'

/** Options of {@link startMemcached}. */
export interface StartMemcachedOptions {
  /** How many servers. Default 1. */
  servers?: number
  /** Memory of each server in MiB (`-m`). Default 16. */
  memory?: number
  /** The memcached binary. Default `memcached`, found on the PATH. */
  binary?: string
  /** More command-line arguments for every server. */
  args?: readonly string[]
  /** How long a server may take to accept connections, in ms (real time). Default 5000. */
  startTimeout?: number
}

/** Throwaway memcached servers on free ports of 127.0.0.1, started by {@link startMemcached}. */
export interface MemcachedServers {
  /** `127.0.0.1:<port>` of each server, in order. */
  readonly addresses: readonly string[]
  /** Kills server `index` with SIGKILL (no goodbye to its clients) and waits for it to exit. */
  kill(index: number): Promise<void>
  /** Starts server `index` again, on the same port, empty, and waits until it accepts connections. */
  restart(index: number): Promise<void>
  /** Stops every server and waits for them to exit. Idempotent. */
  stop(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

/**
 * Starts `servers` memcached processes, each on a free port of 127.0.0.1, and resolves once all
 * accept connections. For tests and benchmarks: stop them afterwards (`await using` does it). They
 * are also killed if the test process exits without stopping them.
 *
 * Everything here runs in real time, whatever clock is installed: these are real processes.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { memcacheClient } from 'weft/memcache'
 * import { startMemcached } from 'weft/testing'
 * await using memcached = await startMemcached({ servers: 3 })
 * const cache = memcacheClient({ servers: memcached.addresses })
 * await cache.set('greeting', 'hello')
 * assert.equal((await cache.get('greeting'))?.toString(), 'hello')
 * await cache.close()
 * ```
 */
export async function startMemcached(options: StartMemcachedOptions = {}): Promise<MemcachedServers> {
  const where = 'startMemcached()'
  checkOptions(where, options)
  const { servers = 1, memory = 16, binary = 'memcached', args = [], startTimeout = 5000 } = options
  checkCount(where, 'options.servers', servers, 1)
  checkCount(where, 'options.memory', memory, 1)
  checkString(where, 'options.binary', binary)
  checkCount(where, 'options.startTimeout', startTimeout, 1)
  const settings: Settings = { binary, memory, args: [...args], startTimeout }
  const started = await Promise.allSettled(Array.from({ length: servers }, () => startOnFreePort(settings)))
  const processes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []))
  const failed = started.find((result) => result.status === 'rejected')
  if (failed !== undefined) {
    await Promise.all(processes.map((server) => server.stop()))
    throw failed.reason
  }
  const killAll = (): void => {
    for (const server of processes) server.process.kill('SIGKILL')
  }
  process.once('exit', killAll)
  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= Promise.all(processes.map((server) => server.stop())).then(() => {
      process.removeListener('exit', killAll)
    })
    return stopping
  }
  const at = (index: number): Server => {
    const server = processes[index]
    if (server === undefined) throw new RangeError(`${where}: no server ${index} (there are ${servers})`)
    return server
  }
  return {
    addresses: processes.map((server) => `127.0.0.1:${server.port}`),
    kill: (index) => at(index).kill(),
    restart: (index) => at(index).restart(),
    stop,
    [Symbol.asyncDispose]: stop,
  }
}

interface Settings {
  binary: string
  memory: number
  args: string[]
  startTimeout: number
}

interface Server {
  readonly port: number
  readonly process: ChildProcess
  kill(): Promise<void>
  restart(): Promise<void>
  stop(): Promise<void>
}

/** Another process may take the free port between our probe and memcached's bind: then try another. */
async function startOnFreePort(settings: Settings): Promise<Server> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    try {
      return await startServer(settings, port)
    } catch (error) {
      if (attempt === 3 || !(error instanceof PortTaken)) throw error
    }
  }
}

class PortTaken extends Error {}

async function startServer(settings: Settings, port: number): Promise<Server> {
  let child = await launch(settings, port)
  const server: Server = {
    port,
    get process() {
      return child
    },
    async kill() {
      await terminate(child, 'SIGKILL')
    },
    async restart() {
      await terminate(child, 'SIGKILL')
      child = await launch(settings, port)
    },
    // Throwaway servers keep nothing worth a graceful shutdown (which takes memcached a second).
    async stop() {
      await terminate(child, 'SIGKILL')
    },
  }
  return server
}

async function launch(settings: Settings, port: number): Promise<ChildProcess> {
  const args = [
    '-l',
    '127.0.0.1',
    '-p',
    String(port),
    '-U',
    '0',
    '-m',
    String(settings.memory),
    ...settings.args,
  ]
  // memcached refuses to run as root unless told which user to be.
  if (process.getuid?.() === 0) args.push('-u', 'root')
  const child = spawn(settings.binary, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    if (stderr.length < 4096) stderr += text
  })
  const watch = { over: false }
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (error) => reject(new Error(`cannot start ${settings.binary}: ${error.message}`)))
    child.once('exit', (code, signal) => {
      const why = `${settings.binary} on port ${port} exited (${signal ?? `code ${code}`}) before accepting connections: ${stderr.trim()}`
      reject(/address already in use|failed to listen/i.test(stderr) ? new PortTaken(why) : new Error(why))
    })
  })
  exited.catch(() => {}) // after a successful start, its exit is expected: only the race below observes it
  try {
    await Promise.race([exited, accepting(port, settings.startTimeout, watch)])
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  } finally {
    watch.over = true // a process that failed to start is not polled for the rest of the timeout
  }
  return child
}

/** Resolves once something accepts connections on `port`, trying every 10 ms. */
async function accepting(port: number, timeout: number, watch: { over: boolean }): Promise<void> {
  const giveUp = systemClock.now() + timeout
  while (!watch.over) {
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port })
      const settle = (ok: boolean): void => {
        socket.destroy()
        resolve(ok)
      }
      socket.once('connect', () => settle(true))
      socket.once('error', () => settle(false))
    })
    if (accepted) return
    if (systemClock.now() > giveUp)
      throw new Error(`memcached on port ${port} did not accept connections within ${timeout} ms`)
    await new Promise<void>((resolve) => systemClock.setTimeout(resolve, 10))
  }
}

async function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill(signal)
  await exited
}
