import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import Fastify from 'fastify'
import { rpcClientFromEnv } from 'weft/rpc'

describe('rpcClientFromEnv', () => {
  const app = Fastify()

  test('a URL selects the remote service', async () => {
    const client = rpcClientFromEnv(' http://127.0.0.1:8081 ', app, { name: 'geocoder' })
    assert.deepEqual([client.address, client.name], ['http://127.0.0.1:8081', 'geocoder'])
    await client.close()
  })

  test('no URL, or a blank one, selects the app in process', async () => {
    for (const url of [undefined, '', '  ']) {
      const client = rpcClientFromEnv(url, app, { name: 'geocoder' })
      assert.equal(client.address, 'in-process:geocoder')
      await client.close()
    }
  })
})
