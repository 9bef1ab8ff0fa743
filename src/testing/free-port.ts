import { once } from 'node:events'
import { createServer } from 'node:net'

/**
 * A TCP port on 127.0.0.1 that nothing listens on now: taken from the system, then released. For a
 * server a test starts (another process may take the port before it binds: callers retry on a
 * port in use), or for an address whose connections are refused (a backend that is down).
 */
export async function freePort(): Promise<number> {
  const probe = createServer()
  probe.listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address() as { port: number }
  probe.close()
  await once(probe, 'close')
  return port
}
