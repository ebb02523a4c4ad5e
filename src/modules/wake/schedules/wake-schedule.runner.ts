import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { InjectDataSource } from '@nestjs/typeorm';
import { CronJob } from 'cron';
import { DataSource } from 'typeorm';
import { DomainError } from '@common/errors/domain-error';
import { AppConfig } from '@config/config.loader';
import { AuditService } from '../../audit';
import { WakeService } from '../wake.service';
import { WakeSchedule } from './wake-schedule.entity';
import { nextRun } from './wake-schedule.rules';

/** Taken (try-lock, transaction-scoped) by the node that claims due runs; the others skip that tick. */
const RUN_LOCK_SQL = `SELECT pg_try_advisory_xact_lock(hashtext('dls:wake-schedules:run')) AS locked`;
/** How often each node looks for due schedules (schedules have minute resolution; a run is at most this late). */
export const WAKE_TICK_CRON = '*/20 * * * * *';
/** Name of the tick in @nestjs/schedule's registry. */
export const WAKE_TICK_JOB = 'wake-schedules';
/** How long shutdown waits for a run in progress (its packets are paced). */
const DRAIN_TIMEOUT_MS = 15_000;

/** One schedule a run fired (or skipped as missed). */
export interface WakeRunEntry {
  scheduleId: string;
  groupId: string;
  scheduledFor: Date;
  total?: number;
  failed?: number;
  error?: string;
}

/** What one call of {@link WakeScheduleRunner.runDue} did. */
export interface WakeRunReport {
  /** False: another node (or call) held the run lock and claims this tick's runs. */
  locked: boolean;
  fired: WakeRunEntry[];
  missed: WakeRunEntry[];
}

/**
 * Fires due wake schedules, once, on one node. Every `WAKE_TICK_CRON` (with `DLS_WOL_SCHEDULES`, the default) each
 * node calls {@link runDue}: in one transaction it takes a PostgreSQL advisory try-lock (a node that can't simply
 * skips: the holder claims), locks the due rows, and advances each `next_run_at` past now before it commits — the
 * claim. Only then are the groups woken, by the claiming node. A later call, here or on another node, finds nothing
 * due, so a run fires exactly once however many nodes tick. A run found more than `DLS_WOL_RUN_GRACE` late
 * (DLS was down) is skipped, not fired late. Each run is one audit entry (`wake-schedules.run` or `.missed`) and
 * a wake event (see `wake.events.ts`).
 */
@Injectable()
export class WakeScheduleRunner implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(WakeScheduleRunner.name);
  private running: Promise<unknown> | null = null;
  private job: CronJob | null = null;

  constructor(
    private readonly config: AppConfig,
    @InjectDataSource() private readonly ds: DataSource,
    private readonly wake: WakeService,
    private readonly audit: AuditService,
    @Optional() private readonly scheduler?: SchedulerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.wol.schedules) {
      this.logger.log('wake schedules are not run on this node (DLS_WOL_SCHEDULES=false)');
      return;
    }
    this.job = CronJob.from({ cronTime: WAKE_TICK_CRON, onTick: () => this.tick(), start: false, unrefTimeout: true });
    if (this.scheduler && !this.scheduler.doesExist('cron', WAKE_TICK_JOB)) this.scheduler.addCronJob(WAKE_TICK_JOB, this.job);
    this.job.start();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.job) {
      await this.job.stop();
      if (this.scheduler?.doesExist('cron', WAKE_TICK_JOB)) this.scheduler.deleteCronJob(WAKE_TICK_JOB);
    }
    this.job = null;
    if (this.running) {
      let timer: NodeJS.Timeout | undefined;
      const cap = new Promise<void>((resolve) => (timer = setTimeout(resolve, DRAIN_TIMEOUT_MS)));
      await Promise.race([this.running.catch(() => undefined), cap]);
      clearTimeout(timer);
    }
  }

  /** One tick: skipped while this node's previous run is still sending. */
  private tick(): void {
    if (this.running) return;
    const run = this.runDue().catch((err: unknown) => this.logger.warn(`wake schedule run failed: ${(err as Error).message}`));
    this.running = run;
    void run.finally(() => {
      if (this.running === run) this.running = null;
    });
  }

  /** Claims every schedule due at `now` and wakes its group (see the class comment). Never fires a run twice. */
  async runDue(now = new Date()): Promise<WakeRunReport> {
    const claims = await this.ds.transaction(async (m) => {
      const [{ locked }] = await m.query<{ locked: boolean }[]>(RUN_LOCK_SQL);
      if (!locked) return null;
      const due = await m
        .createQueryBuilder(WakeSchedule, 's')
        .setLock('pessimistic_write')
        .where('s.enabled AND s.next_run_at <= :now', { now })
        .orderBy('s.next_run_at', 'ASC')
        .getMany();
      const out: { s: WakeSchedule; scheduledFor: Date; missed: boolean }[] = [];
      for (const s of due) {
        const scheduledFor = s.nextRunAt!;
        let next: Date | null = null;
        try {
          next = nextRun(s.cron, s.timezone, now);
        } catch (err) {
          this.logger.warn(`wake schedule ${s.id} (${s.cron} ${s.timezone}) has no next run: ${(err as Error).message}`);
        }
        await m.update(WakeSchedule, { id: s.id }, { nextRunAt: next, lastRunAt: scheduledFor, lastRunTotal: null, lastRunFailed: null });
        out.push({ s, scheduledFor, missed: now.getTime() - scheduledFor.getTime() > this.config.wol.scheduleGraceSec * 1000 });
      }
      return out;
    });
    if (claims === null) return { locked: false, fired: [], missed: [] };

    const report: WakeRunReport = { locked: true, fired: [], missed: [] };
    for (const { s, scheduledFor, missed } of claims) {
      const entry: WakeRunEntry = { scheduleId: s.id, groupId: s.groupId, scheduledFor };
      if (missed) {
        const lateSeconds = Math.round((now.getTime() - scheduledFor.getTime()) / 1000);
        this.logger.warn(`wake schedule ${s.id} of group ${s.groupId}: the run of ${scheduledFor.toISOString()} is ${lateSeconds} s late; skipped`);
        await this.audit.record({
          action: 'wake-schedules.missed',
          entityType: 'wake-schedules',
          entityId: s.id,
          details: { groupId: s.groupId, scheduledFor: scheduledFor.toISOString(), lateSeconds, graceSeconds: this.config.wol.scheduleGraceSec },
        });
        report.missed.push(entry);
        continue;
      }
      try {
        const b = await this.wake.wakeGroup(s.groupId, { trigger: 'schedule', scheduleId: s.id });
        Object.assign(entry, { total: b.total, failed: b.failed });
        await this.ds.getRepository(WakeSchedule).update({ id: s.id }, { lastRunTotal: b.total, lastRunFailed: b.failed });
        await this.audit.record({
          action: 'wake-schedules.run',
          entityType: 'wake-schedules',
          entityId: s.id,
          details: {
            groupId: s.groupId,
            group: b.group,
            scheduledFor: scheduledFor.toISOString(),
            total: b.total,
            sent: b.sent,
            failed: b.failed,
            clients: b.clients.map((c) => c.clientId),
            problems: b.clients.filter((c) => c.status === 'failed').map((c) => ({ clientId: c.clientId, hostname: c.hostname, code: c.code })),
          },
        });
      } catch (err) {
        entry.error = err instanceof DomainError ? err.code : 'INTERNAL';
        if (!(err instanceof DomainError)) this.logger.error(`wake schedule ${s.id} failed`, err as Error);
        await this.audit.record({
          action: 'wake-schedules.run',
          entityType: 'wake-schedules',
          entityId: s.id,
          details: { groupId: s.groupId, scheduledFor: scheduledFor.toISOString(), error: entry.error, message: (err as Error).message },
        });
      }
      report.fired.push(entry);
    }
    return report;
  }
}
