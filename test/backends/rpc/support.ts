// Shared by the rpc tests: the two ways a client reaches a service (a real local HTTP server on an
// ephemeral port, or the same app in process), and a service whose handlers a test writes.
import Fastify, { type FastifyInstance } from 'fastify'
import { type RpcClient, type RpcClientOptions, rpcClient, weftFastify } from 'weft/rpc'

/** How a test reaches its app: the options that point a client at it. */
export interface Transport {
  name: string
  /** Makes `app` reachable and returns where it is. */
  expose(app: FastifyInstance): Promise<Pick<RpcClientOptions, 'baseUrl' | 'app'>>
}

export const transports: Transport[] = [
  {
    name: 'over TCP to a local server',
    async expose(app) {
      await app.listen({ port: 0, host: '127.0.0.1' })
      const address = app.server.address()
      if (address === null || typeof address === 'string') throw new Error('expected a TCP address')
      return { baseUrl: `http://127.0.0.1:${address.port}` }
    },
  },
  {
    name: 'in process, without a socket',
    async expose(app) {
      return { app }
    },
  },
]

/** A service under test: its app (routes added by the test), clients of it, and cleanup. */
export interface Service {
  app: FastifyInstance
  /** Connections the server has accepted so far. */
  readonly connections: number
  /** A client of the service; retries and the circuit are off unless the test turns them on. */
  client(options?: Omit<RpcClientOptions, 'baseUrl' | 'app'>): Promise<RpcClient>
  close(): Promise<void>
}

/**
 * An app with `weftFastify` registered; `routes` adds the test's routes. The app is exposed on the
 * first `client()` call, after the routes are in place.
 */
export async function service(
  transport: Transport,
  routes: (app: FastifyInstance) => void | Promise<void>,
): Promise<Service> {
  const app = Fastify()
  await app.register(weftFastify)
  await routes(app)
  let connections = 0
  app.server.on('connection', () => {
    connections += 1
  })
  let target: Pick<RpcClientOptions, 'baseUrl' | 'app'> | undefined
  const clients: RpcClient[] = []
  return {
    app,
    get connections() {
      return connections
    },
    async client(options = {}) {
      target ??= await transport.expose(app)
      const client = rpcClient({ retry: false, circuit: false, ...options, ...target })
      clients.push(client)
      return client
    },
    async close() {
      await Promise.all(clients.map((client) => client.close()))
      await app.close()
    },
  }
}

/** A promise with its resolver, for a handler to report what it saw. */
export function signalled<T = void>(): PromiseWithResolvers<T> {
  return Promise.withResolvers<T>()
}
