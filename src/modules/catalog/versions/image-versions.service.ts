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
import { ReplicationService } from '../../replication';

/** At most this many clients are named in a 409 (`details.count` says how many in all). */
export const LISTED_CLIENTS = 50;

/** The clients that use a version: the first {@link LISTED_CLIENTS} by hostname, and how many in all. */
export interface VersionUsers {
  clients: { id: string; hostname: string }[];
  count: number;
}

/** `pc-01, pc-02 and 3 more`. */
export function namesOf(users: VersionUsers): string {
  const more = users.count > users.clients.length ? ` and ${users.count - users.clients.length} more` : '';
  return users.clients.map((c) => c.hostname).join(', ') + more;
}

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
    private readonly replication: ReplicationService,
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
      // The sha256 other nodes check their copies against, computed in the background (it reads the whole version).
      await this.replication.noteMade(imageId, snapshotId);
      return (await this.versions.findOne({ where: { id: snapshotId } }))!;
    });
  }

  /**
   * The clients that use a version (at most {@link LISTED_CLIENTS}, by hostname, and how many in all): those whose
   * disk is a clone of it, those that pin it (themselves, or through their group while they boot the group's image —
   * the rule of `effective-settings.ts`), and with `published` those that boot the image's published version (its
   * image is theirs, their own or their group's, and nothing pins another version). One query.
   */
  async usersOf(version: ImageSnapshot, published: boolean): Promise<VersionUsers> {
    const rows = await this.ds.query<{ id: string; hostname: string; total: string }[]>(
      `WITH eff AS (
         SELECT c.id, c.hostname, COALESCE(c.assigned_image_id, g.image_id) AS image_id,
                COALESCE(c.pinned_snapshot_id,
                         CASE WHEN g.image_id IS NOT NULL AND g.image_id = COALESCE(c.assigned_image_id, g.image_id)
                              THEN g.pinned_snapshot_id END) AS pinned_id
           FROM clients c LEFT JOIN client_groups g ON g.id = c.group_id)
       SELECT e.id, e.hostname, count(*) OVER () AS total
         FROM eff e
        WHERE e.id IN (SELECT client_id FROM client_disks WHERE snapshot_id = $1)
           OR e.pinned_id = $1
           OR ($3 AND e.image_id = $2 AND e.pinned_id IS NULL)
        ORDER BY e.hostname, e.id
        LIMIT ${LISTED_CLIENTS}`,
      [version.id, version.imageId, published],
    );
    return { clients: rows.map((r) => ({ id: r.id, hostname: r.hostname })), count: rows.length ? Number(rows[0].total) : 0 };
  }

  /** Throws 409 VERSION_IN_USE naming the clients whose disks or pins depend on the version (`details`: {@link VersionUsers}). */
  async assertRemovable(version: ImageSnapshot): Promise<void> {
    const users = await this.usersOf(version, false);
    if (users.count) {
      throw new ConflictError(
        VersionErrorCode.VERSION_IN_USE,
        `version ${version.name} is in use by ${users.count} client${users.count > 1 ? 's' : ''}: ${namesOf(users)}`,
        { ...users },
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
