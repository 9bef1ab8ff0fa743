import {
  AbortError,
  type AttributeValue,
  BackendTimeout,
  clock,
  currentDeadline,
  currentSignal,
  currentSpan,
  DeadlineExceeded,
  hedge,
  isAbort,
  retry,
  scope,
  type TaskContext,
} from 'weft'
import { formatTraceparent, TRACEPARENT_HEADER } from '../../trace/traceparent.ts'
import { Cancellation } from './cancellation.ts'
import { Circuit, type CircuitPass, type CircuitState } from './circuit.ts'
import { formatTimeout, TIMEOUT_HEADER } from './deadline-header.ts'
import { isServerFailure, neverSent } from './errors.ts'
import { type Answer, exchange, type Outgoing } from './exchange.ts'
import {
  type CallOptions,
  checkRequest,
  clientOptions,
  idempotentMethods,
  jsonBody,
  parseBaseUrl,
  type RpcClientOptions,
  type RpcHedgeOptions,
  type RpcRequest,
  type RpcRetryOptions,
} from './options.ts'
import { inProcessTarget, remoteTarget, type Target } from './target.ts'

const defaultRetry: RpcRetryOptions = { attempts: 3 }
const defaultCircuit = { failures: 5, resetAfter: 5000 }
const defaultConnections = 64

/**
 * A client of one HTTP service that speaks JSON: the remote service at `baseUrl`, or the same service
 * running in this process (`app`), through the same code path.
 *
 * Each call carries the ambient deadline (as the time left, in the `weft-timeout-ms` header) and the
 * ambient span (as a W3C `traceparent`), is aborted when the ambient signal aborts, and is recorded
 * as a client span. Idempotent calls are retried after server failures and may be hedged; after
 * repeated server failures the circuit opens and calls fail fast with `BackendUnavailable`.
 *
 * Failures: `BackendRefused` (unreachable), `BackendTimeout` (the `timeout` of an attempt passed),
 * `RpcError` (an error status, with `status` and `body`), `ProtocolError` (an answer that is not
 * JSON), `BackendUnavailable` (circuit open); cancellation rejects with `AbortError` (whose `reason`
 * is the scope's `DeadlineExceeded` when the deadline passed), or `DeadlineExceeded` when the call's
 * own `deadline` option passed.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import Fastify from 'fastify'
 * import { scope } from 'weft'
 * import { rpcClient, weftFastify } from 'weft/rpc'
 *
 * const geocoder = Fastify()
 * await geocoder.register(weftFastify)
 * geocoder.get('/city', async (request) => ({ ip: (request.query as { ip: string }).ip, city: 'Lisbon' }))
 *
 * const client = rpcClient({ app: geocoder, name: 'geocoder' }) // or { baseUrl: 'http://geocoder:8081' }
 * const found = await scope({ deadline: 1000 }, () =>
 *   client.get<{ city: string }>('/city', { query: { ip: '192.0.2.1' } }),
 * )
 * assert.equal(found.city, 'Lisbon')
 * await client.close()
 * await geocoder.close()
 * ```
 */
export class RpcClient {
  /** The service's name as given, or undefined. */
  readonly name: string | undefined
  /** The server as errors name it: the origin, or `in-process:<name>`. */
  readonly address: string
  readonly #target: Target
  readonly #timeout: number | undefined
  readonly #retry: RpcRetryOptions | undefined
  readonly #hedge: RpcHedgeOptions | undefined
  readonly #circuit: Circuit | undefined
  readonly #headers: Record<string, string>
  /** Prefix of error messages: `geocoder ` for a named service. */
  readonly #label: string

  /** Prefer {@link rpcClient}. */
  constructor(options: RpcClientOptions) {
    const {
      baseUrl,
      app,
      name,
      timeout,
      retry = defaultRetry,
      hedge,
      circuit = defaultCircuit,
    } = clientOptions(options)
    const connections = options.connections ?? defaultConnections
    this.#target =
      app !== undefined
        ? inProcessTarget(app, name ?? 'in-process', connections)
        : remoteTarget(parseBaseUrl(baseUrl as string | URL), connections)
    this.name = name
    this.address = this.#target.address
    this.#label = name === undefined ? '' : `${name} `
    this.#timeout = timeout
    this.#retry = retry === false || retry.attempts === 1 ? undefined : retry
    this.#hedge = hedge
    this.#circuit =
      circuit === false ? undefined : new Circuit(circuit, { backend: 'rpc', address: this.address })
    this.#headers = { ...options.headers }
  }

  /** The circuit breaker's state (`closed` when it is disabled). */
  get circuitState(): CircuitState {
    return this.#circuit?.state ?? 'closed'
  }

  /** GET `path` and decode the JSON answer. */
  get<T = unknown>(path: string, options?: CallOptions): Promise<T> {
    return this.call<T>({ ...options, method: 'GET', path })
  }

  /** POST `body` as JSON to `path` and decode the JSON answer. Not idempotent unless said so. */
  post<T = unknown>(path: string, body?: unknown, options?: CallOptions): Promise<T> {
    return this.call<T>({ ...options, method: 'POST', path, body })
  }

  /** PUT `body` as JSON to `path` and decode the JSON answer. */
  put<T = unknown>(path: string, body?: unknown, options?: CallOptions): Promise<T> {
    return this.call<T>({ ...options, method: 'PUT', path, body })
  }

  /** DELETE `path` and decode the JSON answer (undefined when empty). */
  delete<T = unknown>(path: string, options?: CallOptions): Promise<T> {
    return this.call<T>({ ...options, method: 'DELETE', path })
  }

  /**
   * Makes one call and resolves with the decoded JSON answer (undefined for an empty one). The type
   * parameter is the caller's claim about the answer's shape; it is not checked.
   */
  call<T = unknown>(request: RpcRequest): Promise<T> {
    const where = `RpcClient.call(${this.#label}${String(request?.method)} ${String(request?.path)})`
    const method = checkRequest(where, request)
    const idempotent = request.idempotent ?? idempotentMethods.has(method)
    const hedging = this.#hedgeFor(request, idempotent, method)
    const outgoing: Outgoing = {
      method,
      path: this.#target.prefix + withQuery(request.path, request.query),
      headers: { ...this.#headers, ...request.headers },
      body: request.body === undefined ? null : jsonBody(where, request.body),
    }
    if (outgoing.body !== null) outgoing.headers['content-type'] = 'application/json'
    const what = `${this.#label}${method} ${request.path}`
    const timeout = request.timeout ?? this.#timeout
    const attempt = ({ signal, deadline }: TaskContext): Promise<T> =>
      this.#attempt(outgoing, what, timeout, signal, deadline) as Promise<T>
    const hedged = hedging === undefined ? attempt : () => hedge(attempt, hedging)
    const retryIf = idempotent ? (error: unknown) => isServerFailure(error) || neverSent(error) : neverSent
    const run = (): Promise<T> =>
      this.#retry === undefined ? hedged(ambient()) : retry(hedged, { ...this.#retry, retryIf })
    const { signal, deadline } = request
    // Like any work with a canceller or a budget of its own, such a call is a scope of its own, with
    // no span: the attempts' client spans say what it did.
    const called =
      signal === undefined && deadline === undefined
        ? run()
        : scope(
            {
              name: `rpc ${this.address} ${what}`,
              span: false,
              ...(signal && { signal }),
              ...(deadline !== undefined && { deadline }),
            },
            run,
          )
    // Cancellation may surface as the AbortError of an enclosing retry or hedge scope: name the call instead.
    return called.catch((error: unknown) => {
      throw error instanceof AbortError ? new AbortError(`rpc ${this.address} ${what}`, error.reason) : error
    })
  }

  /** Closes the pooled connections once the calls under way have finished. */
  close(): Promise<void> {
    return this.#target.pool.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  #hedgeFor(request: RpcRequest, idempotent: boolean, method: string): RpcHedgeOptions | undefined {
    const asked = request.hedge
    if (asked === false) return undefined
    if (asked === undefined) return idempotent ? this.#hedge : undefined
    if (!idempotent) {
      throw new TypeError(
        `RpcClient.call(${this.#label}${method} ${request.path}): hedging sends the call twice, which a non-idempotent call must not be; pass idempotent: true if it is safe`,
      )
    }
    if (asked !== true) return asked
    if (this.#hedge === undefined) {
      throw new TypeError(
        `RpcClient.call(${this.#label}${method} ${request.path}): options.hedge is true but the client has no hedge policy; pass { after, max } instead`,
      )
    }
    return this.#hedge
  }

  /** One HTTP exchange: the circuit, the time limits, the headers of the deadline and trace, the span. */
  async #attempt(
    outgoing: Outgoing,
    what: string,
    timeout: number | undefined,
    signal: AbortSignal,
    deadline: number | undefined,
  ): Promise<unknown> {
    const span = currentSpan()
      ?.child(`rpc ${outgoing.method} ${outgoing.path.split('?', 1)[0]}`, 'client')
      .adoptAttributes(this.#attributes(outgoing))
    let pass: CircuitPass | undefined
    let limit: Cancellation | undefined
    try {
      signal.throwIfAborted()
      const now = clock().now()
      // The scope's own timer may not have fired yet: a call with no time left is not sent.
      if (deadline !== undefined && deadline <= now) throw new DeadlineExceeded(`rpc ${what}`, deadline)
      pass = this.#circuit?.admit(what)
      const headers = { ...outgoing.headers }
      const budget = Math.min(deadline === undefined ? Infinity : deadline - now, timeout ?? Infinity)
      if (budget !== Infinity) headers[TIMEOUT_HEADER] = formatTimeout(budget)
      if (span !== undefined) headers[TRACEPARENT_HEADER] = formatTraceparent(span)
      if (timeout !== undefined) {
        const details = { backend: 'rpc', address: this.address }
        limit = new Cancellation(
          signal,
          now + timeout,
          () => new BackendTimeout(`${what}: no answer within ${timeout} ms`, details),
        )
      }
      const answer: Answer = await exchange(
        this.#target,
        { ...outgoing, headers },
        limit?.signal ?? signal,
        what,
      )
      pass?.succeeded()
      span?.setAttribute('http.response.status_code', answer.status)
      span?.finish('ok')
      return answer.value
    } catch (caught) {
      const error = limit?.expired
        ? limit.signal.reason
        : signal.aborted || caught instanceof DeadlineExceeded
          ? new AbortError(`rpc ${this.address} ${what}`, signal.aborted ? signal.reason : caught)
          : caught
      if (isServerFailure(error)) pass?.failed(error)
      else if (isAbort(error)) pass?.abandoned()
      else pass?.succeeded() // the server is up: it answered, if wrongly
      const status = (error as { status?: unknown }).status
      if (typeof status === 'number') span?.setAttribute('http.response.status_code', status)
      span?.finish(isAbort(error) ? 'cancelled' : 'error', error)
      throw error
    } finally {
      limit?.dispose()
    }
  }

  #attributes(outgoing: Outgoing): Record<string, AttributeValue> {
    const target = this.#target
    const attributes: Record<string, AttributeValue> = {
      'http.request.method': outgoing.method,
      'url.full': target.origin + outgoing.path,
      'server.address': target.host,
      'server.port': target.port,
    }
    if (this.name !== undefined) attributes['rpc.service'] = this.name
    return attributes
  }
}

/**
 * Creates a client of one JSON-over-HTTP service. See {@link RpcClient}.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import Fastify from 'fastify'
 * import { rpcClient } from 'weft/rpc'
 * const app = Fastify()
 * app.post('/echo', async (request) => request.body)
 * const client = rpcClient({ app, retry: { attempts: 2 }, circuit: { failures: 3, resetAfter: 1000 } })
 * assert.deepEqual(await client.post('/echo', { hello: 'world' }), { hello: 'world' })
 * await client.close()
 * await app.close()
 * ```
 */
export function rpcClient(options: RpcClientOptions): RpcClient {
  return new RpcClient(options)
}

function ambient(): TaskContext {
  return { signal: currentSignal(), deadline: currentDeadline() }
}

function withQuery(path: string, query: CallOptions['query']): string {
  if (query === undefined) return path
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.append(key, String(value))
  const search = params.toString()
  if (search === '') return path
  return `${path}${path.includes('?') ? '&' : '?'}${search}`
}
