// Span ids and compact traces: what keeping many traces cheaply must not change.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { CompactTrace, type Span, scope, sleep, startSpan, Trace } from 'weft'
import { withVirtualClock } from 'weft/testing'
import { collectGarbage } from '../core/support.ts'
import { record } from './helpers.ts'

describe('span ids', () => {
  test('16 hex digits, unique within the trace, in the order the spans started, the same on every read', () => {
    const trace = new Trace()
    const root = trace.startRoot('root')
    const children = Array.from({ length: 300 }, (_, i) => root.child(`c${i}`, 'task'))
    const ids = [root, ...children].map((span) => span.spanId)
    for (const id of ids) assert.match(id, /^[0-9a-f]{16}$/)
    assert.equal(new Set(ids).size, ids.length)
    assert.deepEqual([...ids].sort(), ids, 'fixed-width hex ids sort in creation order')
    assert.deepEqual(
      [root, ...children].map((span) => span.spanId),
      ids,
    )
    assert.equal(trace.spanIdOf(1), root.spanId)
  })

  test('two traces draw different bases; a continued trace keeps the caller’s trace id', () => {
    const a = new Trace().startRoot('a')
    const b = new Trace().startRoot('b')
    assert.notEqual(a.trace.id, b.trace.id)
    assert.notEqual(a.spanId, b.spanId)
    const continued = new Trace(undefined, '4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7')
    assert.equal(continued.id, '4bf92f3577b34da6a3ce929d0e0e4736')
    assert.equal(continued.startRoot('server').toJSON().parentId, '00f067aa0ba902b7')
  })

  test('past 2^24 spans the counter carries into the base, still 16 digits and distinct', () => {
    const trace = new Trace()
    const last = trace.spanIdOf(2 ** 24 - 1)
    const carried = trace.spanIdOf(2 ** 24)
    assert.match(carried, /^[0-9a-f]{16}$/)
    assert.equal(carried.slice(10), '000000')
    assert.notEqual(carried, trace.spanIdOf(0))
    assert.ok(carried > last || carried.startsWith('0000000000'), 'the sum wraps only at 64 bits')
  })

  test('attributes: none until written; toJSON copies them', () => {
    const span = new Trace().startRoot('root')
    assert.equal(span.attributesIfAny, undefined)
    assert.deepEqual(span.toJSON().attributes, {})
    span.attributes['db.hits'] = 1
    span.setAttribute('db.misses', 0)
    const json = span.toJSON()
    assert.deepEqual(json.attributes, { 'db.hits': 1, 'db.misses': 0 })
    json.attributes['db.hits'] = 2
    assert.equal(span.attributes['db.hits'], 1)
  })

  test('setAttributes: a copy of the object given, merged into any attributes already set', () => {
    const span = new Trace().startRoot('root')
    const shared = { 'db.system': 'redis', 'server.address': '127.0.0.1:6379' }
    span.setAttributes(shared).setAttributes({ 'db.operation.name': 'mget' })
    shared['db.system'] = 'changed'
    assert.deepEqual(span.attributes, {
      'db.system': 'redis',
      'server.address': '127.0.0.1:6379',
      'db.operation.name': 'mget',
    })
    const other = new Trace().startRoot('other')
    other.setAttributes(shared)
    span.setAttribute('db.system', 'memcached')
    assert.equal(other.attributes['db.system'], 'changed', 'spans never share an attributes object')
  })

  test('adoptAttributes: the object itself becomes the attributes of a span without any, or is merged into them', () => {
    const span = new Trace().startRoot('root')
    const fresh = { 'db.system': 'memcached', 'db.operation.name': 'get' }
    span.adoptAttributes(fresh).adoptAttributes({ 'memcache.hit': true })
    assert.equal(span.attributes, fresh)
    assert.deepEqual(span.toJSON().attributes, {
      'db.system': 'memcached',
      'db.operation.name': 'get',
      'memcache.hit': true,
    })
  })

  test('deferAttributes: worked out once, when the attributes are first read (a compacted trace too)', async () => {
    let computed = 0
    const trace = await record(async (s) => {
      s.span
        ?.child('redis.get', 'client')
        .adoptAttributes({ 'db.system': 'redis' })
        .deferAttributes(() => {
          computed += 1
          return { 'db.bytes_sent': 12 }
        })
        .finish('ok')
    })
    assert.equal(computed, 0, 'not while recording, nor when the trace ended')
    const kept = trace.compact()
    assert.deepEqual(kept.toJSON().spans[1]?.attributes, { 'db.system': 'redis', 'db.bytes_sent': 12 })
    assert.deepEqual(trace.spans[1]?.attributes, { 'db.system': 'redis', 'db.bytes_sent': 12 })
    assert.equal(computed, 1)
  })
})

describe('Trace.compact()', () => {
  test('holds the same spans as the live trace: ids, parents, kinds, statuses, errors, attributes', async () => {
    const trace = await record(async (s) => {
      s.span?.setAttribute('http.route', '/search')
      s.spawn('fails', async () => {
        await sleep(2)
        throw new Error('boom')
      })
      s.spawn('cancelled', () => sleep(10))
      await s.spawn('nested', () =>
        scope({ name: 'inner', kind: 'consumer' }, async (inner) => {
          inner.span?.setAttribute('shards', [1, 2]).setAttribute('db.system', 'redis')
          await inner.spawn('leaf', () => sleep(1))
        }),
      )
    })
    const compact = trace.compact()
    assert.ok(compact instanceof CompactTrace)
    assert.equal(compact.id, trace.id)
    assert.equal(compact.size, trace.spans.length)
    assert.deepEqual(compact.toJSON(), trace.toJSON())
    assert.deepEqual(JSON.parse(JSON.stringify(compact)), JSON.parse(JSON.stringify(trace)))
    assert.deepEqual(
      compact.toJSON().spans.map((span) => [span.name, span.kind, span.status]),
      [
        ['request', 'scope', 'error'],
        ['fails', 'task', 'error'],
        ['cancelled', 'task', 'cancelled'],
        ['nested', 'task', 'ok'],
        ['inner', 'consumer', 'ok'],
        ['leaf', 'task', 'ok'],
      ],
    )
  })

  test('a continued trace keeps its remote parent', () => {
    const trace = new Trace(undefined, '4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7')
    const root = trace.startRoot('GET /locate', 'server')
    root.child('lookup', 'client').finish('ok')
    root.finish('ok')
    const compact = trace.compact() as CompactTrace
    assert.equal(compact.remoteParentId, '00f067aa0ba902b7')
    assert.deepEqual(compact.toJSON(), trace.toJSON())
  })

  test('a trace with a span still open stays live: its end is still to come', () => {
    const trace = new Trace()
    const root = trace.startRoot('request')
    const open = root.child('never finished', 'client')
    root.finish('ok')
    assert.equal(trace.compact(), trace)
    open.finish('ok')
    assert.ok(trace.compact() instanceof CompactTrace)
  })
})

/** A span's fields, its parent by name: what a reader of `trace.spans` depends on. */
const fieldsOf = (span: Span) => ({
  name: span.name,
  kind: span.kind,
  parent: span.parent?.name,
  traceId: span.trace.id,
  serial: span.serial,
  spanId: span.spanId,
  start: span.start,
  end: span.end,
  status: span.status,
  error: span.error,
  attributes: span.attributesIfAny,
})

/** The fields of every span of `trace`, each span checked to belong to it. */
const fields = (trace: Trace) =>
  trace.spans.map((span) => {
    assert.equal(span.trace, trace)
    return fieldsOf(span)
  })

describe('a trace being recorded', () => {
  test('holds no span but its root: each read of `spans` makes new handles, equal to the spans the request used', () => {
    const trace = new Trace()
    const root = trace.startRoot('request')
    const task = root.child('task', 'task')
    const [first, second] = [trace.spans, trace.spans]
    assert.equal(first[0], root)
    assert.equal(trace.root, root)
    assert.notEqual(first[1], task)
    assert.notEqual(first[1], second[1])
    assert.deepEqual(fields(trace), [fieldsOf(root), fieldsOf(task)])
    task.finish('ok')
    assert.equal(trace.spans[1]?.status, 'ok', 'a read after an end sees it')
  })

  test('starts a child span at the time given, or now', async () => {
    await withVirtualClock(async (clock) => {
      const trace = new Trace()
      const root = trace.startRoot('request')
      const read = clock.now()
      await clock.advance(5)
      const given = root.child('redis.get', 'client', read)
      const now = root.child('task', 'task')
      assert.equal(given.start, read)
      assert.equal(now.start, read + 5)
      assert.equal(given.parent, root)
    })
  })

  test('lets go of a span the request is done with: only what it recorded stays', async () => {
    const trace = new Trace()
    const root = trace.startRoot('request')
    const call = new WeakRef(root.child('memcache.get', 'client').setAttribute('memcache.hit', true))
    call.deref()?.finish('ok')
    await nextTurn() // the job that made the WeakRef keeps its target alive until it ends
    collectGarbage()
    assert.equal(call.deref(), undefined)
    assert.deepEqual(
      trace.spans.map((span) => [span.name, span.status, span.attributesIfAny]),
      [
        ['request', 'unset', undefined],
        ['memcache.get', 'ok', { 'memcache.hit': true }],
      ],
    )
    root.finish('ok')
  })
})

describe('a trace that has ended', () => {
  test('its listener sees the live spans; afterwards `spans` reads the same spans back from the compact form', async () => {
    let seen: ReturnType<typeof fields> | undefined
    let live: readonly Span[] = []
    const traces: Trace[] = []
    await scope(
      {
        name: 'request',
        trace: (trace) => {
          seen = fields(trace)
          live = trace.spans
          traces.push(trace)
        },
      },
      async (s) => {
        s.span?.setAttribute('http.route', '/search')
        await s.spawn('lookup', async () => {
          startSpan('memcache.get', 'client', { 'memcache.hit': false })?.finish('error', new Error('down'))
        })
      },
    )
    const [trace] = traces as [Trace]
    assert.ok(trace.compact() instanceof CompactTrace, 'compacted as it ended')
    assert.deepEqual(fields(trace), seen)
    assert.equal(trace.spans[0], live[0], 'the root span is the one the request used')
    assert.notEqual(trace.spans[2], live[2], 'the other spans are read back, not held')
    assert.equal(trace.spans[2]?.parent, trace.spans[1])
    assert.equal(trace.root, trace.spans[0])
    assert.deepEqual(trace.toJSON(), { traceId: trace.id, spans: live.map((span) => span.toJSON()) })
  })

  test('a span opened after it ended joins it: the trace is recorded live again', async () => {
    const trace = new Trace()
    const root = trace.startRoot('request')
    const task = root.child('task', 'task')
    task.finish('ok')
    root.finish('ok')
    assert.ok(trace.compact() instanceof CompactTrace)
    const late = task.child('late batch', 'batch')
    late.finish('ok')
    assert.deepEqual(
      trace.spans.map((span) => [span.name, span.parent?.name, span.serial]),
      [
        ['request', undefined, 1],
        ['task', 'request', 2],
        ['late batch', 'task', 3],
      ],
    )
    assert.equal(trace.toJSON().spans[2]?.parentId, task.spanId)
    assert.ok(trace.compact() instanceof CompactTrace)
  })
})
