export {
  type AttributeValue,
  Span,
  type SpanData,
  type SpanKind,
  type SpanStatus,
  Trace,
  type TraceData,
  type TraceListener,
} from './span.ts'
export { configureTracing, startSpan, type TracingOptions } from './tracing.ts'
