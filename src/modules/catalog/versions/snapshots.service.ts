import { Inject, Injectable, Optional } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, EntityManager, Repository } from 'typeorm';
import { ConflictError, NotFoundError } from '@common/errors/domain-error';
import { Page } from '@common/pagination';
import { EVENT_PUBLISHER, EventPublisher } from '../../events';
import { CreateSnapshotDto } from './dto/create-snapshot.dto';
import { ImageSnapshot } from './image-snapshot.entity';
import { SnapshotErrorCode } from './snapshots.errors';
import { ImageVersionsService, namesOf } from './image-versions.service';

/**
 * Image versions: rows here, the real snapshots through ImageVersionsService (storage). Publishing is a pure
 * database switch — at most one published version per image (partial unique index `uq_image_snapshots_published`).
 */
@Injectable()
export class SnapshotsService {
  constructor(
    @InjectRepository(ImageSnapshot) private readonly snapshots: Repository<ImageSnapshot>,
    @InjectDataSource() private readonly ds: DataSource,
    private readonly storage: ImageVersionsService,
    @Optional() @Inject(EVENT_PUBLISHER) private readonly events?: EventPublisher,
  ) {}

  /** Versions of an image, newest first. IMAGE_NOT_FOUND when the image does not exist. */
  async list(imageId: string, page: { limit: number; offset: number }): Promise<Page<ImageSnapshot>> {
    await this.assertImage(this.ds.manager, imageId);
    const [items, total] = await this.snapshots.findAndCount({
      where: { imageId },
      order: { createdAt: 'DESC', id: 'ASC' },
      take: page.limit,
      skip: page.offset,
    });
    return { items, total };
  }

  /** One version of an image; SNAPSHOT_NOT_FOUND also when it belongs to another image. */
  async get(imageId: string, snapshotId: string): Promise<ImageSnapshot> {
    const s = await this.snapshots.findOne({ where: { id: snapshotId, imageId } });
    if (!s) {
      await this.assertImage(this.ds.manager, imageId);
      throw new NotFoundError('version', snapshotId, SnapshotErrorCode.SNAPSHOT_NOT_FOUND);
    }
    return s;
  }

  /**
   * Takes a new (unpublished) version: the row first, then the real snapshot in storage; if storage fails the row
   * is removed again. A duplicate name for the image → 409; an image without content → 409.
   */
  async create(imageId: string, dto: CreateSnapshotDto, createdBy?: string | null): Promise<ImageSnapshot> {
    const row = await this.insert(imageId, dto, createdBy);
    try {
      return await this.storage.capture(imageId, row.id);
    } catch (e) {
      await this.snapshots.delete({ id: row.id });
      throw e;
    }
  }

  private async insert(imageId: string, dto: CreateSnapshotDto, createdBy?: string | null): Promise<ImageSnapshot> {
    return this.ds.transaction(async (m) => {
      await this.assertImage(m, imageId, 'FOR KEY SHARE');
      return m.save(
        m.create(ImageSnapshot, {
          imageId,
          name: dto.name,
          description: dto.description ?? null,
          createdBy: createdBy ?? null,
        }),
      );
    });
  }

  /**
   * Makes this version the published one, in one transaction: the image row is locked (publishes of one image run one
   * at a time), the current one is unpublished, this one published. Publishing the published version is a no-op.
   */
  async publish(imageId: string, snapshotId: string): Promise<ImageSnapshot> {
    let changed = false;
    const published = await this.ds.transaction(async (m) => {
      await this.assertImage(m, imageId, 'FOR UPDATE');
      const s = await m.findOne(ImageSnapshot, { where: { id: snapshotId, imageId }, lock: { mode: 'pessimistic_write' } });
      if (!s) throw new NotFoundError('version', snapshotId, SnapshotErrorCode.SNAPSHOT_NOT_FOUND);
      if (s.isPublished) return s;
      await m.update(ImageSnapshot, { imageId, isPublished: true }, { isPublished: false, publishedAt: null });
      s.isPublished = true;
      s.publishedAt = new Date();
      await m.update(ImageSnapshot, { id: s.id }, { isPublished: true, publishedAt: s.publishedAt });
      changed = true;
      return s;
    });
    if (changed) this.events?.emit('version.published', { imageId, versionId: published.id, name: published.name });
    return published;
  }

  /**
   * Deletes a version; the published one cannot be deleted (PUBLISHED_VERSION → 409), nor one that client disks or
   * pins depend on (VERSION_IN_USE → 409). Both name the clients that use it in `details` (`clients: [{ id,
   * hostname }]`, at most 50, and `count`). Storage first, then the row.
   */
  async remove(imageId: string, snapshotId: string): Promise<ImageSnapshot> {
    const s = await this.removable(imageId, snapshotId);
    await this.storage.assertRemovable(s);
    if (s.storageRef) await this.storage.release(imageId, s.id);
    await this.snapshots.delete({ id: s.id });
    return s;
  }

  private async removable(imageId: string, snapshotId: string): Promise<ImageSnapshot> {
    return this.ds.transaction(async (m) => {
      await this.assertImage(m, imageId, 'FOR UPDATE');
      const s = await m.findOne(ImageSnapshot, { where: { id: snapshotId, imageId }, lock: { mode: 'pessimistic_write' } });
      if (!s) throw new NotFoundError('version', snapshotId, SnapshotErrorCode.SNAPSHOT_NOT_FOUND);
      if (s.isPublished) {
        const users = await this.storage.usersOf(s, true);
        const using = users.count ? ` (${users.count} client${users.count > 1 ? 's' : ''} boot it: ${namesOf(users)})` : '';
        throw new ConflictError(
          SnapshotErrorCode.PUBLISHED_VERSION,
          `version "${s.name}" is the published version of this image${using}; publish another version first`,
          { snapshotId, ...users },
        );
      }
      return s;
    });
  }

  private async assertImage(m: EntityManager, imageId: string, lock?: 'FOR UPDATE' | 'FOR KEY SHARE'): Promise<void> {
    const rows: unknown[] = await m.query(`SELECT 1 FROM images WHERE id = $1 ${lock ?? ''}`, [imageId]);
    if (!rows.length) throw new NotFoundError('image', imageId, SnapshotErrorCode.IMAGE_NOT_FOUND);
  }
}
