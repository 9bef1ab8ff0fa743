import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Node } from '../../src/core/node.ts'
import type { Scope } from '../../src/core/scope.ts'

/** A bare node of the cancellation tree, with a hook on its own cancellation. */
class Leaf extends Node {
  readonly name: string
  readonly onCancel: () => void
  constructor(name: string, onCancel: () => void = () => {}) {
    super(undefined)
    this.name = name
    this.onCancel = onCancel
  }
  get deadline(): undefined {
    return undefined
  }
  get scope(): Node {
    return this
  }
  get root(): Scope {
    throw new Error('a bare node belongs to no request')
  }
  protected onAbort(): void {
    this.onCancel()
  }
}

describe('the cancellation tree', () => {
  test('cancels every child, in the order adopted, even when cancelling one releases another', () => {
    const order: string[] = []
    const parent = new Leaf('parent')
    const b = new Leaf('b', () => order.push('b'))
    const c = new Leaf('c', () => order.push('c'))
    const a = new Leaf('a', () => {
      order.push('a')
      parent.release(b) // a's cancellation ends b
    })
    for (const child of [a, b, c]) parent.adopt(child)
    parent.abort(new Error('stop'))
    assert.deepEqual(order, ['a', 'c'])
    assert.equal(c.aborted, true)
    assert.equal(b.aborted, false, 'b had left before its turn')
  })

  test('a child handed on to an heir is cancelled with the heir, unless it left', () => {
    const task = new Leaf('task')
    const scope = new Leaf('scope')
    const stays = new Leaf('stays')
    const leaves = new Leaf('leaves')
    task.adopt(stays)
    task.adopt(leaves)
    task.bequeath(scope)
    task.abort('too late for the children')
    assert.deepEqual([stays.aborted, leaves.aborted], [false, false])
    leaves.leave()
    scope.abort('now')
    assert.deepEqual([stays.aborted, leaves.aborted], [true, false])
  })
})
