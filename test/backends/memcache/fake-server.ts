import { createServer, type Socket } from 'node:net'

/**
 * How a fake server answers one command line (`'mg k v'`, `'mn'`) on connection number `connection`
 * (0 for the first): the reply bytes, or undefined to stay silent. It may also end `socket`.
 */
export type Responder = (line: string, connection: number, socket: Socket) => string | undefined

/** Answers like memcached holding nothing: `EN` to every `mg`, `MN` to every `mn`. */
export const emptyCache: Responder = (line) =>
  line === 'mn' ? 'MN\r\n' : line.startsWith('mg ') ? 'EN\r\n' : undefined

/** A scripted stand-in for memcached, for what a real one will not do: stall, misbehave, hold replies. */
export interface FakeServer {
  readonly address: string
  /** Connections accepted so far. */
  readonly connections: number
  /** Command lines received so far, in order. */
  readonly lines: readonly string[]
  /** While true, replies are kept back; setting it false sends those kept so far. */
  holding: boolean
  /** Resolves once `count` command lines have been received in all. */
  received(count: number): Promise<void>
  close(): Promise<void>
}

export async function fakeServer(respond: Responder): Promise<FakeServer> {
  const sockets = new Set<Socket>()
  const lines: string[] = []
  const held: [Socket, string][] = []
  const waiters: { count: number; resolve: () => void }[] = []
  let connections = 0
  let holding = false
  const server = createServer((socket) => {
    const connection = connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let pending = ''
    socket.setEncoding('latin1').on('data', (text: string) => {
      pending += text
      for (let end = pending.indexOf('\r\n'); end !== -1; end = pending.indexOf('\r\n')) {
        const line = pending.slice(0, end)
        pending = pending.slice(end + 2)
        lines.push(line)
        const reply = respond(line, connection, socket)
        if (reply !== undefined) {
          if (holding) held.push([socket, reply])
          else socket.write(reply)
        }
      }
      for (const waiter of waiters.filter((waiter) => lines.length >= waiter.count)) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve()
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    address: `127.0.0.1:${port}`,
    get connections() {
      return connections
    },
    lines,
    get holding() {
      return holding
    },
    set holding(value: boolean) {
      holding = value
      if (!value) for (const [socket, reply] of held.splice(0)) socket.write(reply)
    },
    received: (count) =>
      lines.length >= count ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve })),
    close: () => {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
