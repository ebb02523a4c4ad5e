import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, EntityManager, Repository } from 'typeorm';
import { ConflictError, DomainError, NotFoundError, ValidationError } from '@common/errors/domain-error';
import { isUniqueViolation } from '@common/errors/pg-errors';
import { Page } from '@common/pagination';
import { parseSort, prefixPattern } from '@common/list-query';
import { GROUP_SORT, ListClientGroupsQueryDto } from './dto/list-client-groups.query.dto';
import { Client } from '../clients/client.entity';
import { ClientGroup } from './client-group.entity';
import { ClientGroupErrorCode } from './client-groups.errors';
import { CreateClientGroupDto } from './dto/create-client-group.dto';
import { UpdateClientGroupDto } from './dto/update-client-group.dto';

const NAMED_CLIENTS = 10;

/**
 * Client groups: shared boot settings. Members inherit each setting they leave null (see `effective-settings.ts`);
 * the boot policy reads groups through {@link ClientGroupDirectory}, which every write here refreshes (subscriber).
 * A group's disk consequences need no step here: a member's disk is re-cloned at its next boot when the version it
 * should boot changed, exactly as after a change of the client's own image.
 */
@Injectable()
export class ClientGroupsService {
  constructor(
    @InjectRepository(ClientGroup) private readonly groups: Repository<ClientGroup>,
    @InjectDataSource() private readonly ds: DataSource,
  ) {}

  async list(q: ListClientGroupsQueryDto): Promise<Page<ClientGroup>> {
    const qb = this.groups.createQueryBuilder('g');
    if (q.q !== undefined) qb.andWhere('lower(g.name) LIKE :qp', { qp: prefixPattern(q.q.toLowerCase()) });
    const sort = parseSort(q.sort, GROUP_SORT) ?? { column: GROUP_SORT.name, direction: 'ASC' };
    qb.orderBy(sort.column, sort.direction).addOrderBy('g.id', 'ASC').take(q.limit).skip(q.offset);
    const [items, total] = await qb.getManyAndCount();
    return { items, total };
  }

  async get(id: string): Promise<ClientGroup> {
    const g = await this.groups.findOne({ where: { id } });
    if (!g) throw new NotFoundError('client group', id, ClientGroupErrorCode.GROUP_NOT_FOUND);
    return g;
  }

  /** 409 GROUP_NAME_TAKEN / RANGE_HAS_DEFAULT_GROUP; 404 for an unknown image, version or range. */
  async create(dto: CreateClientGroupDto): Promise<ClientGroup> {
    return uniqueAs409(
      this.ds.transaction(async (m) => {
        const fields = this.fields(dto);
        await this.check(m, fields);
        return m.save(m.create(ClientGroup, fields));
      }),
    );
  }

  async update(id: string, dto: UpdateClientGroupDto): Promise<ClientGroup> {
    if (dto.name === null) throw new ValidationError('FIELD_NOT_NULLABLE', 'name may not be null', { field: 'name' });
    return uniqueAs409(
      this.ds.transaction(async (m) => {
        const g = await m.findOne(ClientGroup, { where: { id }, lock: { mode: 'pessimistic_write' } });
        if (!g) throw new NotFoundError('client group', id, ClientGroupErrorCode.GROUP_NOT_FOUND);
        const patch: Partial<ClientGroup> = {};
        for (const [k, v] of Object.entries(dto)) if (v !== undefined) (patch as Record<string, unknown>)[k] = v;
        // Another image: a pin of the old image no longer means anything.
        if (patch.imageId !== undefined && patch.imageId !== g.imageId && patch.pinnedSnapshotId === undefined) patch.pinnedSnapshotId = null;
        m.merge(ClientGroup, g, patch);
        await this.check(m, g, id);
        return m.save(g);
      }),
    );
  }

  /** 409 GROUP_IN_USE (naming members) while clients belong to it: move or delete them first. */
  async remove(id: string): Promise<void> {
    await this.ds.transaction(async (m) => {
      const g = await m.findOne(ClientGroup, { where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!g) throw new NotFoundError('client group', id, ClientGroupErrorCode.GROUP_NOT_FOUND);
      const n = await m.count(Client, { where: { groupId: id } });
      if (n > 0) {
        const named = await m.find(Client, { where: { groupId: id }, select: { hostname: true }, order: { hostname: 'ASC' }, take: NAMED_CLIENTS });
        const names = named.map((c) => c.hostname);
        throw new ConflictError(
          ClientGroupErrorCode.GROUP_IN_USE,
          `group ${g.name} still has ${n} client${n > 1 ? 's' : ''}: ${names.join(', ')}${n > names.length ? ', …' : ''}`,
          { clientCount: n, clients: names },
        );
      }
      await m.delete(ClientGroup, { id });
    });
  }

  private fields(dto: CreateClientGroupDto): Partial<ClientGroup> {
    return {
      name: dto.name,
      description: dto.description ?? null,
      imageId: dto.imageId ?? null,
      pinnedSnapshotId: dto.pinnedSnapshotId ?? null,
      diskPolicy: dto.diskPolicy ?? null,
      bootLoader: dto.bootLoader ?? null,
      bootParams: dto.bootParams ?? null,
      defaultForRangeId: dto.defaultForRangeId ?? null,
    };
  }

  /** Referenced rows exist (locked against deletion) and the pin is a version of the group's image. */
  private async check(m: EntityManager, g: Partial<ClientGroup>, selfId?: string): Promise<void> {
    if (g.imageId) {
      const rows: unknown[] = await m.query('SELECT 1 FROM images WHERE id = $1 FOR KEY SHARE', [g.imageId]);
      if (!rows.length) throw notFound(ClientGroupErrorCode.IMAGE_NOT_FOUND, 'imageId', g.imageId);
    }
    if (g.pinnedSnapshotId) {
      const rows: { image_id: string }[] = await m.query('SELECT image_id FROM image_snapshots WHERE id = $1 FOR KEY SHARE', [g.pinnedSnapshotId]);
      if (!rows.length) throw notFound(ClientGroupErrorCode.PINNED_VERSION_NOT_FOUND, 'pinnedSnapshotId', g.pinnedSnapshotId);
      if (rows[0].image_id !== g.imageId) {
        throw new ValidationError(ClientGroupErrorCode.PINNED_VERSION_NOT_FOUND, "pinnedSnapshotId must be a version of the group's imageId", {
          field: 'pinnedSnapshotId',
        });
      }
    }
    if (g.defaultForRangeId) {
      const rows: unknown[] = await m.query('SELECT 1 FROM network_ranges WHERE id = $1 FOR KEY SHARE', [g.defaultForRangeId]);
      if (!rows.length) throw notFound(ClientGroupErrorCode.RANGE_NOT_FOUND, 'defaultForRangeId', g.defaultForRangeId);
      const other: { name: string }[] = await m.query(
        'SELECT name FROM client_groups WHERE default_for_range_id = $1 AND ($2::uuid IS NULL OR id <> $2::uuid)',
        [g.defaultForRangeId, selfId ?? null],
      );
      if (other.length) throw rangeTaken(other[0].name);
    }
  }
}

function notFound(code: ClientGroupErrorCode, field: string, id: string): DomainError {
  return new DomainError('not_found', code, `${field} ${id} does not exist`, { field, id });
}

function rangeTaken(holder?: string): ConflictError {
  return new ConflictError(
    ClientGroupErrorCode.RANGE_HAS_DEFAULT_GROUP,
    `the network range already has a default group${holder ? ` (${holder})` : ''}`,
    { field: 'defaultForRangeId' },
  );
}

/** Concurrent writers: the unique constraints' verdicts, as the same 409s. */
async function uniqueAs409<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (isUniqueViolation(err, 'client_groups_name_key')) {
      throw new ConflictError(ClientGroupErrorCode.GROUP_NAME_TAKEN, 'a client group with that name already exists', { field: 'name' });
    }
    if (isUniqueViolation(err, 'client_groups_default_for_range_id_key')) throw rangeTaken();
    throw err;
  }
}
