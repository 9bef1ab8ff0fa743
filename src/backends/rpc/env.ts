import { RpcClient } from './client.ts'
import type { RpcClientOptions } from './options.ts'
import type { InProcessApp } from './target.ts'

/**
 * The service the environment names: a client of the URL (the value of, say, `GEOCODER_URL`) when
 * it is set and not blank, else of `app`, the same service in this process, so that the whole
 * system runs with no port to open. The options apply to either.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict'
 * import Fastify from 'fastify'
 * import { rpcClientFromEnv } from 'weft/rpc'
 * const geocoder = Fastify()
 * const client = rpcClientFromEnv(undefined, geocoder, { name: 'geocoder' }) // process.env.GEOCODER_URL
 * assert.equal(client.address, 'in-process:geocoder')
 * await client.close()
 * ```
 */
export function rpcClientFromEnv(
  url: string | undefined,
  app: InProcessApp,
  options: Omit<RpcClientOptions, 'baseUrl' | 'app'> = {},
): RpcClient {
  if (url !== undefined && typeof url !== 'string') {
    throw new TypeError(`rpcClientFromEnv(): url must be a string or undefined, got ${typeof url}`)
  }
  return url === undefined || url.trim() === ''
    ? new RpcClient({ ...options, app })
    : new RpcClient({ ...options, baseUrl: url.trim() })
}
