/** Public surface of the metrics module. */
export { MetricsModule } from './metrics.module';
export { DlsMetrics } from './dls-metrics';
export type { DhcpMetricOutcome, DhcpMetricType, ScriptMetricOutcome } from './dls-metrics';
export { MetricsServer } from './metrics.server';
export { httpMetricsMiddleware } from './http-metrics.middleware';
