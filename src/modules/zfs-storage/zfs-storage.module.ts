import { Logger, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../../config/config.loader';
import { Client } from '../clients/client.entity';
import { Image } from '../images/image.entity';
import { ImageSnapshot } from '../snapshots/image-snapshot.entity';
import { ClientDisk } from './client-disk.entity';
import { ClientDiskHooks } from './client-disk-hooks';
import { ClientDisksService } from './client-disks.service';
import { DirStorageDriver } from './dir.driver';
import { ImageContentService } from './image-content.service';
import { ImageVersionsService } from './image-versions.service';
import { QemuImgAdapter } from './qemu-img.adapter';
import { SpaceGuard } from './space-guard';
import type { StorageDriver } from './storage-driver';
import { ClientDiskController, ImageContentController, StorageController } from './storage.controller';
import { StorageService } from './storage.service';
import { STORAGE_DRIVER } from './storage.tokens';
import { ZfsAdapter } from './zfs.adapter';
import { ZFS_FUSE_MAX_MOUNTS, ZfsStorageDriver } from './zfs.driver';
import { existsSync } from 'node:fs';

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
  return new DirStorageDriver({ root: config.storage.dirRoot });
}

@Module({
  imports: [TypeOrmModule.forFeature([Image, ImageSnapshot, Client, ClientDisk])],
  controllers: [StorageController, ImageContentController, ClientDiskController],
  providers: [
    { provide: STORAGE_DRIVER, inject: [AppConfig], useFactory: createStorageDriver },
    { provide: QemuImgAdapter, useFactory: () => new QemuImgAdapter() },
    ClientDiskHooks,
    SpaceGuard,
    StorageService,
    ClientDisksService,
    ImageContentService,
    ImageVersionsService,
  ],
  exports: [STORAGE_DRIVER, ClientDisksService, ImageVersionsService, ImageContentService, ClientDiskHooks, StorageService],
})
export class ZfsStorageModule {}
