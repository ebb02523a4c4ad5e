import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In } from 'typeorm';
import { DomainError, ValidationError } from '@common/errors/domain-error';
import { ClientDisksService } from '../disks/client-disks.service';
import { ClientGroupDirectory } from '../groups/client-group-directory';
import { ClientWakerRegistry } from './client-waker.registry';
import { Client } from './client.entity';
import { ClientErrorCode } from './clients.errors';
import { applyClientSearch } from './client-search';
import { ACTION_MAX_CLIENTS, ClientActionDto, ClientActionResponseDto, ClientActionResultDto } from './dto/client-action.dto';

/** One client that blocks a bulk action (nothing is written when there is any). */
export interface ClientActionProblem {
  clientId: string;
  hostname?: string;
  field?: string;
  code: string;
  message: string;
}

/**
 * `POST /clients/actions`: one action on a selection of up to {@link ACTION_MAX_CLIENTS} clients. Database changes
 * are made in one transaction, after every selected client was checked: any problem → 400 with the per-client list
 * and nothing written. Side effects (disk reset, disk removal, Wake-on-LAN) then run per client and are reported per client.
 */
@Injectable()
export class ClientActionsService {
  private readonly logger = new Logger(ClientActionsService.name);

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly disks: ClientDisksService,
    private readonly groups: ClientGroupDirectory,
    private readonly wakers: ClientWakerRegistry,
  ) {}

  async run(dto: ClientActionDto): Promise<ClientActionResponseDto> {
    this.checkShape(dto);
    const clients = await this.ds.transaction(async (m) => {
      const selected = await this.select(m, dto);
      await this.apply(m, dto, selected);
      return selected;
    });
    const results: ClientActionResultDto[] = [];
    if (dto.action === 'wake') {
      // One batch: the waker resolves every client's range at once and paces the packets.
      for (const r of await this.wakers.wake(clients))
        results.push({ clientId: r.clientId, hostname: r.hostname, status: r.status, code: r.code, message: r.message });
    } else {
      for (const c of clients) results.push(await this.sideEffect(dto, c));
    }
    // Deletion: each row went with its disk, under the disk's lock (no disk is made for it in between). A client whose
    // disk could not be taken down (reported failed; reconcile removes what is left) goes too, in one statement.
    if (dto.action === 'delete' && clients.length) await this.ds.getRepository(Client).delete({ id: In(clients.map((c) => c.id)) });
    return { action: dto.action, total: clients.length, failed: results.filter((r) => r.status === 'failed').length, results };
  }

  /** Exactly one selection; the action's parameters present and no others. */
  private checkShape(dto: ClientActionDto): void {
    const selections = [dto.ids !== undefined, dto.groupId !== undefined, dto.filter !== undefined].filter(Boolean).length;
    if (selections !== 1) throw invalid('selection', 'give exactly one selection: ids, groupId or filter');
    if (dto.filter && Object.values(dto.filter).every((v) => v === undefined)) throw invalid('filter', 'filter needs at least one condition');
    const params: Record<string, string[]> = {
      'assign-image': ['imageId', 'pinnedSnapshotId'],
      'assign-version': ['pinnedSnapshotId'],
      'move-to-group': ['targetGroupId'],
    };
    const allowed = params[dto.action] ?? [];
    for (const p of ['imageId', 'pinnedSnapshotId', 'targetGroupId'] as const) {
      if (dto[p] !== undefined && !allowed.includes(p)) throw invalid(p, `${p} does not apply to action ${dto.action}`);
    }
    if (dto.action === 'assign-image' && dto.imageId === undefined) throw invalid('imageId', 'assign-image needs imageId (null: inherit)');
    if (dto.action === 'assign-version' && dto.pinnedSnapshotId === undefined)
      throw invalid('pinnedSnapshotId', 'assign-version needs pinnedSnapshotId');
    if (dto.action === 'assign-image' && dto.pinnedSnapshotId && !dto.imageId) throw invalid('pinnedSnapshotId', 'a pin needs an imageId');
    if (dto.action === 'move-to-group' && dto.targetGroupId === undefined)
      throw invalid('targetGroupId', 'move-to-group needs targetGroupId (null: no group)');
  }

  /** The selected clients, locked for the transaction, in hostname order. */
  private async select(m: EntityManager, dto: ClientActionDto): Promise<Client[]> {
    const qb = m.createQueryBuilder(Client, 'c').setLock('pessimistic_write');
    if (dto.ids) {
      qb.andWhere('c.id IN (:...ids)', { ids: [...new Set(dto.ids)] });
    } else if (dto.groupId) {
      const g: unknown[] = await m.query('SELECT 1 FROM client_groups WHERE id = $1', [dto.groupId]);
      if (!g.length)
        throw new DomainError('not_found', ClientErrorCode.GROUP_NOT_FOUND, `groupId ${dto.groupId} does not exist`, { field: 'groupId' });
      qb.andWhere('c.group_id = :gid', { gid: dto.groupId });
    } else if (dto.filter) {
      const f = dto.filter;
      if (f.enabled !== undefined) qb.andWhere('c.enabled = :en', { en: f.enabled });
      if (f.pending !== undefined) qb.andWhere('c.pending = :pe', { pe: f.pending });
      if (f.imageId !== undefined) qb.andWhere('c.assigned_image_id = :img', { img: f.imageId });
      applyClientSearch(qb, 'c', f.q);
    }
    const rows = await qb
      .orderBy('c.hostname', 'ASC')
      .addOrderBy('c.id', 'ASC')
      .limit(ACTION_MAX_CLIENTS + 1)
      .getMany();
    if (rows.length > ACTION_MAX_CLIENTS) {
      throw new ValidationError(ClientErrorCode.SELECTION_TOO_LARGE, `the selection holds more than ${ACTION_MAX_CLIENTS} clients; narrow it`, {
        field: 'selection',
        max: ACTION_MAX_CLIENTS,
      });
    }
    if (dto.ids) {
      const found = new Set(rows.map((r) => r.id));
      const missing = [...new Set(dto.ids)].filter((id) => !found.has(id));
      if (missing.length) {
        throw problems(
          missing.map((id) => ({ clientId: id, field: 'ids', code: ClientErrorCode.CLIENT_NOT_FOUND, message: `client ${id} not found` })),
        );
      }
    }
    return rows;
  }

  /** Checks every client, then writes all changes (or throws, writing nothing). */
  private async apply(m: EntityManager, dto: ClientActionDto, clients: Client[]): Promise<void> {
    const ids = clients.map((c) => c.id);
    if (!ids.length) return;
    switch (dto.action) {
      case 'enable':
        await m.update(Client, { id: In(ids) }, { enabled: true, pending: false });
        return;
      case 'disable':
        await m.update(Client, { id: In(ids) }, { enabled: false });
        return;
      case 'reset-disk':
      case 'delete':
      case 'wake':
        return; // no row changes before the side effects; `run` deletes the rows after the disks
      case 'move-to-group': {
        if (dto.targetGroupId) {
          const g: unknown[] = await m.query('SELECT 1 FROM client_groups WHERE id = $1 FOR KEY SHARE', [dto.targetGroupId]);
          if (!g.length) throw notFound(ClientErrorCode.GROUP_NOT_FOUND, 'targetGroupId', dto.targetGroupId);
        }
        await m.update(Client, { id: In(ids) }, { groupId: dto.targetGroupId ?? null });
        return;
      }
      case 'assign-image': {
        if (dto.imageId) {
          const i: unknown[] = await m.query('SELECT 1 FROM images WHERE id = $1 FOR KEY SHARE', [dto.imageId]);
          if (!i.length) throw notFound(ClientErrorCode.ASSIGNED_IMAGE_NOT_FOUND, 'imageId', dto.imageId);
        }
        if (dto.pinnedSnapshotId) await this.versionOf(m, dto.pinnedSnapshotId, dto.imageId ?? null);
        await m.update(Client, { id: In(ids) }, { assignedImageId: dto.imageId ?? null, pinnedSnapshotId: dto.pinnedSnapshotId ?? null });
        return;
      }
      case 'assign-version': {
        if (dto.pinnedSnapshotId) {
          const imageId = await this.versionOf(m, dto.pinnedSnapshotId, undefined);
          const bad: ClientActionProblem[] = [];
          for (const c of clients) {
            const eff = await this.groups.effectiveOf(c);
            if (eff.imageId.value !== imageId) {
              bad.push({
                clientId: c.id,
                hostname: c.hostname,
                field: 'pinnedSnapshotId',
                code: ClientErrorCode.PINNED_VERSION_NOT_FOUND,
                message: `client ${c.hostname} does not boot the version's image`,
              });
            }
          }
          if (bad.length) throw problems(bad);
        }
        await m.update(Client, { id: In(ids) }, { pinnedSnapshotId: dto.pinnedSnapshotId ?? null });
        return;
      }
    }
  }

  /** The image of a version (404 when unknown); with `imageId` given, a 400 unless the version belongs to it. */
  private async versionOf(m: EntityManager, versionId: string, imageId: string | null | undefined): Promise<string> {
    const rows: { image_id: string }[] = await m.query('SELECT image_id FROM image_snapshots WHERE id = $1 FOR KEY SHARE', [versionId]);
    if (!rows.length) throw notFound(ClientErrorCode.PINNED_VERSION_NOT_FOUND, 'pinnedSnapshotId', versionId);
    if (imageId !== undefined && rows[0].image_id !== imageId) throw invalid('pinnedSnapshotId', 'pinnedSnapshotId must be a version of imageId');
    return rows[0].image_id;
  }

  private async sideEffect(dto: ClientActionDto, c: Client): Promise<ClientActionResultDto> {
    const ok: ClientActionResultDto = { clientId: c.id, hostname: c.hostname, status: 'ok' };
    try {
      if (dto.action === 'reset-disk') await this.disks.reset(c.id);
      if (dto.action === 'delete') await this.disks.destroy(c.id, () => this.ds.getRepository(Client).delete({ id: c.id }));
      return ok;
    } catch (err) {
      if (!(err instanceof DomainError)) this.logger.error(`bulk ${dto.action} of client ${c.hostname} failed`, err as Error);
      const e = err instanceof DomainError ? err : null;
      return { ...ok, status: 'failed', code: e?.code ?? 'INTERNAL', message: e?.message ?? 'unexpected error (see the server log)' };
    }
  }
}

function invalid(field: string, message: string): ValidationError {
  return new ValidationError(ClientErrorCode.BULK_ACTION_INVALID, message, { field });
}

function notFound(code: ClientErrorCode, field: string, id: string): DomainError {
  return new DomainError('not_found', code, `${field} ${id} does not exist`, { field, id });
}

function problems(list: ClientActionProblem[]): ValidationError {
  return new ValidationError(
    ClientErrorCode.BULK_ACTION_INVALID,
    `${list.length} selected client${list.length > 1 ? 's' : ''} block the action; nothing was written`,
    {
      clients: list,
    },
  );
}
