import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { AppConfig } from '@config/config.loader';
import { Image } from '../images/image.entity';
import { ImageSnapshot } from '../versions/image-snapshot.entity';
import { ClientDisk } from '../disks/client-disk.entity';
import { ImageContentService } from '../images/image-content.service';
import { STORAGE_DRIVER, storageCall } from '../../storage';
import type { ManagedItem, StorageDriver, StorageStatus } from '../../storage';

export interface ReconcileReport {
  /** In storage, tagged as ours, unknown to the database; and staging files no running upload or import owns. */
  orphans: ManagedItem[];
  /** In the database, absent from storage. */
  missing: { kind: ManagedItem['kind']; id: string; imageId?: string }[];
  removed: ManagedItem[];
}

/**
 * Storage as a whole: accounting for GET /storage and reconciliation of what DLS created in storage with the
 * database (at start and on request). Only items DLS tagged as its own are ever considered, and orphans are
 * removed only when asked.
 */
@Injectable()
export class StorageInventoryService implements OnApplicationBootstrap {
  private readonly logger = new Logger(StorageInventoryService.name);

  constructor(
    @Inject(STORAGE_DRIVER) private readonly driver: StorageDriver,
    @InjectRepository(Image) private readonly images: Repository<Image>,
    @InjectRepository(ImageSnapshot) private readonly versions: Repository<ImageSnapshot>,
    @InjectRepository(ClientDisk) private readonly disks: Repository<ClientDisk>,
    private readonly config: AppConfig,
    private readonly content: ImageContentService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await storageCall(() => this.driver.init());
    await this.content.recoverInterrupted();
    const s = await storageCall(() => this.driver.status());
    this.logger.log(`storage: ${s.driver} at ${s.root}, clone method ${s.cloneMethod}, ${s.freeBytes} bytes free`);
    if (s.cloneMethod === 'copy') {
      this.logger.warn(
        'client disks are FULL COPIES on this filesystem (no reflink/ZFS): set DLS_DIR_CLONE=overlay for O(1) qcow2 overlays, or use btrfs, xfs or the zfs driver',
      );
    }
    const r = await this.reconcile(false).catch((e) => {
      this.logger.error(`start-up reconcile failed: ${(e as Error).message}`);
      return null;
    });
    if (r && (r.orphans.length || r.missing.length)) {
      this.logger.warn(`reconcile: ${r.orphans.length} orphan(s), ${r.missing.length} missing item(s) — see POST /api/v1/storage/reconcile`);
    }
  }

  async status(): Promise<
    StorageStatus & {
      minFreeBytes: number;
      images: {
        id: string;
        name: string;
        sizeBytes: number;
        contentStatus: string;
        versions: { id: string; name: string; referencedBytes: number; usedBytes: number }[];
      }[];
      clientDisks: { clientId: string; imageId: string; versionId: string; writtenBytes: number }[];
    }
  > {
    const s = await storageCall(() => this.driver.status());
    const images = await this.images.find({ order: { name: 'ASC' } });
    const versions = await this.versions.find({ order: { createdAt: 'ASC' } });
    const imageViews = await Promise.all(
      images.map(async (img) => ({
        id: img.id,
        name: img.name,
        sizeBytes: await storageCall(() => this.driver.imageSizeBytes(img.id)).catch(() => 0),
        contentStatus: img.contentStatus,
        versions: await Promise.all(
          versions
            .filter((v) => v.imageId === img.id && v.storageRef)
            .map(async (v) => {
              const info = await storageCall(() => this.driver.versionInfo(img.id, v.id)).catch(() => null);
              return { id: v.id, name: v.name, referencedBytes: info?.referencedBytes ?? 0, usedBytes: info?.usedBytes ?? 0 };
            }),
        ),
      })),
    );
    const disks = await this.disks.find({ where: { state: 'ready' } });
    const written = new Map((await storageCall(() => this.driver.listClientDisks())).map((d) => [d.clientId, d.writtenBytes]));
    const diskViews = disks.map((d) => ({
      clientId: d.clientId,
      imageId: d.imageId,
      versionId: d.snapshotId,
      writtenBytes: written.get(d.clientId) ?? 0,
    }));
    return { ...s, minFreeBytes: this.config.storage.minFreeBytes, images: imageViews, clientDisks: diskViews };
  }

  async reconcile(removeOrphans: boolean): Promise<ReconcileReport> {
    const inventory = await storageCall(() => this.driver.inventory());
    const imageIds = new Set((await this.images.find({ select: { id: true } })).map((i) => i.id));
    const versionRows = await this.versions.find({ select: { id: true, imageId: true, storageRef: true } });
    const versionIds = new Set(versionRows.map((v) => v.id));
    const diskRows = await this.disks.find();
    const diskIds = new Set(diskRows.map((d) => d.clientId));

    const isOrphan: Record<ManagedItem['kind'], (it: ManagedItem) => boolean> = {
      image: (it) => !imageIds.has(it.imageId!),
      version: (it) => !versionIds.has(it.versionId!),
      'client-disk': (it) => !diskIds.has(it.clientId!),
      // An upload or import in this process owns its staging files while it runs; anything else is debris.
      staging: (it) => !this.content.isBusy(it.imageId!),
    };
    const orphans = inventory.filter((it) => isOrphan[it.kind](it));
    const haveVersions = new Set(inventory.filter((i) => i.kind === 'version').map((i) => i.versionId));
    const haveDisks = new Set(inventory.filter((i) => i.kind === 'client-disk').map((i) => i.clientId));
    const missing: ReconcileReport['missing'] = [
      ...versionRows.filter((v) => v.storageRef && !haveVersions.has(v.id)).map((v) => ({ kind: 'version' as const, id: v.id, imageId: v.imageId })),
      ...diskRows
        .filter((d) => d.state === 'ready' && !haveDisks.has(d.clientId))
        .map((d) => ({ kind: 'client-disk' as const, id: d.clientId, imageId: d.imageId })),
    ];
    const removed: ManagedItem[] = [];
    if (removeOrphans) {
      const order = { staging: 0, 'client-disk': 1, version: 2, image: 3 } as const;
      for (const it of [...orphans].sort((a, b) => order[a.kind] - order[b.kind])) {
        if (it.kind === 'staging' && this.content.isBusy(it.imageId!)) continue; // an upload started meanwhile
        await storageCall(() => this.driver.destroyManaged(it));
        removed.push(it);
        this.logger.warn(`reconcile removed orphan ${it.kind} ${it.ref}`);
      }
    }
    return { orphans, missing, removed };
  }
}
