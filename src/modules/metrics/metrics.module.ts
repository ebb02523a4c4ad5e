import { Global, Module } from '@nestjs/common';
import { IscsiModule } from '../iscsi';
import { StorageModule } from '../storage';
import { DlsMetrics } from './dls-metrics';
import { MetricsServer } from './metrics.server';
import { ScrapeGauges } from './scrape-gauges';

/**
 * Prometheus metrics: the in-memory counters ({@link DlsMetrics}, global so the boot plane can count without
 * importing this module), the scrape-time gauges and the `/metrics` listener.
 */
@Global()
@Module({
  imports: [StorageModule, IscsiModule],
  providers: [{ provide: DlsMetrics, useFactory: () => new DlsMetrics() }, ScrapeGauges, MetricsServer],
  exports: [DlsMetrics],
})
export class MetricsModule {}
