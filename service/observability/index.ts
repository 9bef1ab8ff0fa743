/**
 * What the search server adds to be observed: its logs (logging.ts), its metrics (metrics.ts). Its
 * traces are weft's own, exported by otlp.ts when an OpenTelemetry collector is configured.
 */
import type { FastifyInstance } from 'fastify'
import type { Backends } from '../backend-calls.ts'
import { metricsRoutes, type ServiceMetrics } from './metrics.ts'

export { fastifyLogging, OneLinePerRequest, serviceLogger } from './logging.ts'
export { type MetricsSources, ServiceMetrics } from './metrics.ts'

/** Options of {@link observe}. */
export interface ObserveOptions {
  /** The metrics to feed and serve at `/metrics`; false for none. */
  metrics: ServiceMetrics | false
}

/** Adds the metrics to `app`, and returns `backends` with their calls measured. */
export function observe(app: FastifyInstance, backends: Backends, options: ObserveOptions): Backends {
  if (options.metrics === false) return backends
  metricsRoutes(app, options.metrics)
  return options.metrics.instrument(backends)
}
