import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks'
import type { Span } from '../trace/span.ts'
import type { Scope } from './scope.ts'

/**
 * Anything the cancellation tree cancels: its nodes (scopes, tasks), and leaves that only need to hear
 * the cancellation (a load waiting for a batch). A leaf is three links and an `abort` method, rather
 * than a whole node with its signal, its children and its span: a load waited on from 10,000 tasks
 * registers for cancellation with a few pointer writes and no allocation.
 */
export abstract class Cancellable {
  // The links of the adopter's intrusive list of children (circular: an only child is its own
  // neighbour; undefined while not adopted). Public for Node only: JavaScript has no protected
  // fields, and a # field of this class is out of reach of Node's code.
  //
  // The fields of Cancellable and Node are declared for the type checker only and assigned in the
  // constructors: V8 runs the field declarations of each class of a hierarchy as a separate
  // initializer, which costs about 10 ns per level, paid by every task and every waiting load (a
  // third of the time it takes to make a task). Only the leaf classes declare fields (their # ones).
  /** @internal The node that adopted this one, which cancels it. */
  declare adopter: Node | undefined
  /** @internal */
  declare previousSibling: Cancellable | undefined
  /** @internal */
  declare nextSibling: Cancellable | undefined

  constructor() {
    this.adopter = undefined
    this.previousSibling = undefined
    this.nextSibling = undefined
  }

  /** Cancels this with `reason` (once: later calls do nothing). */
  abstract abort(reason: unknown): void

  /** Leaves the node that adopted this one (its parent, or the heir it was bequeathed to). */
  leave(): void {
    this.adopter?.release(this)
  }
}

/** What a node's `why` holds while it is not cancelled: one field for both, as every task has it. */
const notCancelled: unique symbol = Symbol('not cancelled')

/**
 * A node of the cancellation tree: every scope and every task is one.
 *
 * Cancellation flows down this tree by direct calls, not through AbortSignal listeners: a fan-out of
 * 10,000 tasks would otherwise pay for 10,000 listeners on their parent's signal that almost never
 * fire, and removing them one by one costs time quadratic in their number. A node's AbortSignal is
 * created the first time someone asks for it (a task's when its function starts) and is aborted
 * together with its node. The only listener weft ever adds is one per scope on a foreign parent signal
 * (the `signal` option), and it is removed when that scope settles.
 */
export abstract class Node extends Cancellable {
  /** Name shown in errors and spans. */
  abstract get name(): string
  /**
   * The effective deadline in epoch ms (the earliest along the path to the root), if any. A getter,
   * not a field: a task's is its scope's, and every field is paid by every task.
   */
  abstract get deadline(): number | undefined
  /** This node's span while its request is traced, else undefined (tracing off costs one check). */
  declare readonly span: Span | undefined
  // Private to Node (TypeScript's `private`, not #: see Cancellable).
  declare private controller: AbortController | undefined
  /** Why this node was cancelled, or `notCancelled` while it is not (a reason may be undefined). */
  declare private why: unknown
  // Children form an intrusive circular doubly linked list, held by its last child (whose next is
  // the first): adopting and releasing a child is a few pointer writes, with no allocation and no
  // hashing, which matters at 10,000 tasks per scope, and the list costs its node one field rather
  // than a head and a tail (every task pays for each). Appended at the tail, so that children are
  // cancelled in the order they were started.
  declare private lastChild: Cancellable | undefined

  constructor(span: Span | undefined) {
    super()
    this.span = span
    this.controller = undefined
    this.why = notCancelled
    this.lastChild = undefined
  }

  /** The signal aborted when this node is cancelled. Created on first use. */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController()
      if (this.why !== notCancelled) this.controller.abort(this.why)
    }
    return this.controller.signal
  }

  get aborted(): boolean {
    return this.why !== notCancelled
  }

  /** Why this node was cancelled; undefined while it is not. */
  get reason(): unknown {
    return this.why === notCancelled ? undefined : this.why
  }

  /** The scope that owns this node's work: a scope itself, or the scope a task was spawned in. */
  abstract get scope(): Node

  /** The outermost scope of this request: the one opened where no other scope was ambient. */
  abstract get root(): Scope

  /** Cancels this node and, recursively, everything under it, with `reason` as the abort reason. */
  abort(reason: unknown): void {
    if (this.why !== notCancelled) return
    this.why = reason
    this.onAbort(reason)
    this.controller?.abort(reason)
    const last = this.lastChild
    if (last === undefined) return
    // Cancelling one child may release others (its abort handler ends them), so walk a snapshot and
    // skip the children that left meanwhile.
    const children: Cancellable[] = []
    let child = last
    do {
      child = child.nextSibling as Cancellable
      children.push(child)
    } while (child !== last)
    for (const each of children) if (each.adopter === this) each.abort(reason)
  }

  /** Called once, before the signal fires and before the children are cancelled. */
  protected abstract onAbort(reason: unknown): void

  /** Registers a node (or a leaf) to be cancelled with this one. */
  adopt(child: Cancellable): void {
    if (child.adopter !== undefined) return
    child.adopter = this
    const last = this.lastChild
    if (last === undefined) {
      child.previousSibling = child
      child.nextSibling = child
    } else {
      const first = last.nextSibling as Cancellable
      child.previousSibling = last
      child.nextSibling = first
      last.nextSibling = child
      first.previousSibling = child
    }
    this.lastChild = child
  }

  /**
   * Gives this node's remaining children to `heir`: a task whose function returned while scopes it
   * opened still run hands them to its scope, which then cancels them with everything else.
   */
  bequeath(heir: Node): void {
    // The first child each time, so that the heir cancels them in the order they were started.
    for (let last = this.lastChild; last !== undefined; last = this.lastChild) {
      const first = last.nextSibling as Cancellable
      this.release(first)
      heir.adopt(first)
    }
  }

  /** Forgets a child that has finished (so long-lived parents do not accumulate them). */
  release(child: Cancellable): void {
    if (child.adopter !== this) return
    const next = child.nextSibling as Cancellable
    if (next === child) {
      this.lastChild = undefined
    } else {
      const previous = child.previousSibling as Cancellable
      previous.nextSibling = next
      next.previousSibling = previous
      if (this.lastChild === child) this.lastChild = previous
    }
    child.adopter = undefined
    child.previousSibling = undefined
    child.nextSibling = undefined
  }
}

/** The ambient node: the task or scope whose code is running now. */
export const ambient = new AsyncLocalStorage<Node>()

/**
 * Calls `fn(arg, node)` with `node` as the ambient node, then puts the caller's context back: what
 * `ambient.run(node, fn, arg, node)` does, at half the cost. Both enter a new context frame (a copy
 * of the caller's, with `node` as the ambient node), but `run` then restores the caller's context by
 * making yet another copy, while an AsyncResource puts the caller's own frame back. That second copy
 * was a third of the time a task takes (measured by bench/core.ts).
 */
export function runAs<N extends Node, A, R>(node: N, fn: (arg: A, node: N) => R, arg: A): R {
  return new AsyncResource('weft').runInAsyncScope(enterAndCall<N, A, R>, node, fn, arg)
}

// The node comes as `this`, runInAsyncScope's own argument, rather than as one more of the arguments
// it gathers into an array for every call.
function enterAndCall<N extends Node, A, R>(this: N, fn: (arg: A, node: N) => R, arg: A): R {
  // Inside runInAsyncScope: the frame entered here lasts until it returns.
  ambient.enterWith(this)
  return fn(arg, this)
}

/**
 * True when `error` is the cancellation of work whose abort reason is `reason`, rather than a
 * failure of its own: the reason itself (`signal.throwIfAborted()`), an AbortError (weft's, fetch's,
 * Node's), or an error caused by the reason.
 */
export function isCancellation(error: unknown, reason: unknown): boolean {
  if (error === reason) return true
  if (!(error instanceof Error)) return false
  return error.name === 'AbortError' || error.cause === reason || error.name === 'DeadlineExceeded'
}
