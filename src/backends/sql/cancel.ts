/**
 * Cancelling a running statement, the PostgreSQL way: a CancelRequest sent on a separate connection.
 *
 * Two races make this harder than it looks. A cancel request is only a signal to the server process;
 * it hits whatever that process is executing when it arrives, or nothing if it is between statements.
 * So (1) a cancel that arrives before the statement starts is lost, and (2) a cancel that arrives late
 * can hit the *next* statement on the connection. {@link cancelUntilSettled} handles both: it keeps
 * sending cancel requests, each one acknowledged by the server closing its socket (which happens after
 * the signal was delivered), until the statement has settled. Only then is the connection reused.
 */
import { connect as netConnect, type Socket } from 'node:net'
import { startTimer } from './timer.ts'

/** The server process to cancel, as the server announced it at connection time (BackendKeyData). */
export interface CancelTarget {
  /** Host name or address, or the directory of a Unix socket (starting with `/`). */
  readonly host: string
  readonly port: number
  readonly processId: number
  readonly secretKey: number
}

// The CancelRequest code (1234 << 16 | 5678) from the protocol's StartupMessage family.
const CANCEL_REQUEST_CODE = 80877102
/** How long the server may take to acknowledge a cancel request before the connection is given up. */
const ACKNOWLEDGE_TIMEOUT = 5_000

/**
 * Sends one CancelRequest and resolves once the server acknowledged it by closing the socket: from
 * then on the signal has been delivered to the server process. Rejects when the server cannot be
 * reached or does not answer within a few seconds.
 */
export function sendCancelRequest(target: CancelTarget): Promise<void> {
  const packet = Buffer.alloc(16)
  packet.writeInt32BE(16, 0)
  packet.writeInt32BE(CANCEL_REQUEST_CODE, 4)
  packet.writeInt32BE(target.processId, 8)
  packet.writeInt32BE(target.secretKey, 12)
  return new Promise<void>((resolve, reject) => {
    const socket: Socket = target.host.startsWith('/')
      ? netConnect({ path: `${target.host}/.s.PGSQL.${target.port}` })
      : netConnect({ host: target.host, port: target.port })
    const stopTimer = startTimer(() => {
      socket.destroy(
        new Error(`the server did not acknowledge the cancel request within ${ACKNOWLEDGE_TIMEOUT} ms`),
      )
    }, ACKNOWLEDGE_TIMEOUT)
    let failure: Error | undefined
    socket.once('connect', () => socket.end(packet))
    socket.on('error', (error) => {
      failure = error
    })
    socket.once('close', () => {
      stopTimer()
      if (failure === undefined) resolve()
      else reject(failure)
    })
  })
}

/** How {@link cancelUntilSettled} paces its cancel requests. */
export interface CancelPolicy {
  /** Wait before sending the second cancel request, in ms; doubled for each one after. */
  readonly retryAfter: number
  /** Cancel requests to send before giving up. */
  readonly attempts: number
}

export const defaultCancelPolicy: CancelPolicy = { retryAfter: 20, attempts: 7 }

/**
 * Sends cancel requests until `settled` settles (the statement ended, cancelled or not), waiting for
 * each to be acknowledged. Resolves to true when the statement settled and no cancel request is still
 * pending (the connection is safe to reuse), false when a cancel request failed or the statement
 * ignored every one of them (the connection must be discarded).
 */
export async function cancelUntilSettled(
  settled: Promise<unknown>,
  send: () => Promise<void>,
  policy: CancelPolicy = defaultCancelPolicy,
): Promise<boolean> {
  let done = false
  const finished = settled.then(
    () => {
      done = true
    },
    () => {
      done = true
    },
  )
  let delay = policy.retryAfter
  for (let attempt = 0; attempt < policy.attempts; attempt += 1) {
    try {
      await send()
    } catch {
      return false
    }
    if (done || (await settlesWithin(finished, delay))) return true
    delay *= 2
  }
  return false
}

function settlesWithin(finished: Promise<void>, ms: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const stopTimer = startTimer(() => resolve(false), ms)
    void finished.then(() => {
      stopTimer()
      resolve(true)
    })
  })
}
