import { Injectable, Optional } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, In, Repository } from 'typeorm';
import { ConflictError, NotFoundError, ValidationError } from '@common/errors/domain-error';
import { Page } from '@common/pagination';
import { checkVersion, VersionPrecondition } from '@common/etag/etag';
import { DlsMetrics } from '../../metrics/dls-metrics';
import { Client } from '../clients/client.entity';
import { ClientGroupDirectory } from '../groups/client-group-directory';
import { mayOpenSession, standingOf } from '../boot-policy/boot-policy';
import { BOOT_STAGES, BootFirmware, BootSession, BootStage, SessionStatus, STAGE_COLUMN, STAGE_PROPERTY } from './boot-session.entity';
import { assertTransition, INITIAL_STATUS, isFinal, OPEN_STATUSES } from './boot-session.state-machine';
import { BootSessionErrorCode } from './boot-sessions.errors';
import { ListBootSessionsQueryDto, SESSION_SORT } from './dto/list-boot-sessions.query.dto';
import { BOOT_TIME_BUCKETS, BootSessionStatsDto, BootSessionStatsQueryDto, MAX_STATS_RANGE_DAYS } from './dto/boot-session-stats.dto';
import { parseSort, prefixPattern } from '@common/list-query';

const DAY_MS = 24 * 3600_000;

/** Addresses the boot plane knows when it opens a session (both optional), and the stage that opened it. */
export interface OpenSessionOptions {
  clientIp?: string | null;
  bootServerIp?: string | null;
  /** The boot step seen as the session opens (stamped with the opening time). */
  stage?: Exclude<BootStage, 'running'>;
  /** How the firmware started this boot (a DHCP request opens the session). */
  firmware?: BootFirmware | null;
  /** DHCP handed the opening request a Secure Boot loader. */
  secureBoot?: boolean;
}

/**
 * Stages to stamp on a session (each only while its column is still null): `true` = now, a Date = that time (never
 * before an earlier stage of the session or its start: tgt's first-seen time of a login may come from a listing
 * taken a moment before the script's stamp was written).
 */
export type StageMarks = Partial<Record<BootStage, Date | true>>;

/** `SET` entries and parameters of an UPDATE that stamps `marks` (columns already set are kept). */
function stageUpdate(marks: StageMarks): { set: Record<string, () => string>; params: Record<string, Date> } {
  const set: Record<string, () => string> = {};
  const params: Record<string, Date> = {};
  BOOT_STAGES.forEach((stage, i) => {
    const mark = marks[stage];
    if (mark === undefined) return;
    const col = `"${STAGE_COLUMN[stage]}"`;
    if (mark === true) {
      set[STAGE_PROPERTY[stage]] = () => `COALESCE(${col}, now())`;
      return;
    }
    const param = `stage_${stage}`;
    params[param] = mark;
    const earlier = ['"started_at"', ...BOOT_STAGES.slice(0, i).map((e) => `"${STAGE_COLUMN[e]}"`)].join(', ');
    set[STAGE_PROPERTY[stage]] = () => `COALESCE(${col}, GREATEST(CAST(:${param} AS timestamptz), ${earlier}))`;
  });
  return { set, params };
}

/**
 * Boot sessions: one boot of one client, moved along the table in `boot-session.state-machine.ts`.
 *
 * Whether a session may open at all is the boot policy's call ({@link mayOpenSession}).
 *
 * Concurrency: `open` locks the client row, so two opens for one client run one after the other and the second sees
 * the first's session (and the partial unique index `uq_boot_sessions_open_per_client` backs that up);
 * `transition` locks the session row, so concurrent transitions cannot both pass the table check and the client's
 * boot_count is incremented exactly once per session.
 */
@Injectable()
export class BootSessionsService {
  constructor(
    @InjectRepository(BootSession) private readonly sessions: Repository<BootSession>,
    @InjectDataSource() private readonly ds: DataSource,
    private readonly groups: ClientGroupDirectory,
    @Optional() private readonly metrics?: DlsMetrics,
  ) {}

  /**
   * Opens a session for a client on its assigned image. 404 unknown client; 409 CLIENT_DISABLED,
   * CLIENT_HAS_NO_IMAGE, SESSION_ALREADY_OPEN (naming the open session).
   */
  async open(clientId: string, opts: OpenSessionOptions = {}): Promise<BootSession> {
    const s = await this.ds.transaction(async (m) => {
      const stored = await m.findOne(Client, { where: { id: clientId }, lock: { mode: 'pessimistic_write' } });
      if (!stored) throw new NotFoundError('client', clientId, BootSessionErrorCode.CLIENT_NOT_FOUND);
      const client = await this.groups.resolve(stored); // the image may come from the client's group
      const standing = standingOf(client);
      if (!mayOpenSession(standing)) {
        throw standing === 'no-image'
          ? new ConflictError(BootSessionErrorCode.CLIENT_HAS_NO_IMAGE, `client ${client.hostname} has no assigned image`, { clientId })
          : new ConflictError(BootSessionErrorCode.CLIENT_DISABLED, `client ${client.hostname} is ${standing}`, { clientId });
      }
      const open = await m.findOne(BootSession, { where: { clientId, status: In([...OPEN_STATUSES]) } });
      if (open) {
        throw new ConflictError(
          BootSessionErrorCode.SESSION_ALREADY_OPEN,
          `client ${client.hostname} already has an open boot session ${open.id} (${open.status})`,
          { clientId, sessionId: open.id, status: open.status },
        );
      }
      return m.save(
        m.create(BootSession, {
          clientId,
          imageId: client.assignedImageId!, // set: only a `bootable` client gets here
          status: INITIAL_STATUS,
          clientIp: opts.clientIp ?? null,
          bootServerIp: opts.bootServerIp ?? null,
          firmware: opts.firmware ?? null,
          secureBoot: opts.secureBoot ?? false,
          ...(opts.stage ? { [STAGE_PROPERTY[opts.stage]]: new Date() } : {}),
        }),
      );
    });
    this.metrics?.sessionEntered(s);
    return s;
  }

  /**
   * Moves a session to `status` (ILLEGAL_TRANSITION → 409 unless the table allows it). `error` needs an
   * `errorMessage`. Reaching `running` sets boot_time_seconds and, in the same transaction, increments the client's
   * boot_count and sets last_boot_at; reaching a final state sets ended_at. With `expected` (If-Match) only while the
   * session is still at that version (412 otherwise). Reaching `running` stamps `running_at`; `stages` stamps others
   * in the same UPDATE (see {@link StageMarks}).
   */
  async transition(
    id: string,
    status: SessionStatus,
    errorMessage?: string | null,
    expected?: VersionPrecondition,
    stages: StageMarks = {},
  ): Promise<BootSession> {
    if (status === 'error' && !errorMessage) {
      throw new ValidationError(BootSessionErrorCode.ERROR_MESSAGE_REQUIRED, 'errorMessage is required with status error', {
        field: 'errorMessage',
      });
    }
    if (status !== 'error' && errorMessage) {
      throw new ValidationError(BootSessionErrorCode.ERROR_MESSAGE_NOT_ALLOWED, 'errorMessage is only allowed with status error', {
        field: 'errorMessage',
      });
    }
    const moved = await this.ds.transaction(async (m) => {
      const s = await m.findOne(BootSession, { where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!s) throw new NotFoundError('boot session', id, BootSessionErrorCode.SESSION_NOT_FOUND);
      checkVersion(expected, s.version, `boot session ${id}`);
      assertTransition(s.status, status);
      const stamps = stageUpdate(status === 'running' ? { ...stages, running: true } : stages);
      const patch: Record<string, unknown> = { status, ...stamps.set };
      if (status === 'running') {
        patch.bootTimeSeconds = () => 'GREATEST(0, FLOOR(EXTRACT(EPOCH FROM (now() - "started_at"))))::integer';
        await m
          .createQueryBuilder()
          .update(Client)
          .set({ bootCount: () => '"boot_count" + 1', lastBootAt: () => 'now()' })
          .where('id = :id', { id: s.clientId })
          .execute();
      }
      if (isFinal(status)) patch.endedAt = () => 'now()';
      if (status === 'error') patch.errorMessage = errorMessage;
      await m.createQueryBuilder().update(BootSession).set(patch).where('id = :id', { id }).setParameters(stamps.params).execute();
      return m.findOneOrFail(BootSession, { where: { id } });
    });
    this.metrics?.sessionEntered(moved);
    return moved;
  }

  /**
   * Stamps stages on an open session without moving it (columns already set are kept; a closed session is left
   * alone). One UPDATE; for when no transition carries the stamp.
   */
  async markStages(id: string, stages: StageMarks): Promise<void> {
    const stamps = stageUpdate(stages);
    if (Object.keys(stamps.set).length === 0) return;
    await this.sessions
      .createQueryBuilder()
      .update(BootSession)
      .set(stamps.set)
      .where('id = :id', { id })
      .andWhere('status IN (:...open)', { open: [...OPEN_STATUSES] })
      .setParameters(stamps.params)
      .execute();
  }

  /** The client's open (starting/booting/running) session, or null. */
  async findOpenForClient(clientId: string): Promise<BootSession | null> {
    return this.sessions.findOne({ where: { clientId, status: In([...OPEN_STATUSES]) }, order: { startedAt: 'DESC' } });
  }

  /**
   * clientId → id of its open session (every client, or just `clientId`): the per-boot CHAP nonce the iSCSI module
   * asks for through its `OPEN_BOOT_SESSIONS` port.
   */
  async openSessionIds(clientId?: string): Promise<Map<string, string>> {
    const rows = await this.sessions.find({
      where: { status: In([...OPEN_STATUSES]), ...(clientId ? { clientId } : {}) },
      select: { id: true, clientId: true },
    });
    return new Map(rows.map((r) => [r.clientId, r.id]));
  }

  /** Every open (starting/booting/running) session: what the session monitor checks each pass. */
  async listOpen(): Promise<BootSession[]> {
    return this.sessions.find({ where: { status: In([...OPEN_STATUSES]) } });
  }

  /** Records that these sessions' iSCSI logins were seen at `at` (one UPDATE for all). */
  async markSeen(ids: string[], at: Date): Promise<void> {
    if (ids.length) await this.sessions.update({ id: In(ids) }, { lastSeenAt: at });
  }

  async get(id: string): Promise<BootSession> {
    const s = await this.sessions.findOne({ where: { id } });
    if (!s) throw new NotFoundError('boot session', id, BootSessionErrorCode.SESSION_NOT_FOUND);
    return s;
  }

  /** Sessions matching the filters, newest first. */
  async list(q: ListBootSessionsQueryDto): Promise<Page<BootSession>> {
    if (q.from && q.to && new Date(q.from) > new Date(q.to)) {
      throw new ValidationError(BootSessionErrorCode.INVALID_TIME_RANGE, 'from must not be after to', { field: 'from' });
    }
    const qb = this.sessions.createQueryBuilder('s');
    if (q.status) qb.andWhere('s.status = :status', { status: q.status });
    if (q.clientId) qb.andWhere('s.client_id = :clientId', { clientId: q.clientId });
    if (q.imageId) qb.andWhere('s.image_id = :imageId', { imageId: q.imageId });
    if (q.from) qb.andWhere('s.started_at >= :from', { from: new Date(q.from) });
    if (q.to) qb.andWhere('s.started_at < :to', { to: new Date(q.to) });
    if (q.q !== undefined) {
      qb.andWhere('s.client_id IN (SELECT c.id FROM clients c WHERE lower(c.hostname) LIKE :qp OR c.mac_address LIKE :qmac)', {
        qp: prefixPattern(q.q.toLowerCase()),
        qmac: prefixPattern(q.q.toLowerCase().replace(/-/g, ':')),
      });
    }
    const sort = parseSort(q.sort, SESSION_SORT) ?? { column: SESSION_SORT.startedAt, direction: 'DESC' };
    qb.orderBy(sort.column, sort.direction, sort.direction === 'ASC' ? 'NULLS FIRST' : 'NULLS LAST')
      .addOrderBy('s.id', 'ASC')
      .take(q.limit)
      .skip(q.offset);
    const [items, total] = await qb.getManyAndCount();
    return { items, total };
  }

  /**
   * Boot statistics of the window `from <= started_at < to` (defaults: the 24 hours before `to`, `to` = now): one
   * query. 400 INVALID_TIME_RANGE naming the field when `from` is after `to` or the window is longer than
   * {@link MAX_STATS_RANGE_DAYS} days.
   */
  async stats(q: BootSessionStatsQueryDto, nowMs = Date.now()): Promise<BootSessionStatsDto> {
    const to = q.to ? new Date(q.to) : new Date(nowMs);
    const from = q.from ? new Date(q.from) : new Date(to.getTime() - DAY_MS);
    if (from > to) {
      throw new ValidationError(BootSessionErrorCode.INVALID_TIME_RANGE, 'from must not be after to', { field: q.from ? 'from' : 'to' });
    }
    if (to.getTime() - from.getTime() > MAX_STATS_RANGE_DAYS * DAY_MS) {
      throw new ValidationError(BootSessionErrorCode.INVALID_TIME_RANGE, `from must be at most ${MAX_STATS_RANGE_DAYS} days before to`, {
        field: 'from',
      });
    }
    const ms = (a: string, b: string) => `percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM (${b} - ${a})) * 1000)`;
    const edges = [0, ...BOOT_TIME_BUCKETS];
    const buckets = edges.map((lo, i) =>
      i < BOOT_TIME_BUCKETS.length
        ? `count(*) FILTER (WHERE boot_time_seconds ${i === 0 ? '>=' : '>'} ${lo} AND boot_time_seconds <= ${BOOT_TIME_BUCKETS[i]})::int`
        : `count(*) FILTER (WHERE boot_time_seconds > ${lo})::int`,
    );
    const [r] = await this.ds.query<Record<string, number | null>[]>(
      `SELECT count(*)::int AS boots,
              (SELECT count(*)::int FROM boot_sessions WHERE status = 'running') AS running,
              count(*) FILTER (WHERE status = 'error')::int AS errors,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY boot_time_seconds) AS p50,
              percentile_cont(0.9) WITHIN GROUP (ORDER BY boot_time_seconds) AS p90,
              ARRAY[${buckets.join(', ')}] AS buckets,
              ${ms('dhcp_at', 'loader_at')} AS dhcp_to_loader,
              ${ms('loader_at', 'script_at')} AS loader_to_script,
              ${ms('script_at', 'iscsi_login_at')} AS script_to_iscsi,
              ${ms('iscsi_login_at', 'running_at')} AS iscsi_to_running,
              ${ms('started_at', 'running_at')} AS total
         FROM boot_sessions
        WHERE started_at >= $1 AND started_at < $2`,
      [from, to],
    );
    const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
    const round = (v: unknown): number | null => (v === null || v === undefined ? null : Math.round(Number(v)));
    const counts = (r.buckets as unknown as number[]).map(Number);
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      boots: Number(r.boots),
      running: Number(r.running),
      errors: Number(r.errors),
      bootTime: {
        p50: num(r.p50),
        p90: num(r.p90),
        buckets: counts.map((count, i) => ({ upToSeconds: i < BOOT_TIME_BUCKETS.length ? BOOT_TIME_BUCKETS[i] : null, count })),
      },
      stageMedians: {
        dhcpToLoaderMs: round(r.dhcp_to_loader),
        loaderToScriptMs: round(r.loader_to_script),
        scriptToIscsiMs: round(r.script_to_iscsi),
        iscsiToRunningMs: round(r.iscsi_to_running),
        totalMs: round(r.total),
      },
    };
  }

  /** Open sessions, newest first. */
  async active(page: { limit: number; offset: number }): Promise<Page<BootSession>> {
    const [items, total] = await this.sessions.findAndCount({
      where: { status: In([...OPEN_STATUSES]) },
      order: { startedAt: 'DESC', id: 'ASC' },
      take: page.limit,
      skip: page.offset,
    });
    return { items, total };
  }
}
