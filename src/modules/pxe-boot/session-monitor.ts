import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { AppConfig } from '@config/config.loader';
import { BootSession, BootSessionsService } from '../catalog';
import { EVENT_PUBLISHER, EventPublisher } from '../events';
import { BootSessionTracker, MonitorAction } from './boot-session-tracker';
import { ISCSI_EXPORTS, IscsiActiveSession, IscsiExportsPort } from './iscsi-exports.port';
import { RecentLogins } from './recent-logins';

/** How often the monitor looks at tgt's sessions. */
export const MONITOR_INTERVAL_MS = 2000;
/**
 * A login counts for a session only when it was first seen at most this long before the session started: an older
 * one is the stale login of the previous boot (a VM that was killed never logs out; tgt drops it only after its
 * NOP-Out checks fail), which must not mark the new boot `running`.
 */
export const LOGIN_CLOCK_SLACK_MS = 1000;

/** The facts about one open session that {@link decideSessionAction} needs. */
export interface SessionFacts {
  status: BootSession['status'];
  startedAt: Date;
  lastSeenAt: Date | null;
}

/**
 * Pure verdict for one open session at `nowMs`:
 * - a login that belongs to this boot → `running` (for `starting`/`booting`), with the login's first-seen time;
 * - `running` without a login for more than `graceSec` (since it was last seen) → `shutdown`;
 * - `starting`/`booting` without a login for more than `bootTimeoutSec` since the session started → `timeout`;
 * - otherwise nothing.
 */
export function decideSessionAction(
  s: SessionFacts,
  login: IscsiActiveSession | undefined,
  nowMs: number,
  cfg: { graceSec: number; bootTimeoutSec: number },
): { action: MonitorAction | null; connected: boolean } {
  const connected = login !== undefined && new Date(login.since).getTime() >= s.startedAt.getTime() - LOGIN_CLOCK_SLACK_MS;
  if (connected) return { action: s.status === 'running' ? null : { kind: 'running', loginAt: new Date(login.since) }, connected };
  if (s.status === 'running') {
    const last = (s.lastSeenAt ?? s.startedAt).getTime();
    return {
      action: nowMs - last > cfg.graceSec * 1000 ? { kind: 'shutdown', reason: `no iSCSI connection for ${cfg.graceSec} s` } : null,
      connected,
    };
  }
  if (nowMs - s.startedAt.getTime() > cfg.bootTimeoutSec * 1000) {
    return { action: { kind: 'timeout', message: `no iSCSI login within ${cfg.bootTimeoutSec} s` }, connected };
  }
  return { action: null, connected };
}

/**
 * Every {@link MONITOR_INTERVAL_MS}: reads the open sessions (one query) and tgt's logins (one `tgtadm` call through
 * the iSCSI module), refreshes the tracker's cache and {@link RecentLogins}, records `last_seen_at` of connected sessions (one update) and
 * hands each verdict of {@link decideSessionAction} to the tracker, which applies it under the client's lock. Only
 * runs when iSCSI is enabled (without it, no session can be observed). The timer is unref'd and ticks never overlap.
 */
@Injectable()
export class SessionMonitor implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SessionMonitor.name);
  private timer?: NodeJS.Timeout;
  private tick?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly config: AppConfig,
    private readonly tracker: BootSessionTracker,
    @Inject(ISCSI_EXPORTS) private readonly iscsi: IscsiExportsPort,
    private readonly sessions: BootSessionsService,
    private readonly recent: RecentLogins,
    @Optional() @Inject(EVENT_PUBLISHER) private readonly events?: EventPublisher,
  ) {}

  /** Logins seen at the previous pass (clientId → address), to publish `iscsi.login` / `iscsi.logout` on change. */
  private lastLogins = new Map<string, string | null>();

  onApplicationBootstrap(): void {
    if (!this.config.iscsi.enabled) return;
    this.stopped = false;
    this.timer = setInterval(() => {
      if (!this.tick) this.tick = this.runOnce().finally(() => (this.tick = undefined));
    }, MONITOR_INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.tick;
  }

  /** One pass (public for tests). Never throws. */
  async runOnce(nowMs: number = Date.now()): Promise<void> {
    try {
      const mark = this.tracker.syncMark();
      const open = await this.sessions.listOpen();
      this.tracker.syncOpenSessions(open, mark);
      if (open.length === 0) return;
      const logins = await this.iscsi.activeSessions();
      this.recent.record(logins, nowMs);
      this.publishLoginChanges(logins);
      const cfg = { graceSec: this.config.boot.sessionGraceSec, bootTimeoutSec: this.config.boot.bootTimeoutSec };
      const seen: string[] = [];
      for (const s of open) {
        if (this.stopped) return;
        const { action, connected } = decideSessionAction(s, logins.get(s.clientId), nowMs, cfg);
        if (connected) seen.push(s.id);
        if (action) await this.tracker.applyMonitorAction(s.clientId, s.id, action);
      }
      await this.sessions.markSeen(seen, new Date(nowMs));
    } catch (err) {
      this.logger.warn(`session monitor pass failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** `iscsi.login` for each client newly listed by tgt, `iscsi.logout` for each one no longer listed. */
  private publishLoginChanges(logins: ReadonlyMap<string, IscsiActiveSession>): void {
    const now = new Map([...logins].map(([clientId, l]) => [clientId, l.ip]));
    for (const [clientId, ip] of now) if (!this.lastLogins.has(clientId)) this.events?.emit('iscsi.login', { clientId, ip });
    for (const [clientId, ip] of this.lastLogins) if (!now.has(clientId)) this.events?.emit('iscsi.logout', { clientId, ip });
    this.lastLogins = now;
  }
}
