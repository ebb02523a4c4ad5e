import { Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { ReadinessRegistry } from './readiness.registry';

/** `/health/live` and `/health/ready`; global so every module can add its part to the {@link ReadinessRegistry}. */
@Global()
@Module({
  // Parts log their own state changes; terminus would log every failed probe of a monitor.
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [ReadinessRegistry],
  exports: [ReadinessRegistry],
})
export class HealthModule {}
