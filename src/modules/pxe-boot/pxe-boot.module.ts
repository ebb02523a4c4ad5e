import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CatalogModule } from '../catalog';
import { ClusterModule } from '../cluster';
import { IscsiExportsService, IscsiModule } from '../iscsi';
import { NetworkModule } from '../network';
import { BootPreparation } from './boot-preparation.service';
import { BootTokens } from './boot-trust/boot-tokens.service';
import { BootTrustService } from './boot-trust/boot-trust.service';
import { BootScriptController } from './boot-script.controller';
import { BootScriptService, SCRIPT_RATE_LIMITER } from './boot-script.service';
import { BootRateLimiter } from './boot-rate-limit';
import { BootCacheSubscriber } from './boot-cache.subscriber';
import { BootScriptFastPath } from './boot-script.http';
import { BootFilesService } from './boot-files/boot-files.service';
import { LeaseMemo } from './boot-trust/lease-memo';
import { AppConfig } from '@config/config.loader';
import { BootSessionTracker } from './boot-session-tracker';
import { DHCP_PROVIDERS, DhcpProvider, RANGE_BROADCASTER } from './dhcp';
import { DhcpLease } from './dhcp-lease.entity';
import { ISCSI_EXPORTS } from './iscsi-exports.port';
import { NEIGHBOUR_TABLE, NeighbourTable } from './neighbour-table';
import { RecentLogins } from './recent-logins';
import { RangeChangeSubscriber } from './range-change.subscriber';
import { SessionMonitor } from './session-monitor';
import { TftpProvider } from './tftp/tftp.provider';
import { RangeLeasesController } from './leases/range-leases.controller';
import { RangeLeasesService } from './leases/range-leases.service';
import { SignedLoaderFile } from './signed-loaders/signed-loader.entity';
import { SignedLoadersController } from './signed-loaders/signed-loaders.controller';
import { SignedLoadersService } from './signed-loaders/signed-loaders.service';

/**
 * The boot plane: DHCP/proxyDHCP (+ IPv6 RAs), TFTP for plain PXE ROMs, the iPXE script endpoints under `/boot`,
 * and the boot-session tracker + monitor that turn what those servers and tgt see into boot sessions.
 *
 * It owns the `dhcp_leases` and `signed_loader_files` (the operator's Secure Boot loaders) tables. What a MAC boots is the catalogue's boot policy; clients, disks and
 * sessions are changed through the catalogue's services; ranges come from the network module. Other modules get
 * one narrow port onto the DHCP sockets, {@link RANGE_BROADCASTER} (a broadcast on a range's interface: Wake-on-LAN).
 */
@Module({
  imports: [TypeOrmModule.forFeature([DhcpLease, SignedLoaderFile]), CatalogModule, ClusterModule, IscsiModule, NetworkModule],
  controllers: [BootScriptController, RangeLeasesController, SignedLoadersController],
  providers: [
    { provide: ISCSI_EXPORTS, useExisting: IscsiExportsService },
    { provide: NEIGHBOUR_TABLE, useFactory: () => new NeighbourTable() },
    { provide: SCRIPT_RATE_LIMITER, useFactory: (config: AppConfig) => new BootRateLimiter(config.bootRateLimit), inject: [AppConfig] },
    BootCacheSubscriber,
    BootScriptFastPath,
    BootFilesService,
    LeaseMemo,
    BootPreparation,
    BootTokens,
    BootTrustService,
    BootSessionTracker,
    RecentLogins,
    SessionMonitor,
    BootScriptService,
    TftpProvider,
    ...DHCP_PROVIDERS,
    { provide: RANGE_BROADCASTER, useExisting: DhcpProvider },
    RangeChangeSubscriber,
    RangeLeasesService,
    SignedLoadersService,
  ],
  exports: [BootSessionTracker, RANGE_BROADCASTER],
})
export class PxeBootModule {}
