import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { ConflictError, NotFoundError, ValidationError } from '@common/errors/domain-error';
import { Client } from '../clients/client.entity';
import { Image } from '../images/image.entity';
import { ImageSnapshot } from './image-snapshot.entity';
import { ClientDisk } from '../disks/client-disk.entity';
import { ClientDisksService } from '../disks/client-disks.service';
import { KeyedLock } from '@common/concurrency/keyed-lock';
import { SpaceGuard, STORAGE_DRIVER, storageCall } from '../../storage';
import type { StorageDriver } from '../../storage';
import { VersionErrorCode } from './snapshots.errors';

/**
 * Image versions in storage (ZFS snapshots or read-only file copies) and the maintenance flow that turns a
 * maintenance client's writable clone into a new version. Row bookkeeping stays in SnapshotsService; this is
 * the part that touches storage, under a per-image lock.
 */
@Injectable()
export class ImageVersionsService {
  private readonly locks = new KeyedLock();

  constructor(
    @Inject(STORAGE_DRIVER) private readonly driver: StorageDriver,
    @InjectRepository(Image) private readonly images: Repository<Image>,
    @InjectRepository(ImageSnapshot) private readonly versions: Repository<ImageSnapshot>,
    @InjectRepository(Client) private readonly clients: Repository<Client>,
    @InjectRepository(ClientDisk) private readonly disks: Repository<ClientDisk>,
    private readonly clientDisks: ClientDisksService,
    private readonly space: SpaceGuard,
    private readonly ds: DataSource,
  ) {}

  /** Freezes the image's current content as the (already inserted) version row `snapshotId`. */
  async capture(imageId: string, snapshotId: string): Promise<ImageSnapshot> {
    return this.locks.run(imageId, async () => {
      const image = await this.images.findOne({ where: { id: imageId } });
      if (!image) throw new NotFoundError('image', imageId);
      if (image.contentStatus !== 'ready') {
        throw new ConflictError(VersionErrorCode.IMAGE_HAS_NO_CONTENT, `image ${image.name} has no content yet (status ${image.contentStatus})`);
      }
      await this.space.ensure(await this.space.cloneCost(imageId));
      const info = await storageCall(() => this.driver.createVersion(imageId, snapshotId));
      await this.versions.update({ id: snapshotId }, { storageRef: info.ref, sizeBytes: info.referencedBytes });
      return (await this.versions.findOne({ where: { id: snapshotId } }))!;
    });
  }

  /** Throws 409 naming the clients whose disks or pins depend on the version. */
  async assertRemovable(version: ImageSnapshot): Promise<void> {
    const disks = await this.clientDisks.dependentsOf(version.id);
    const pinned = (await this.clients.find({ where: { pinnedSnapshotId: version.id }, select: { hostname: true } })).map((c) => c.hostname);
    const names = [...new Set([...disks, ...pinned])].sort();
    if (names.length) {
      throw new ConflictError(
        VersionErrorCode.VERSION_IN_USE,
        `version ${version.name} is in use by ${names.length} client${names.length > 1 ? 's' : ''}: ${names.join(', ')}`,
        { clients: names },
      );
    }
  }

  /** Removes the version from storage (after `assertRemovable`). Idempotent. */
  async release(imageId: string, snapshotId: string): Promise<void> {
    await this.locks.run(imageId, () => storageCall(() => this.driver.destroyVersion(imageId, snapshotId)));
  }

  /** Makes `clientId` the image's maintenance client: its next boot gets a persistent writable clone of the newest version. */
  async startMaintenance(imageId: string, clientId: string): Promise<Image> {
    return this.ds.transaction(async (m) => {
      const image = await m.findOne(Image, { where: { id: imageId }, lock: { mode: 'pessimistic_write' } });
      if (!image) throw new NotFoundError('image', imageId);
      const client = await m.findOne(Client, { where: { id: clientId } });
      if (!client) throw new NotFoundError('client', clientId);
      if (client.assignedImageId !== imageId) {
        throw new ValidationError(VersionErrorCode.CLIENT_NOT_ON_IMAGE, `clientId: client ${client.hostname} is not assigned to image ${image.name}`);
      }
      if (image.maintenanceClientId && image.maintenanceClientId !== clientId) {
        throw new ConflictError(VersionErrorCode.MAINTENANCE_ACTIVE, `image ${image.name} already has an open maintenance session`);
      }
      if (!(await m.exists(ImageSnapshot, { where: { imageId } }))) {
        throw new ConflictError(VersionErrorCode.IMAGE_HAS_NO_CONTENT, `image ${image.name} has no version to maintain`);
      }
      await m.update(Image, { id: imageId }, { maintenanceClientId: clientId });
      return (await m.findOne(Image, { where: { id: imageId } }))!;
    });
  }

  /** Ends maintenance; the client goes back to its normal version and policy at its next boot (its disk is replaced then). */
  async stopMaintenance(imageId: string): Promise<Image> {
    const image = await this.images.findOne({ where: { id: imageId } });
    if (!image) throw new NotFoundError('image', imageId);
    if (!image.maintenanceClientId) throw new ConflictError(VersionErrorCode.NO_MAINTENANCE_CLIENT, `image ${image.name} has no maintenance client`);
    const clientId = image.maintenanceClientId;
    await this.images.update({ id: imageId }, { maintenanceClientId: null });
    await this.clientDisks.destroy(clientId).catch(() => undefined);
    return (await this.images.findOne({ where: { id: imageId } }))!;
  }

  /**
   * Turns the maintenance client's disk content into a new version (not published). The copy is crash-consistent:
   * shut the client down first for a clean file system.
   */
  async commit(imageId: string, name: string, description: string | null, createdBy: string | null): Promise<ImageSnapshot> {
    const image = await this.images.findOne({ where: { id: imageId } });
    if (!image) throw new NotFoundError('image', imageId);
    if (!image.maintenanceClientId) throw new ConflictError(VersionErrorCode.NO_MAINTENANCE_CLIENT, `image ${image.name} has no maintenance client`);
    const disk = await this.disks.findOne({ where: { clientId: image.maintenanceClientId } });
    if (!disk || disk.state !== 'ready' || !disk.isMaintenance) {
      throw new ConflictError(
        VersionErrorCode.MAINTENANCE_DISK_MISSING,
        `the maintenance client of image ${image.name} has no maintenance disk yet (boot it or PUT its disk first)`,
      );
    }
    if (await this.versions.exists({ where: { imageId, name } })) {
      throw new ConflictError('UNIQUE_VIOLATION', `this image already has a version named ${name}`);
    }
    const row = await this.locks.run(imageId, async () => {
      await this.space.ensure(await this.space.cloneCost(imageId));
      await storageCall(() => this.driver.commitClientDisk(disk.clientId, imageId));
      return this.versions.save(this.versions.create({ imageId, name, description, createdBy, isPublished: false }));
    });
    try {
      return await this.capture(imageId, row.id);
    } catch (e) {
      await this.versions.delete({ id: row.id });
      throw e;
    }
  }
}
