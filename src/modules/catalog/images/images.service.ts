import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { IMAGE_ROW_LOCK_TIMEOUT, ImageContentService } from './image-content.service';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, EntityManager, Repository } from 'typeorm';
import { ConflictError, DomainError, NotFoundError, ValidationError } from '@common/errors/domain-error';
import { Page } from '@common/pagination';
import { checkVersion, VersionPrecondition } from '@common/etag/etag';
import { BootSession } from '../boot-sessions/boot-session.entity';
import { ImageSnapshot } from '../versions/image-snapshot.entity';
import { CreateImageDto } from './dto/create-image.dto';
import { IMAGE_SORT, ListImagesQueryDto } from './dto/list-images.query.dto';
import { parseSort, prefixPattern } from '@common/list-query';
import { UpdateImageDto } from './dto/update-image.dto';
import { Image } from './image.entity';
import { ImageErrorCode } from './images.errors';

/** Serialises parent changes so two concurrent updates cannot close a cycle between them. */
const PARENT_LOCK_KEY = 0x444c5301;
/** Fields that may be omitted on PATCH but never set to null. */
const NOT_NULL_FIELDS = ['name', 'sizeBytes', 'format', 'path', 'isTemplate'] as const;
/** How many client hostnames a "still in use" message names before summarising. */
/** Clients named in the message of a 409 … */
const NAMED_CLIENTS = 5;
/** … and listed in its `details.clients` (`details.count` says how many in all). */
const LISTED_CLIENTS = 50;

/**
 * Golden images: CRUD, filters, the parent/child (clone) relation and the rules that keep an image from being deleted
 * while clients, versions or open boot sessions depend on it.
 */
@Injectable()
export class ImagesService {
  constructor(
    @InjectRepository(Image) private readonly images: Repository<Image>,
    @InjectDataSource() private readonly ds: DataSource,
    private readonly content: ImageContentService,
  ) {}

  /** Images matching the filters, newest first. */
  async list(q: ListImagesQueryDto): Promise<Page<Image>> {
    const qb = this.images.createQueryBuilder('i');
    if (q.osType !== undefined) qb.andWhere('i.os_type = :osType', { osType: q.osType });
    if (q.isTemplate !== undefined) qb.andWhere('i.is_template = :isTemplate', { isTemplate: q.isTemplate });
    if (q.tag !== undefined) qb.andWhere('i.tags @> CAST(:tag AS jsonb)', { tag: JSON.stringify([q.tag]) });
    if (q.q !== undefined) qb.andWhere('lower(i.name) LIKE :qp', { qp: prefixPattern(q.q.toLowerCase()) });
    const sort = parseSort(q.sort, IMAGE_SORT) ?? { column: IMAGE_SORT.createdAt, direction: 'DESC' };
    qb.orderBy(sort.column, sort.direction, sort.direction === 'ASC' ? 'NULLS FIRST' : 'NULLS LAST')
      .addOrderBy('i.id', 'ASC')
      .take(q.limit)
      .skip(q.offset);
    const [items, total] = await qb.getManyAndCount();
    return { items, total };
  }

  /** The image, or IMAGE_NOT_FOUND. */
  async get(id: string): Promise<Image> {
    const image = await this.images.findOne({ where: { id } });
    if (!image) throw new NotFoundError('image', id, ImageErrorCode.IMAGE_NOT_FOUND);
    return image;
  }

  /** Direct children (clones) of an image. */
  async children(id: string, page: { limit: number; offset: number }): Promise<Page<Image>> {
    await this.get(id);
    const [items, total] = await this.images.findAndCount({
      where: { parentImageId: id },
      order: { createdAt: 'DESC', id: 'ASC' },
      take: page.limit,
      skip: page.offset,
    });
    return { items, total };
  }

  async create(dto: CreateImageDto, createdBy?: string | null): Promise<Image> {
    return this.ds.transaction(async (m) => {
      if (dto.parentImageId) await this.assertParentExists(m, dto.parentImageId);
      const id = randomUUID();
      const image = m.create(Image, {
        id,
        name: dto.name,
        description: dto.description ?? null,
        osType: dto.osType ?? null,
        sizeBytes: dto.sizeBytes,
        format: dto.format,
        path: dto.path ?? this.content.diskPathFor(id),
        defaultDiskPolicy: dto.defaultDiskPolicy ?? 'reset',
        bootKernel: dto.bootKernel ?? null,
        bootInitrd: dto.bootInitrd ?? null,
        bootCmdline: dto.bootCmdline ?? null,
        zfsDataset: dto.zfsDataset ?? null,
        tags: dto.tags ?? null,
        isTemplate: dto.isTemplate ?? false,
        parentImageId: dto.parentImageId ?? null,
        createdBy: createdBy ?? null,
      });
      return m.save(image);
    });
  }

  /** Applies a patch; with `expected` (If-Match) only while the image is still at that version (412 otherwise). */
  async update(id: string, dto: UpdateImageDto, expected?: VersionPrecondition): Promise<Image> {
    for (const f of NOT_NULL_FIELDS) {
      if (dto[f] === null) throw new ValidationError(ImageErrorCode.FIELD_NOT_NULLABLE, `${f} may not be null`, { field: f });
    }
    return this.ds.transaction(async (m) => {
      if (dto.parentImageId !== undefined && dto.parentImageId !== null) {
        await m.query('SELECT pg_advisory_xact_lock($1)', [PARENT_LOCK_KEY]);
      }
      const image = await m.findOne(Image, { where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!image) throw new NotFoundError('image', id, ImageErrorCode.IMAGE_NOT_FOUND);
      checkVersion(expected, image.version, `image ${id}`);
      if (dto.parentImageId !== undefined && dto.parentImageId !== null && dto.parentImageId !== image.parentImageId) {
        await this.assertParentExists(m, dto.parentImageId);
        await this.assertNoCycle(m, id, dto.parentImageId);
      }
      const patch: Partial<Image> = {};
      for (const key of Object.keys(dto) as (keyof UpdateImageDto)[]) {
        if (dto[key] !== undefined) (patch as Record<string, unknown>)[key] = dto[key];
      }
      m.merge(Image, image, patch);
      return m.save(image);
    });
  }

  /**
   * Deletes an image unless something depends on it: clients assigned to it, versions (snapshots) of it, or open boot
   * sessions, or an upload or import of its content running (409; `details`: `clients` assigned to it — `[{ id,
   * hostname }]`, at most 50 — their `count`, and the number of `versions` and `openSessions`). The image row is locked first, so a client being
   * assigned concurrently either is counted here or fails its foreign-key check afterwards — never silently
   * unassigned; a row lock that isn't granted within IMAGE_ROW_LOCK_TIMEOUT gives 409 too.
   */
  async remove(id: string): Promise<void> {
    // The content lock first (409 at once while an upload or import runs), then the transaction: never the other way
    // round, or a DELETE holding the row would wait for an upload whose last UPDATE waits for the row.
    await this.content.exclusive(id, 'delete', () => this.removeLocked(id));
  }

  private async removeLocked(id: string): Promise<void> {
    await this.ds.transaction(async (m) => {
      await m.query(`SET LOCAL lock_timeout = '${IMAGE_ROW_LOCK_TIMEOUT}'`);
      const image = await m.findOne(Image, { where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!image) throw new NotFoundError('image', id, ImageErrorCode.IMAGE_NOT_FOUND);
      // Sequential: one transaction is one connection, which runs one query at a time.
      const assigned = await m.query<{ id: string; hostname: string; total: string }[]>(
        'SELECT id, hostname, count(*) OVER () AS total FROM clients WHERE assigned_image_id = $1 ORDER BY hostname, id LIMIT $2',
        [id, LISTED_CLIENTS],
      );
      const clientCount = assigned.length ? Number(assigned[0].total) : 0;
      const named = assigned.slice(0, NAMED_CLIENTS);
      const versions = await m.count(ImageSnapshot, { where: { imageId: id } });
      const openSessions = await m
        .createQueryBuilder(BootSession, 's')
        .where('s.image_id = :id', { id })
        .andWhere(`s.status IN ('starting', 'booting', 'running')`)
        .getCount();
      const reasons: string[] = [];
      if (clientCount > 0) {
        const names = named.map((c) => c.hostname).join(', ');
        const more = clientCount > named.length ? ` and ${clientCount - named.length} more` : '';
        reasons.push(`image is assigned to ${plural(clientCount, 'client')}: ${names}${more}`);
      }
      if (openSessions > 0) reasons.push(`image has ${plural(openSessions, 'open boot session')}`);
      if (versions > 0) reasons.push(`image has ${plural(versions, 'version')}`);
      if (reasons.length) {
        const code = clientCount > 0 || openSessions > 0 ? ImageErrorCode.IMAGE_IN_USE : ImageErrorCode.IMAGE_HAS_VERSIONS;
        throw new ConflictError(code, reasons.join('; '), {
          clients: assigned.map((c) => ({ id: c.id, hostname: c.hostname })),
          count: clientCount,
          versions,
          openSessions,
        });
      }
      await this.content.removeStorage(id); // inside the transaction (and the content lock): if storage refuses, the row stays
      await m.delete(Image, { id });
    });
  }

  private async assertParentExists(m: EntityManager, parentId: string): Promise<void> {
    // FOR KEY SHARE keeps the parent from being deleted before this transaction commits.
    const rows: unknown[] = await m.query('SELECT 1 FROM images WHERE id = $1 FOR KEY SHARE', [parentId]);
    if (!rows.length) {
      throw new DomainError('not_found', ImageErrorCode.PARENT_IMAGE_NOT_FOUND, `parentImageId ${parentId} does not exist`, {
        field: 'parentImageId',
        id: parentId,
      });
    }
  }

  /** Rejects `parentId` when it is `id` itself or one of its descendants (walking parentId's ancestor chain). */
  private async assertNoCycle(m: EntityManager, id: string, parentId: string): Promise<void> {
    const chain: { id: string }[] = await m.query(
      `WITH RECURSIVE anc(id, parent_image_id, depth) AS (
         SELECT id, parent_image_id, 0 FROM images WHERE id = $1
         UNION ALL
         SELECT i.id, i.parent_image_id, a.depth + 1 FROM images i JOIN anc a ON i.id = a.parent_image_id WHERE a.depth < 10000
       ) SELECT id FROM anc ORDER BY depth`,
      [parentId],
    );
    if (chain.some((r) => r.id === id)) {
      throw new ValidationError(ImageErrorCode.PARENT_IMAGE_CYCLE, `parentImageId ${parentId} would make image ${id} its own ancestor`, {
        field: 'parentImageId',
      });
    }
  }
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
