import assert from 'node:assert/strict'
import { test } from 'node:test'
import { exportToOpenTelemetry, openTelemetryListener } from 'weft'
import { span } from './helpers.ts'

test('exportToOpenTelemetry() refuses what is not a trace', () => {
  assert.throws(() => exportToOpenTelemetry(null as never), {
    name: 'TypeError',
    message: 'exportToOpenTelemetry(): trace must be a Trace, a TraceData or an array of spans, got null',
  })
})

test('exportToOpenTelemetry() and openTelemetryListener() refuse what is not a tracer, at the call', () => {
  assert.throws(() => exportToOpenTelemetry([span('root', undefined, 0, 1)], {} as never), {
    name: 'TypeError',
    message: 'exportToOpenTelemetry(): tracer must be an OpenTelemetry Tracer, got an object',
  })
  assert.throws(() => openTelemetryListener('weft' as never), {
    name: 'TypeError',
    message: 'openTelemetryListener(): tracer must be an OpenTelemetry Tracer, got "weft"',
  })
})
