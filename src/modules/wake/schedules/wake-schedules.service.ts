import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, EntityManager, Repository } from 'typeorm';
import { DomainError, NotFoundError, ValidationError } from '@common/errors/domain-error';
import { parseSort } from '@common/list-query';
import { Page } from '@common/pagination';
import { WakeErrorCode } from '../wake.errors';
import { CreateWakeScheduleDto } from './dto/create-wake-schedule.dto';
import { ListWakeSchedulesQueryDto, SCHEDULE_SORT } from './dto/list-wake-schedules.query.dto';
import { UpdateWakeScheduleDto } from './dto/update-wake-schedule.dto';
import { WakeSchedule } from './wake-schedule.entity';
import { cronOf, nextRun } from './wake-schedule.rules';
import { checkVersion, VersionPrecondition } from '@common/etag/etag';

const NOT_NULL_FIELDS = ['groupId', 'days', 'time', 'cron', 'timezone', 'enabled'] as const;

/**
 * Wake schedules of client groups (table `wake_schedules`). The DTOs check each field (a bad cron, day, time or
 * zone is a 400 naming it); here: the two ways of saying when (`cron`, or `days` with `time`) exclude each other,
 * the group exists (404 naming `groupId`), and `nextRunAt` is computed from now whenever when, the zone or
 * `enabled` changes — so neither a new schedule nor one enabled again fires for a time already past.
 */
@Injectable()
export class WakeSchedulesService {
  constructor(
    @InjectRepository(WakeSchedule) private readonly schedules: Repository<WakeSchedule>,
    @InjectDataSource() private readonly ds: DataSource,
  ) {}

  async list(q: ListWakeSchedulesQueryDto): Promise<Page<WakeSchedule>> {
    const qb = this.schedules.createQueryBuilder('s');
    if (q.groupId !== undefined) qb.andWhere('s.group_id = :gid', { gid: q.groupId });
    if (q.enabled !== undefined) qb.andWhere('s.enabled = :en', { en: q.enabled });
    const sort = parseSort(q.sort, SCHEDULE_SORT) ?? { column: SCHEDULE_SORT.nextRunAt, direction: 'ASC' };
    qb.orderBy(sort.column, sort.direction, sort.direction === 'ASC' ? 'NULLS LAST' : 'NULLS FIRST')
      .addOrderBy('s.id', 'ASC')
      .take(q.limit)
      .skip(q.offset);
    const [items, total] = await qb.getManyAndCount();
    return { items, total };
  }

  async get(id: string): Promise<WakeSchedule> {
    const s = await this.schedules.findOne({ where: { id } });
    if (!s) throw new NotFoundError('wake schedule', id, WakeErrorCode.SCHEDULE_NOT_FOUND);
    return s;
  }

  async create(dto: CreateWakeScheduleDto, now = new Date()): Promise<WakeSchedule> {
    const cron = whenOf(dto, true)!;
    return this.ds.transaction(async (m) => {
      await groupExists(m, dto.groupId);
      const enabled = dto.enabled ?? true;
      return m.save(
        m.create(WakeSchedule, {
          groupId: dto.groupId,
          cron,
          timezone: dto.timezone,
          enabled,
          nextRunAt: enabled ? firstRun(cron, dto.timezone, now) : null,
        }),
      );
    });
  }

  /** Applies a patch; with `expected` (If-Match) only while the schedule is still at that version (412 otherwise). */
  async update(id: string, dto: UpdateWakeScheduleDto, expected?: VersionPrecondition, now = new Date()): Promise<WakeSchedule> {
    for (const f of NOT_NULL_FIELDS) {
      if (dto[f] === null) throw new ValidationError('FIELD_NOT_NULLABLE', `${f} may not be null`, { field: f });
    }
    const cron = whenOf(dto, false);
    return this.ds.transaction(async (m) => {
      const s = await m.findOne(WakeSchedule, { where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!s) throw new NotFoundError('wake schedule', id, WakeErrorCode.SCHEDULE_NOT_FOUND);
      checkVersion(expected, s.version, `wake schedule ${id}`);
      if (dto.groupId !== undefined && dto.groupId !== s.groupId) {
        await groupExists(m, dto.groupId);
        s.groupId = dto.groupId;
      }
      const retimed =
        (cron !== null && cron !== s.cron) || (dto.timezone !== undefined && dto.timezone !== s.timezone) || (dto.enabled === true && !s.enabled);
      if (cron !== null) s.cron = cron;
      if (dto.timezone !== undefined) s.timezone = dto.timezone;
      if (dto.enabled !== undefined) s.enabled = dto.enabled;
      if (!s.enabled) s.nextRunAt = null;
      else if (retimed || s.nextRunAt === null) s.nextRunAt = firstRun(s.cron, s.timezone, now);
      return m.save(s);
    });
  }

  async remove(id: string): Promise<void> {
    const r = await this.schedules.delete({ id });
    if (!r.affected) throw new NotFoundError('wake schedule', id, WakeErrorCode.SCHEDULE_NOT_FOUND);
  }
}

/**
 * The cron expression a body says (null when it says nothing about when, allowed in a patch): `cron`, or `days` and
 * `time` together — one of the two, each 400 naming the field at fault.
 */
function whenOf(dto: Pick<CreateWakeScheduleDto, 'cron' | 'days' | 'time'>, required: boolean): string | null {
  const simple = dto.days !== undefined || dto.time !== undefined;
  if (dto.cron !== undefined && simple) {
    throw invalid(dto.days !== undefined ? 'days' : 'time', 'give either cron, or days and time, not both');
  }
  if (dto.cron !== undefined) return dto.cron;
  if (simple) {
    if (dto.days === undefined) throw invalid('days', 'days is required with time (e.g. ["mon","tue","wed","thu","fri"])');
    if (dto.time === undefined) throw invalid('time', 'time is required with days (HH:MM, e.g. 07:45)');
    return cronOf(dto.days, dto.time);
  }
  if (required) throw invalid('cron', 'say when: cron, or days and time');
  return null;
}

/** The next run after `now`; a 400 naming `cron` when it has none in that zone (the DTO checked it in UTC). */
function firstRun(cron: string, timezone: string, now: Date): Date {
  try {
    return nextRun(cron, timezone, now);
  } catch {
    throw invalid('cron', `cron ${cron} never fires in ${timezone}`);
  }
}

function invalid(field: string, message: string): ValidationError {
  return new ValidationError(WakeErrorCode.SCHEDULE_INVALID, message, { field });
}

async function groupExists(m: EntityManager, groupId: string): Promise<void> {
  const rows: unknown[] = await m.query('SELECT 1 FROM client_groups WHERE id = $1 FOR KEY SHARE', [groupId]);
  if (!rows.length)
    throw new DomainError('not_found', WakeErrorCode.GROUP_NOT_FOUND, `groupId ${groupId} does not exist`, { field: 'groupId', id: groupId });
}
