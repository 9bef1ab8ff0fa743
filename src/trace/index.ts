export { type CriticalPath, type CriticalSegment, criticalPath } from './critical-path.ts'
export { exportToOpenTelemetry, openTelemetryListener } from './otel.ts'
export {
  type AttributeValue,
  CompactTrace,
  SPAN_KINDS,
  Span,
  type SpanData,
  type SpanKind,
  type SpanStatus,
  Trace,
  type TraceData,
  type TraceListener,
} from './span.ts'
export { parseTrace, type TraceInput } from './trace-data.ts'
export {
  formatTraceparent,
  parseTraceparent,
  TRACEPARENT_HEADER,
  type TraceParent,
} from './traceparent.ts'
export { configureTracing, type RemoteParent, startSpan, type TracingOptions } from './tracing.ts'
export {
  formatDuration,
  renderWaterfall,
  type WaterfallLayout,
  type WaterfallOptions,
  type WaterfallRow,
  waterfallLayout,
} from './waterfall.ts'
