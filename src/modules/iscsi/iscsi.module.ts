import { Logger, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { join } from 'node:path';
import { AppConfig } from '@config/config.loader';
import { IscsiExport } from './iscsi-export.entity';
import { IscsiExportsService } from './iscsi-exports.service';
import { IscsiController } from './iscsi.controller';
import { TgtAdmAdapter } from './tgt.adapter';
import { TgtExporter } from './tgt-exporter';
import { TgtdSupervisor } from './tgtd.supervisor';

const tgtLogger = () => new Logger('tgt');

/** Name of the tgtd pid file under `DLS_DATA_DIR`. */
export const TGTD_PID_FILE = 'tgtd.pid';

/** tgtadm bound to our tgtd's control port; one instance, so the supervisor and the exporter share its queue. */
export function createTgtAdapter(config: AppConfig): TgtAdmAdapter {
  return new TgtAdmAdapter({ controlPort: config.iscsi.controlPort, logger: tgtLogger() });
}

/**
 * Our own tgtd on the configured portal (NOP-In every 5 s, dropped after 3 misses), or an attached one. Its pid goes
 * to `<DLS_DATA_DIR>/tgtd.pid`, so a start after a crash of DLS replaces the tgtd the crashed run left behind.
 */
export function createTgtdSupervisor(config: AppConfig, adapter: TgtAdmAdapter): TgtdSupervisor {
  return new TgtdSupervisor({
    controlPort: config.iscsi.controlPort,
    portal: { address: config.iscsi.portalAddress, port: config.iscsi.portalPort },
    nopInterval: 5,
    nopCount: 3,
    adapter,
    attach: !config.iscsi.manageTgtd,
    pidFile: config.iscsi.manageTgtd ? join(config.dataDir, TGTD_PID_FILE) : undefined,
    logger: tgtLogger(),
  });
}

export function createTgtExporter(adapter: TgtAdmAdapter): TgtExporter {
  return new TgtExporter({ adapter, logger: tgtLogger() });
}

/**
 * iSCSI exports of client disks through a supervised (or attached) tgtd. Depends on no other feature module: whoever
 * destroys a client disk calls `IscsiExportsService.removeExport(clientId, { force: true })` first.
 */
@Module({
  imports: [TypeOrmModule.forFeature([IscsiExport])],
  controllers: [IscsiController],
  providers: [
    { provide: TgtAdmAdapter, inject: [AppConfig], useFactory: createTgtAdapter },
    { provide: TgtdSupervisor, inject: [AppConfig, TgtAdmAdapter], useFactory: createTgtdSupervisor },
    { provide: TgtExporter, inject: [TgtAdmAdapter], useFactory: createTgtExporter },
    IscsiExportsService,
  ],
  exports: [IscsiExportsService],
})
export class IscsiModule {}
