import type { AttributeValue } from '../../trace/index.ts'

/** A command as it goes on the wire: its name, then its arguments. */
export type Wire = readonly string[]

/** Called once per command written, in order, with the raw reply or the raw error. */
export type ReplyHandler = (index: number, error: unknown, reply: unknown) => void

/**
 * What the auto-pipeline needs from a server: a real one over a socket (`connection.ts`) or the
 * in-process one (`embedded.ts`). Replies and errors are raw; `toError` turns them into weft errors.
 */
export interface Transport {
  /** `host:port`, or `embedded`. */
  readonly address: string
  /** Attributes every span of a call to this server carries (`db.system`, `server.address`, ...). */
  readonly attributes: Readonly<Record<string, AttributeValue>>
  /**
   * Undefined when commands can be written right now; otherwise a promise that resolves once they can,
   * or rejects with the reason they cannot (given to `toError`).
   */
  ready(): Promise<void> | undefined
  /** Writes `commands` in order, in one write, and reports each reply to `onReply`. Called only when ready. */
  write(commands: readonly Wire[], onReply: ReplyHandler): void
  /** A weft error, new on every call, for what `ready` rejected with or `onReply` reported. */
  toError(error: unknown, operation: string): Error
  /** Waits for the replies of what was written, then releases the connection. */
  close(): Promise<void>
}
