import { Inject, Injectable, Logger, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { AppConfig } from '@config/config.loader';
import { DirStorageDriver } from './dir.driver';
import { QemuImgAdapter } from './qemu-img.adapter';
import { SpaceGuard } from './space-guard';
import type { StorageDriver } from './storage-driver';
import { STORAGE_DRIVER } from './storage.tokens';
import { StorageReadiness } from './storage.readiness';
import { ZfsAdapter } from './zfs.adapter';
import { ZFS_FUSE_MAX_MOUNTS, ZfsStorageDriver } from './zfs.driver';

/** Picks the storage driver from config: `dir` (zero-setup default) or `zfs` (under DLS_ZFS_ROOT). */
export function createStorageDriver(config: AppConfig): StorageDriver {
  const logger = new Logger('Storage');
  if (config.storage.driver === 'zfs') {
    // zfs-fuse (its socket is the tell) mounts at most 1,000 filesystems per daemon and every client disk is one:
    // refuse new disks past the limit (507) instead of leaving half-mounted datasets behind.
    const zfsFuse = existsSync('/var/run/zfs/zfs_socket');
    return new ZfsStorageDriver(new ZfsAdapter({ logger }), {
      root: config.storage.zfsRoot!,
      logger,
      mountLimit: zfsFuse ? ZFS_FUSE_MAX_MOUNTS - 5 : undefined,
    });
  }
  return new DirStorageDriver({ root: config.storage.dirRoot, clone: config.storage.dirClone, logger });
}

/**
 * Brings the driver up before any module's bootstrap (the iSCSI module opens client disks in its own: overlay disks
 * must be mounted by then) and ends what it runs at shutdown (the overlay daemon). `init()` is idempotent; the
 * catalogue's start-up reconcile calls it again.
 */
@Injectable()
export class StorageLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(@Inject(STORAGE_DRIVER) private readonly driver: StorageDriver) {}

  async onModuleInit(): Promise<void> {
    if (this.driver.kind === 'dir') await this.driver.init(); // zfs: the catalogue's bootstrap is early enough
  }

  async onApplicationShutdown(): Promise<void> {
    await this.driver.close?.();
  }
}

/**
 * Storage as a driver: the active {@link StorageDriver} (zfs or plain directory), qemu-img, and the free-space guard.
 * No entities, repositories or controllers — the catalogue owns what is stored and calls this. Reports `storage` to
 * `/health/ready` through the health module's ReadinessRegistry.
 */
@Module({
  providers: [
    { provide: STORAGE_DRIVER, inject: [AppConfig], useFactory: createStorageDriver },
    { provide: QemuImgAdapter, useFactory: () => new QemuImgAdapter() },
    SpaceGuard,
    StorageReadiness,
    StorageLifecycle,
  ],
  exports: [STORAGE_DRIVER, QemuImgAdapter, SpaceGuard],
})
export class StorageModule {}
