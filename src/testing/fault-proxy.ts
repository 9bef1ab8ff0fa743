/**
 * A TCP proxy that injects network faults between a client and a real server, changed at run time:
 * latency, a stall, connection resets, a blackhole, refused connections, and back to normal.
 *
 * Why our own: nothing maintained installs offline here. Debian has no Toxiproxy package, npm's
 * Toxiproxy clients need its Go server binary, and the npm TCP proxies (`node-tcp-proxy`,
 * `tcp-proxy.js`) only forward. What fault tests need fits in one small module on `node:net`.
 *
 * Everything runs in real time, whatever clock is installed: the sockets are real.
 */
import { once } from 'node:events'
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'
import { systemClock, type TimerHandle } from '../core/clock.ts'
import { checkDuration, checkOptions, checkString, describe } from '../core/validate.ts'

/** Options of {@link startFaultProxy}. */
export interface FaultProxyOptions {
  /** The server to forward to, as `host:port`. */
  target: string
  /** The port to listen on, on 127.0.0.1. Default: a free one. */
  port?: number
}

/** Which bytes a latency delays: client to server (`upstream`), server to client (`downstream`), or both. */
export type FaultDirection = 'upstream' | 'downstream' | 'both'

/** What a {@link FaultProxy} does to traffic now. */
export type FaultMode = 'forward' | 'stall' | 'blackhole' | 'refuse'

/** What a {@link FaultProxy} has seen. */
export interface FaultProxyStats {
  /** Connections accepted since the start. */
  connections: number
  /** Connections open now. */
  open: number
  /** Connections the proxy ended with a reset (by `reset()`, `drop()` or `restore()` after a blackhole). */
  resets: number
}

/** A proxy started by {@link startFaultProxy}. */
export interface FaultProxy extends AsyncDisposable {
  /** `127.0.0.1:<port>`: give this to the client instead of the server's address. */
  readonly address: string
  readonly port: number
  /** The server's `host:port`. */
  readonly target: string
  /** What the proxy does to traffic now. */
  readonly mode: FaultMode
  stats(): FaultProxyStats
  /** Delays every chunk by `ms` in `direction` (default `both`), order kept; 0 removes the latency. */
  latency(ms: number, direction?: FaultDirection): void
  /** Holds every byte, on open and new connections, until {@link FaultProxy.restore}, which delivers them. */
  stall(): void
  /** Resets every open connection (RST, as a crashed peer or a middlebox would); new ones still work. Returns how many. */
  reset(): number
  /**
   * Takes the server off the network. `blackhole` (the default): connections are accepted, but every
   * byte vanishes, as with a host that stopped answering; `refuse`: open connections are reset and
   * new ones refused, as with a server that is down.
   */
  drop(how?: 'blackhole' | 'refuse'): Promise<void>
  /**
   * Back to plain forwarding, latency removed: held bytes are delivered, connections that lost bytes
   * to a blackhole are reset (their stream has a hole, as a restarted host answers them), a refusing
   * proxy listens again on its port.
   */
  restore(): Promise<void>
  /** Closes the proxy and every connection through it; nothing is left open. Idempotent. */
  close(): Promise<void>
}

/**
 * Starts a {@link FaultProxy} to `options.target` on 127.0.0.1, and resolves once it listens.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import { once } from 'node:events'
 * import { createServer, connect } from 'node:net'
 * import { startFaultProxy } from 'weft/testing'
 *
 * // An echo server (its side of the connection will be reset too).
 * const echo = createServer((socket) => socket.on('error', () => {}).pipe(socket)).listen(0, '127.0.0.1')
 * await once(echo, 'listening')
 * const { port } = echo.address() as { port: number }
 * await using proxy = await startFaultProxy({ target: `127.0.0.1:${port}` })
 * proxy.latency(50, 'upstream')
 *
 * const client = connect(proxy.port, '127.0.0.1')
 * const start = performance.now()
 * client.write('ping')
 * const [reply] = await once(client, 'data')
 * assert.equal(String(reply), 'ping')
 * assert.ok(performance.now() - start >= 45)
 * assert.equal(proxy.reset(), 1) // the client sees ECONNRESET
 * const [error] = await once(client, 'error')
 * assert.equal((error as NodeJS.ErrnoException).code, 'ECONNRESET')
 * echo.close()
 * ```
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const where = 'startFaultProxy()'
  checkOptions(where, options)
  if (options === undefined) throw new TypeError(`${where}: options must be an object with a target`)
  const { target, port = 0 } = options
  checkString(where, 'options.target', target)
  const match = /^(.+):(\d{1,5})$/.exec(target)
  if (match === null || Number(match[2]) > 65535) {
    throw new TypeError(`${where}: options.target must be "host:port", got ${describe(target)}`)
  }
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new TypeError(`${where}: options.port must be a port number, got ${describe(port)}`)
  }
  const proxy = new ProxyServer(target, match[1] as string, Number(match[2]))
  await proxy.listen(port)
  return proxy
}

/** One chunk on its way, and when it may go on. */
interface Pending {
  chunk: Buffer
  due: number
}

/** One direction of a connection: bytes read from `from`, written to `to` as the plan allows. */
class Pipe {
  readonly queue: Pending[] = []
  timer: TimerHandle | undefined
  /** `from` ended: end `to` once the queue is empty. */
  ended = false
  readonly direction: 'upstream' | 'downstream'
  readonly from: Socket
  readonly to: Socket
  constructor(direction: 'upstream' | 'downstream', from: Socket, to: Socket) {
    this.direction = direction
    this.from = from
    this.to = to
  }
}

/** A client connection and its connection to the server (none while blackholed). */
interface Link {
  client: Socket
  server: Socket | undefined
  pipes: Pipe[]
  /** Lost bytes to a blackhole: reset on restore. */
  broken: boolean
}

class ProxyServer implements FaultProxy {
  readonly target: string
  readonly #host: string
  readonly #targetPort: number
  #server: Server | undefined
  #port = 0
  #mode: FaultMode = 'forward'
  #latency = { upstream: 0, downstream: 0 }
  readonly #links = new Set<Link>()
  readonly #stats = { connections: 0, resets: 0 }
  #closing: Promise<void> | undefined

  constructor(target: string, host: string, port: number) {
    this.target = target
    this.#host = host
    this.#targetPort = port
  }

  get address(): string {
    return `127.0.0.1:${this.#port}`
  }

  get port(): number {
    return this.#port
  }

  get mode(): FaultMode {
    return this.#mode
  }

  stats(): FaultProxyStats {
    return { ...this.#stats, open: this.#links.size }
  }

  async listen(port: number): Promise<void> {
    const server = createServer({ allowHalfOpen: true }, (client) => this.#accept(client))
    server.listen(port, '127.0.0.1')
    await Promise.race([
      once(server, 'listening'),
      once(server, 'error').then(([error]) => Promise.reject(error)),
    ])
    this.#server = server
    this.#port = (server.address() as { port: number }).port
  }

  latency(ms: number, direction: FaultDirection = 'both'): void {
    this.#checkOpen('latency')
    checkDuration('FaultProxy.latency()', 'ms', ms)
    if (!['upstream', 'downstream', 'both'].includes(direction)) {
      throw new TypeError(
        `FaultProxy.latency(): direction must be 'upstream', 'downstream' or 'both', got ${describe(direction)}`,
      )
    }
    if (direction !== 'downstream') this.#latency.upstream = ms
    if (direction !== 'upstream') this.#latency.downstream = ms
  }

  stall(): void {
    this.#checkOpen('stall')
    this.#mode = 'stall'
  }

  reset(): number {
    this.#checkOpen('reset')
    const links = [...this.#links]
    for (const link of links) this.#resetLink(link, true)
    return links.length
  }

  async drop(how: 'blackhole' | 'refuse' = 'blackhole'): Promise<void> {
    this.#checkOpen('drop')
    if (how !== 'blackhole' && how !== 'refuse') {
      throw new TypeError(`FaultProxy.drop(): how must be 'blackhole' or 'refuse', got ${describe(how)}`)
    }
    if (this.#mode === 'refuse') await this.#relisten()
    this.#mode = how
    if (how === 'blackhole') {
      for (const link of this.#links) this.#blackhole(link)
      return
    }
    for (const link of [...this.#links]) this.#resetLink(link, true)
    const server = this.#server
    this.#server = undefined
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  async restore(): Promise<void> {
    this.#checkOpen('restore')
    const was = this.#mode
    this.#mode = 'forward'
    this.#latency = { upstream: 0, downstream: 0 }
    if (was === 'refuse') await this.#relisten()
    for (const link of [...this.#links]) {
      if (link.broken) this.#resetLink(link, true)
      else for (const pipe of link.pipes) this.#flush(pipe, true)
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const server = this.#server
      this.#server = undefined
      const closed = server && new Promise<void>((resolve) => server.close(() => resolve()))
      const sockets = [...this.#links].flatMap((link) => [link.client, link.server ?? []].flat())
      for (const link of [...this.#links]) this.#drop(link)
      await Promise.all(sockets.map((socket) => (socket.closed ? undefined : once(socket, 'close'))))
      await closed
    })()
    return this.#closing
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  #checkOpen(method: string): void {
    if (this.#closing !== undefined) throw new Error(`FaultProxy.${method}(): the proxy is closed`)
  }

  async #relisten(): Promise<void> {
    await this.listen(this.#port)
  }

  #accept(client: Socket): void {
    this.#stats.connections += 1
    const link: Link = { client, server: undefined, pipes: [], broken: false }
    this.#links.add(link)
    client.on('error', () => this.#resetLink(link))
    client.on('close', () => this.#drop(link))
    if (this.#mode === 'blackhole') {
      this.#blackhole(link)
      return
    }
    this.#connectUpstream(link)
  }

  #connectUpstream(link: Link): void {
    const server = tcpConnect({ host: this.#host, port: this.#targetPort, allowHalfOpen: true })
    link.server = server
    // A server that refuses or resets: the client sees a reset too.
    server.on('error', () => this.#resetLink(link))
    server.on('close', () => this.#drop(link))
    link.pipes = [
      this.#pipe(link, new Pipe('upstream', link.client, server)),
      this.#pipe(link, new Pipe('downstream', server, link.client)),
    ]
  }

  #pipe(link: Link, pipe: Pipe): Pipe {
    pipe.from.on('data', (chunk: Buffer) => {
      if (this.#mode === 'blackhole') {
        link.broken = true
        return
      }
      pipe.queue.push({ chunk, due: systemClock.now() + this.#latency[pipe.direction] })
      this.#flush(pipe, false)
    })
    pipe.from.on('end', () => {
      pipe.ended = true
      this.#flush(pipe, false)
    })
    return pipe
  }

  /** Writes what is due (everything, with `now`), and arms a timer for the next chunk. */
  #flush(pipe: Pipe, now: boolean): void {
    if (pipe.timer !== undefined) {
      systemClock.clearTimeout(pipe.timer)
      pipe.timer = undefined
    }
    if (this.#mode !== 'forward' || pipe.to.destroyed) return
    const time = systemClock.now()
    while (pipe.queue.length > 0) {
      const head = pipe.queue[0] as Pending
      if (!now && head.due > time) {
        pipe.timer = systemClock.setTimeout(() => {
          pipe.timer = undefined
          this.#flush(pipe, false)
        }, head.due - time)
        return
      }
      pipe.queue.shift()
      if (!pipe.to.write(head.chunk) && !pipe.from.isPaused()) {
        // The reader is slower than the writer: stop reading until it has caught up.
        pipe.from.pause()
        pipe.to.once('drain', () => pipe.from.resume())
      }
    }
    if (pipe.ended && !pipe.to.writableEnded) pipe.to.end()
  }

  #blackhole(link: Link): void {
    for (const pipe of link.pipes) {
      if (pipe.queue.length > 0) link.broken = true
      pipe.queue.length = 0
    }
    if (link.server === undefined) link.broken = true // accepted while blackholed: never connected
  }

  /** Resets both sockets of `link`; `fault` when the proxy's plan does it (counted), not a peer's reset passed on. */
  #resetLink(link: Link, fault = false): void {
    if (!this.#links.has(link)) return
    if (fault) this.#stats.resets += 1
    for (const socket of [link.client, link.server]) {
      if (socket !== undefined && !socket.destroyed) socket.resetAndDestroy()
    }
    this.#drop(link)
  }

  /** Forgets a link, destroying what is left of it. */
  #drop(link: Link): void {
    if (!this.#links.delete(link)) return
    for (const pipe of link.pipes) {
      if (pipe.timer !== undefined) systemClock.clearTimeout(pipe.timer)
      pipe.queue.length = 0
    }
    link.client.destroy()
    link.server?.destroy()
  }
}
