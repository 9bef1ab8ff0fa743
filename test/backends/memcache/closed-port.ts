import { createServer } from 'node:net'

/** `127.0.0.1:<port>` of a port nothing listens on: connections to it are refused. */
export async function closedPort(): Promise<string> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const address = probe.address()
  await new Promise((resolve) => probe.close(resolve))
  return `127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
}
