import { AsyncResource } from 'node:async_hooks'
import type { Server } from 'node:http'
import type { Socket } from 'node:net'
import { duplexPair } from 'node:stream'
import { Pool } from 'undici'
import { BackendRefused } from 'weft'

/**
 * A service running in this process: a fastify instance, or anything that owns a Node HTTP server and
 * may need to finish starting (`ready`) before it takes requests. It need not listen on any port.
 */
export interface InProcessApp {
  readonly server: Server
  ready?(): PromiseLike<unknown>
}

/** Where a client's calls go: a pool of keep-alive connections and how to name the server. */
export interface Target {
  readonly pool: Pool
  /** Origin of the request URLs (`http://127.0.0.1:8081`; `http://in-process` for an in-process app). */
  readonly origin: string
  /** Path prefix every call's path is appended to (from the base URL), `''` for none. */
  readonly prefix: string
  /** The server as errors name it. */
  readonly address: string
  /** Host and port for span attributes. */
  readonly host: string
  readonly port: number
}

/** A pool of connections to a remote origin over TCP (or TLS for https). */
export function remoteTarget(baseUrl: URL, connections: number): Target {
  const port = Number(baseUrl.port) || (baseUrl.protocol === 'https:' ? 443 : 80)
  return {
    pool: new Pool(baseUrl.origin, { connections }),
    origin: baseUrl.origin,
    prefix: baseUrl.pathname.replace(/\/+$/, ''),
    address: baseUrl.origin,
    host: baseUrl.hostname,
    port,
  }
}

/**
 * The async context the in-process server runs in: created while this module loads, outside any
 * request, so it carries no ambient scope. Without it, an in-memory stream would run the server's
 * side of each call in the caller's context (its events fire in the writer's context), and the
 * service's request scope would nest in the caller's: the service would inherit the caller's signal,
 * deadline and trace directly instead of receiving them over HTTP like a remote service does.
 */
const serverContext = new AsyncResource('weft.rpc.in-process-server')

/**
 * A pool of connections to an in-process app, each an in-memory stream pair handed to the app's HTTP
 * server as if a client had connected. Every call still goes through both HTTP/1.1 parsers, so the
 * deadline header, trace context, keep-alive and cancellation (the client closing the connection,
 * which the server sees) behave exactly as over the network; only the socket is missing.
 */
export function inProcessTarget(app: InProcessApp, name: string, connections: number): Target {
  const address = `in-process:${name}`
  let ready: Promise<unknown> | undefined
  const pool = new Pool('http://in-process', {
    connections,
    connect(_options, callback) {
      ready ??= Promise.resolve(app.ready?.())
      // undici expects the callback to run asynchronously, like a real connect; `ready` guarantees it.
      ready.then(
        () => {
          const [client, server] = duplexPair()
          const emit = server.emit
          server.emit = function (this: typeof server, ...args: Parameters<typeof emit>) {
            return serverContext.runInAsyncScope(emit, this, ...args)
          } as typeof emit
          serverContext.runInAsyncScope(() => app.server.emit('connection', server))
          // undici reads and writes a socket only as a stream (and calls ref/unref when present).
          callback(null, client as unknown as Socket)
        },
        (error: unknown) =>
          callback(
            new BackendRefused(`the app failed to start: ${String(error)}`, {
              backend: 'rpc',
              address,
              cause: error,
            }),
            null,
          ),
      )
    },
  })
  return { pool, origin: 'http://in-process', prefix: '', address, host: name, port: 0 }
}
