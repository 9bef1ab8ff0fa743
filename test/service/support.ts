// Starts the search service for a test, over real HTTP on a free port, on the test data, with the
// backends a test file chose (embedded, or servers named in its environment).
import type { FastifyInstance } from 'fastify'
import type { TaskQueue } from 'weft/queue'
import type { Database } from 'weft/sql'
import type { Backends } from '../../service/backend-calls.ts'
import { type Budgets, openBackends, type Runtime } from '../../service/backends.ts'
import { type Config, loadConfig } from '../../service/config.ts'
import { createServer, type ServerOptions } from '../../service/server.ts'
import { startWorkers } from '../../service/worker.ts'

/** A response, its body parsed as JSON. */
export interface Response {
  status: number
  headers: Headers
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever the service answered
  body: any
}

/** A running service. */
export interface TestService extends AsyncDisposable {
  readonly url: string
  readonly config: Config
  readonly runtime: Runtime
  readonly app: FastifyInstance
  /** GET `path`, with `headers`. */
  get(path: string, headers?: Record<string, string>): Promise<Response>
  /** GET /search as the visitor at `ip` (through `X-Forwarded-For`, which the service trusts). */
  search(ip: string, query: Record<string, string>, headers?: Record<string, string>): Promise<Response>
  close(): Promise<void>
}

/** Options of {@link startService}. */
export interface StartOptions {
  /** The database, loaded with the test data (see fixtures.ts). */
  db: Database
  /** Configuration variables, over the test defaults. */
  env?: Record<string, string>
  /** Changes the backends the server uses (failures, counting). */
  wrap?: (backends: Backends) => Backends
  /** Call budgets, over the defaults. */
  budgets?: Partial<Budgets>
  /** Run the task worker in process. Default true. */
  worker?: boolean
  /** More options of the server (its log, its metrics), given the backends it runs on. */
  server?: (runtime: Runtime) => Partial<ServerOptions>
}

/**
 * The test defaults: `X-Forwarded-For` trusted (one proxy), a fixed session secret, generous limits,
 * and every request traced and its trace kept (tests read the trace of a request made right after
 * many others; traces.test.ts and trace-record-rate.test.ts test the bounds a second that apply
 * otherwise).
 */
export const testEnv: Record<string, string> = {
  TRUST_PROXY: '1',
  SESSION_SECRET: 'test secret test secret test secret!',
  PORT: '0',
  TRACE_KEEP_PER_SECOND: '1000000',
  TRACE_RECORD_PER_SECOND: '1000000',
}

/** Starts the service (see the module comment); close it, or `await using` it. */
export async function startService(options: StartOptions): Promise<TestService> {
  const config = loadConfig({ ...testEnv, ...options.env })
  const runtime = await openBackends(config, {
    db: options.db,
    ...(options.budgets !== undefined && { budgets: options.budgets }),
  })
  if (options.worker !== false) startWorkers(runtime.resources.queue, options.db, { concurrency: 2 })
  const backends = options.wrap?.(runtime.backends) ?? runtime.backends
  const app = await createServer({ backends, config, ...options.server?.(runtime) })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  const get = async (path: string, headers: Record<string, string> = {}): Promise<Response> => {
    const response = await fetch(`${url}${path}`, { headers })
    const text = await response.text()
    let body: unknown = text
    try {
      body = JSON.parse(text)
    } catch {}
    return { status: response.status, headers: response.headers, body }
  }
  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= app.close().then(() => runtime.close())
    return closing
  }
  return {
    url,
    config,
    runtime,
    app,
    get,
    search: (ip, query, headers = {}) =>
      get(`/search?${new URLSearchParams(query)}`, { 'x-forwarded-for': ip, ...headers }),
    close,
    [Symbol.asyncDispose]: close,
  }
}

/** The `name=value` part of a response's `Set-Cookie`, or undefined. */
export function cookieOf(response: Response): string | undefined {
  return response.headers.get('set-cookie')?.split(';')[0]
}

/** Waits until every task of `queue` has run (none queued or active), polling; fails after `timeout` ms. */
export async function queueDrained(queue: TaskQueue, timeout = 5000): Promise<void> {
  const give = Date.now() + timeout
  for (;;) {
    const counts = Object.values(await queue.stats())
    if (counts.every(({ queued, active }) => queued === 0 && active === 0)) return
    if (Date.now() > give)
      throw new Error(`the queue still has tasks after ${timeout} ms: ${JSON.stringify(counts)}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * Runs `check` until it passes, polling, and fails with its last error after `timeout` ms: for effects
 * that happen after the response, such as the worker's writes (the response does not even wait for
 * the enqueues of its step 5).
 */
export async function eventually<T>(check: () => Promise<T>, timeout = 5000): Promise<T> {
  const give = Date.now() + timeout
  for (;;) {
    try {
      return await check()
    } catch (error) {
      if (Date.now() > give) throw error
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}
