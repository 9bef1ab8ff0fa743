import type { Server } from 'node:http'
import type { Socket } from 'node:net'
import { duplexPair } from 'node:stream'
import { Pool } from 'undici'
import { BackendRefused } from 'weft'
import { detached } from '../../core/detached.ts'

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
          // Node's HTTP server runs every request of a connection in the async context the
          // connection arrived in. Outside any request, as over a network: otherwise the context of
          // the call that opened the connection would be ambient in every request sent on it.
          detached(() => app.server.emit('connection', server))
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
