import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { Role } from '@common/auth/role';
import { ValidationError } from '@common/errors/domain-error';
import { EVENT_PUBLISHER, EventPublisher } from '../events';
import { AuditLog } from './audit-log.entity';
import { AuditErrorCode } from './audit.errors';
import { normalizeAddress, redactSecrets, storableText } from './audit.naming';
import { AUDIT_SORT, AuditLogDto, AuditLogPageDto, ListAuditQueryDto } from './dto/audit-log.dto';
import { parseSort, prefixPattern } from '@common/list-query';

/** One audit record. Only `action` and `entityType` are required. */
export interface AuditEntry {
  /** Stable dotted name, e.g. `clients.create`, `dhcp.lease-offered`, `boot-sessions.timeout` (≤ 64 chars). */
  action: string;
  /** e.g. `clients`, `boot-sessions`, `auth` (≤ 64 chars). */
  entityType: string;
  entityId?: string | null;
  /** The acting user; null/absent for anonymous callers and for the system (DHCP, timers). */
  userId?: string | null;
  username?: string | null;
  /** Free-form JSON; keys matching /password|secret|token/i are redacted before storage. */
  details?: Record<string, unknown> | null;
  /** Caller's IP address (IPv4-mapped IPv6 is stored as IPv4; anything not an IP is dropped). */
  remoteAddress?: string | null;
  /** HTTP status of the call, when there was one. */
  statusCode?: number | null;
}

/** Audited calls that change no record (sessions, stream tickets): no `change` event. */
const NOT_RECORD_CHANGES = new Set(['auth', 'events']);

const cut = (s: string | null | undefined, n = 64): string | null => (s == null ? null : storableText(String(s).slice(0, n)));

/**
 * The audit trail (table `audit_log`). The global AuditInterceptor records every mutating API call; non-HTTP code
 * (DHCP, boot-session timers) calls `record()` directly. Recording never throws: a failed insert is logged and
 * the caller's work goes on.
 */
@Injectable()
export class AuditService {
  private readonly logger = new Logger(AuditService.name);

  constructor(
    @InjectRepository(AuditLog) private readonly rows: Repository<AuditLog>,
    @Optional() @Inject(EVENT_PUBLISHER) private readonly events?: EventPublisher,
  ) {}

  /**
   * Appends one row (secrets redacted, fields bounded) and publishes an `audit` event (admin only; without details)
   * and, for a write that succeeded, a `change` event (every role: what changed, not who).
   * Resolves even when the insert fails (it is logged).
   */
  async record(entry: AuditEntry): Promise<void> {
    await this.recordMany([entry]);
  }

  /**
   * Appends several rows in one statement (one round trip and one commit for all of them, e.g. a burst of MACs the
   * DHCP server registered), then publishes each row's events as {@link record} does. Resolves even when the insert
   * fails (it is logged, naming the first entry and how many there were).
   */
  async recordMany(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    try {
      const rows = entries.map((entry) => ({
        action: cut(entry.action) ?? 'unknown',
        entityType: cut(entry.entityType) ?? 'unknown',
        entityId: cut(entry.entityId),
        userId: entry.userId ?? null,
        username: cut(entry.username),
        remoteAddress: normalizeAddress(entry.remoteAddress),
        statusCode: entry.statusCode ?? null,
        // jsonb: TypeORM's deep-partial insert type cannot express an open record, hence the cast.
        details: entry.details ? (redactSecrets(entry.details) as QueryDeepPartialEntity<Record<string, unknown>>) : null,
      }));
      await this.rows.insert(rows);
      for (const { userId: _, details: __, ...event } of rows) {
        this.events?.emit('audit', event, { minRole: Role.Admin });
        // Everyone's dashboard refreshes that kind of record; a refused request changed nothing, and logins, token
        // refreshes and stream tickets change no record anyone is shown.
        if ((event.statusCode == null || event.statusCode < 400) && !NOT_RECORD_CHANGES.has(event.entityType)) {
          this.events?.emit('change', { action: event.action, entityType: event.entityType, entityId: event.entityId });
        }
      }
    } catch (e) {
      const first = entries[0];
      const more = entries.length > 1 ? ` (and ${entries.length - 1} more)` : '';
      this.logger.error(
        `audit insert failed for ${first.action} ${first.entityType}/${first.entityId ?? '-'}${more}: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }

  /** Newest first, filtered; `from`/`to` and `statusMin`/`statusMax` are inclusive. */
  async list(q: ListAuditQueryDto): Promise<AuditLogPageDto> {
    const from = q.from ? new Date(q.from) : undefined;
    const to = q.to ? new Date(q.to) : undefined;
    if (from && to && from > to) throw new ValidationError(AuditErrorCode.INVALID_TIME_RANGE, 'from must not be after to');
    if (q.statusMin !== undefined && q.statusMax !== undefined && q.statusMin > q.statusMax) {
      throw new ValidationError(AuditErrorCode.INVALID_STATUS_RANGE, 'statusMin must not be above statusMax', { field: 'statusMin' });
    }
    const qb = this.rows.createQueryBuilder('a');
    if (q.entityType) qb.andWhere('a.entity_type = :et', { et: q.entityType });
    if (q.entityId) qb.andWhere('a.entity_id = :eid', { eid: q.entityId });
    if (q.userId) qb.andWhere('a.user_id = :uid', { uid: q.userId });
    if (q.action) qb.andWhere('a.action = :action', { action: q.action });
    if (from) qb.andWhere('a.at >= :from', { from });
    if (to) qb.andWhere('a.at <= :to', { to });
    if (q.statusMin !== undefined) qb.andWhere('a.status_code >= :smin', { smin: q.statusMin });
    if (q.statusMax !== undefined) qb.andWhere('a.status_code <= :smax', { smax: q.statusMax });
    if (q.q !== undefined) qb.andWhere('(a.action LIKE :qp OR a.username LIKE :qp)', { qp: prefixPattern(q.q) });
    const sort = parseSort(q.sort, AUDIT_SORT) ?? { column: AUDIT_SORT.at, direction: 'DESC' };
    qb.orderBy(sort.column, sort.direction, sort.direction === 'ASC' ? 'NULLS FIRST' : 'NULLS LAST')
      .addOrderBy('a.id', 'DESC')
      .take(q.limit)
      .skip(q.offset);
    const [rows, total] = await qb.getManyAndCount();
    return { items: rows.map(AuditLogDto.from), total };
  }
}
