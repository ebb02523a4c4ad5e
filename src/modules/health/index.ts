/** Public surface of the health module: other modules register their readiness parts here. */
export { HealthModule } from './health.module';
export { ReadinessRegistry, READINESS_CHECK_TIMEOUT_MS } from './readiness.registry';
export type { ReadinessCheck, ReadinessState } from './readiness.registry';
