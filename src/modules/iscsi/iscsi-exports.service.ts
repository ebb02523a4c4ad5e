import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, OnModuleInit, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHmac, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { Repository } from 'typeorm';
import { DomainError, NotFoundError } from '@common/errors/domain-error';
import { loadOrCreateSecret } from '@common/secrets';
import { AppConfig } from '@config/config.loader';
import { KeyedLock, Semaphore } from '@common/concurrency/keyed-lock';
import { IscsiExport } from './iscsi-export.entity';
import { isTgtError, TgtErrorCode } from './tgt.errors';
import { ExportSpec, TgtExporter } from './tgt-exporter';
import { TgtdSupervisor } from './tgtd.supervisor';
import { isUniqueViolation } from '@common/errors/pg-errors';
import { IscsiExportInfo, OPEN_BOOT_SESSIONS, OpenBootSessions } from './iscsi-export.types';
import { IscsiErrorCode } from './iscsi.errors';
import { ReadinessRegistry, ReadinessState } from '../health';

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Which boot an export is prepared for: the client's open boot session (its id is the CHAP nonce). */
export interface ExportBoot {
  sessionId: string | null;
}

/**
 * One iSCSI target per client over tgt: LUN 1 = the client's disk, incoming CHAP with a per-boot secret derived
 * from a server key, the client id and the boot's nonce (HMAC, never stored), and an initiator-name ACL so no client
 * can attach another's disk.
 *
 * Per boot: the nonce is the id of the client's open boot session (a random UUID per boot), so the secret in an old
 * script is worthless once the client has booted again. tgt cannot show an account's password, so when the secret
 * wanted differs from the one this process last set, the account is deleted, re-created and re-bound
 * ({@link TgtExporter}); CHAP is only checked at login, so a client already logged in keeps running.
 *
 * No initiator-address ACL: tgt grants a login when *either* the name or the address ACL matches (checked with a
 * real tgtd), so an address entry would widen access, not narrow it.
 *
 * The `iscsi_exports` table is the desired state: tgtd forgets everything when it restarts, so at start and whenever
 * the supervised tgtd comes back, every export is re-created from the database (reconcile) — including after a crash
 * of DLS itself, when the supervisor replaces the tgtd the crashed run left (pid file). When iSCSI is enabled it
 * reports `tgtd` to `/health/ready`.
 */
@Injectable()
export class IscsiExportsService implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(IscsiExportsService.name);
  private readonly locks = new KeyedLock();
  /**
   * Target ids are handed out in memory, one allocation at a time: the next free tid, initialised from the table and
   * from what tgtd exports (a target we don't manage keeps its tid), so a storm of first requests never races on
   * `MAX(tid) + 1`. The table's unique constraint stays the backstop (another DLS process on the same database):
   * on a violation the counter is re-read and the allocation retried.
   */
  private readonly tidLock = new Semaphore(1);
  private nextTid?: number;
  private chapKey?: string;
  private ready = false;
  private stopping = false;
  /**
   * Exports this process made or verified since tgtd last (re)started. A boot storm's script requests then cost no
   * `tgtadm` call at all — a full `target show` is O(number of targets) — and a restart of tgtd clears it.
   */
  private readonly exported = new Map<string, IscsiExport>();
  /** clientId → the nonce (boot session id) whose secret this process last put on the client's CHAP account. */
  private readonly nonces = new Map<string, string>();
  /** First time each login (client id + tgt session id) was seen — tgt doesn't say when a session began. */
  private readonly firstSeen = new Map<string, number>();

  constructor(
    private readonly config: AppConfig,
    @InjectRepository(IscsiExport) private readonly exports: Repository<IscsiExport>,
    private readonly supervisor: TgtdSupervisor,
    private readonly exporter: TgtExporter,
    @Optional() private readonly readiness?: ReadinessRegistry,
    @Optional() @Inject(OPEN_BOOT_SESSIONS) private readonly bootSessions?: OpenBootSessions,
  ) {}

  onModuleInit(): void {
    if (this.config.iscsi.enabled) this.readiness?.register('tgtd', () => this.tgtdReadiness());
  }

  /** `tgtd` readiness: exports are usable (started and reconciled), the daemon runs and its control socket answers. */
  async tgtdReadiness(): Promise<ReadinessState> {
    const { controlPort, portalAddress, portalPort, manageTgtd } = this.config.iscsi;
    const detail: Record<string, unknown> = { controlPort, portal: `${portalAddress}:${portalPort}`, managed: manageTgtd };
    if (this.supervisor.pid !== undefined) detail.pid = this.supervisor.pid;
    if (!this.supervisor.isRunning())
      return { up: false, detail: { ...detail, reason: 'tgtd is not running (starting, restarting or failed to start)' } };
    if (!this.ready) return { up: false, detail: { ...detail, reason: 'tgtd runs but its exports are not re-created yet' } };
    try {
      await this.supervisor.adapter.showSystem();
    } catch (e) {
      return { up: false, detail: { ...detail, reason: `tgtadm: ${(e as Error).message}` } };
    }
    return { up: true, detail: { ...detail, exports: this.exported.size } };
  }

  get iqnPrefix(): string {
    return this.config.iscsi.iqnPrefix;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.iscsi.enabled) return;
    this.chapKey = await loadOrCreateSecret(this.config.dataDir, 'chap-key');
    try {
      await this.supervisor.start();
    } catch (e) {
      // The control plane stays up (the API is useful without exports); boot scripts answer 503 ISCSI_UNAVAILABLE.
      this.logger.error(`iSCSI unavailable: ${(e as Error).message} — is Debian's tgt installed? (DLS_ISCSI_ENABLED=false silences this)`);
      return;
    }
    this.supervisor.onExit((info) => {
      if (info.expected || this.stopping) return;
      this.ready = false;
      this.exported.clear();
      this.logger.error(`tgtd exited unexpectedly (code ${info.code ?? info.signal}); restarting and re-creating exports`);
      void this.restart();
    });
    await this.reconcile();
    this.ready = true;
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    if (this.config.iscsi.enabled) await this.supervisor.stop().catch((e) => this.logger.warn(`tgtd stop: ${(e as Error).message}`));
  }

  private async restart(): Promise<void> {
    // Keeps trying (backoff capped at 30 s) — /health/ready says tgtd is down meanwhile; giving up would need a person.
    for (let attempt = 1; !this.stopping; attempt++) {
      try {
        await this.supervisor.start();
        await this.reconcile();
        this.ready = true;
        if (attempt > 1) this.logger.log(`tgtd is back after ${attempt} attempts; exports re-created`);
        return;
      } catch (e) {
        this.logger.error(`tgtd restart attempt ${attempt} failed: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, Math.min(1000 * attempt, 30_000)).unref());
      }
    }
  }

  /**
   * Re-opens the LUNs of these clients: their disk files were re-mounted under tgtd (the dir driver's overlay daemon
   * was restarted), so the files tgtd holds open are dead. Each target is re-created (sessions are dropped; initiators
   * log in again) with the secret it had. One that fails is forgotten, so the client's next boot re-creates it.
   */
  async reopenExports(clientIds: readonly string[]): Promise<void> {
    for (const clientId of clientIds) {
      const row = this.exported.get(clientId);
      if (!row) continue;
      try {
        await this.exporter.removeExport(row.tid, { force: true });
        await this.exporter.ensureExport(this.spec(row, this.nonces.get(clientId) ?? randomUUID()), { force: true });
        this.logger.log(`export of client ${clientId} re-opened on its re-mounted disk`);
      } catch (e) {
        this.exported.delete(clientId);
        this.logger.error(`export of client ${clientId} could not be re-opened: ${(e as Error).message}`);
      }
    }
  }

  /** Re-creates every export in the database whose disk exists; removes our targets that aren't wanted. */
  async reconcile(): Promise<void> {
    this.exported.clear();
    this.nextTid = undefined;
    this.nonces.clear();
    const rows = await this.exports.find();
    const open = await this.openSessionIds();
    const specs: ExportSpec[] = [];
    const byTid = new Map<number, IscsiExport>();
    for (const r of rows) {
      if (
        await fs.stat(r.backingPath).then(
          (s) => s.isFile(),
          () => false,
        )
      ) {
        // No open session: nobody may log in without a new script, whose request opens one — any secret will do.
        const nonce = open.get(r.clientId) ?? randomUUID();
        this.nonces.set(r.clientId, nonce);
        specs.push(this.spec(r, nonce));
        byTid.set(r.tid, r);
      } else this.logger.warn(`export of client ${r.clientId}: disk ${r.backingPath} is missing; not exported`);
    }
    const report = await this.exporter.reconcile(specs, { managedIqnPrefix: `${this.iqnPrefix}:client-`, force: true });
    // What tgtd now exports, so readiness counts it and ensureExport takes its fast path; a failed one is retried there.
    for (const ref of [...report.created, ...report.fixed, ...report.unchanged]) {
      const row = byTid.get(ref.tid);
      if (row) this.exported.set(row.clientId, row);
    }
    for (const f of report.failed) {
      const row = byTid.get(f.tid);
      if (row) this.nonces.delete(row.clientId);
    }
    const n = (k: keyof typeof report) => (report[k] as unknown[]).length;
    this.logger.log(
      `iSCSI reconcile: ${n('created')} created, ${n('fixed')} fixed, ${n('unchanged')} unchanged, ${n('removed')} removed, ${n('failed')} failed`,
    );
  }

  /**
   * Exports the client's disk (idempotent) and returns the login details for its boot script. With `boot`, the CHAP
   * account carries that boot's secret (re-created when it carried another); without, it keeps the secret this
   * process last set (or, when there is none, gets the one of the client's open session, else a random one).
   */
  async ensureExport(clientId: string, diskPath: string, boot?: ExportBoot): Promise<IscsiExportInfo> {
    this.assertReady();
    const known = this.exported.get(clientId);
    const wanted = boot?.sessionId ?? this.nonces.get(clientId);
    if (known && known.backingPath === diskPath && wanted !== undefined && wanted === this.nonces.get(clientId)) {
      return this.info(known, wanted);
    }
    return this.locks.run(clientId, async () => {
      const nonce = boot?.sessionId ?? this.nonces.get(clientId) ?? (await this.openSessionIds(clientId)).get(clientId) ?? randomUUID();
      let row = await this.exports.findOne({ where: { clientId } });
      if (!row) row = await this.allocate(clientId, diskPath);
      else if (row.backingPath !== diskPath) {
        await this.exports.update({ clientId }, { backingPath: diskPath });
        row.backingPath = diskPath;
      }
      try {
        await this.exporter.ensureExport(this.spec(row, nonce), { force: true });
      } catch (e) {
        this.exported.delete(clientId);
        this.nonces.delete(clientId);
        throw this.mapError(e);
      }
      this.exported.set(clientId, row);
      this.nonces.set(clientId, nonce);
      return this.info(row, nonce);
    });
  }

  /**
   * The login details of the client's export as tgt holds them now for boot `sessionId` (its open boot session) —
   * read-only: no `tgtadm` call, no change to the account, the target or the table. `null` when iSCSI is off or tgtd
   * not ready, when the client has no export, or when its CHAP account does not carry that boot's secret (the export
   * was not made for this boot, e.g. no script has been requested since the session opened).
   */
  async exportOfBoot(clientId: string, sessionId: string): Promise<IscsiExportInfo | null> {
    if (!this.config.iscsi.enabled || !this.ready || this.nonces.get(clientId) !== sessionId) return null;
    const row = this.exported.get(clientId) ?? (await this.exports.findOne({ where: { clientId } }));
    return row ? this.info(row, sessionId) : null;
  }

  /**
   * Removes the client's target and forgets the export. With an active session and no `force`: 409 EXPORT_ACTIVE;
   * `force` cuts the sessions. Idempotent, and a no-op (`removed: false`) when the client has no export or iSCSI is
   * disabled — the catalogue calls it with `force` before it destroys or replaces a client disk.
   */
  async removeExport(clientId: string, options: { force: boolean }): Promise<{ removed: boolean }> {
    if (!this.config.iscsi.enabled) return { removed: false };
    return this.locks.run(clientId, async () => {
      this.exported.delete(clientId);
      this.nonces.delete(clientId);
      const row = await this.exports.findOne({ where: { clientId } });
      if (!row) return { removed: false };
      try {
        const r = await this.exporter.removeExport(row.tid, { force: options.force });
        await this.exports.delete({ clientId });
        return { removed: r.removed };
      } catch (e) {
        if (isTgtError(e, TgtErrorCode.TARGET_ACTIVE)) {
          throw new DomainError('conflict', IscsiErrorCode.EXPORT_ACTIVE, `client ${clientId} is logged in to its disk; stop it first or force`);
        }
        throw this.mapError(e);
      }
    });
  }

  /**
   * clientId → its newest live iSCSI login (from one `tgtadm target show`). A rebooted client's new login has a new
   * tgt session id and its own first-seen time, even while the dead one from before lingers until NOP-In drops it.
   */
  /**
   * The live login of one client's export, or null (no export, nobody logged in, iSCSI off): asks tgtd about that
   * target only (`conn show --tid`), so a boot storm's first script requests don't each list every target.
   */
  async activeSessionOf(clientId: string): Promise<{ ip: string | null; since: Date } | null> {
    if (!this.ready) return null;
    const row = this.exported.get(clientId) ?? (await this.exports.findOne({ where: { clientId } }));
    if (!row) return null;
    let sessions: Awaited<ReturnType<TgtExporter['connections']>>;
    try {
      sessions = await this.exporter.connections(row.tid);
    } catch (err) {
      if (isTgtError(err, TgtErrorCode.TARGET_NOT_FOUND)) return null; // the target went meanwhile
      throw err;
    }
    const newest = sessions.reduce<(typeof sessions)[number] | null>((a, b) => (!a || b.sid > a.sid ? b : a), null);
    if (!newest) return null;
    const key = `${clientId}:${newest.sid}`;
    const since = this.firstSeen.get(key) ?? Date.now();
    this.firstSeen.set(key, since);
    return { ip: newest.ip, since: new Date(since) };
  }

  async activeSessions(): Promise<Map<string, { ip: string | null; since: Date }>> {
    const out = new Map<string, { ip: string | null; since: Date }>();
    if (!this.ready) return out;
    const prefix = `${this.iqnPrefix}:client-`;
    const now = Date.now();
    const live = new Set<string>();
    for (const t of await this.exporter.sessions()) {
      if (!t.iqn.startsWith(prefix) || t.sessions.length === 0) continue;
      const clientId = t.iqn.slice(prefix.length);
      let newest: { ip: string | null; since: number; sid: number } | undefined;
      for (const s of t.sessions) {
        const key = `${clientId}:${s.sid}`;
        live.add(key);
        const since = this.firstSeen.get(key) ?? now;
        this.firstSeen.set(key, since);
        if (!newest || s.sid > newest.sid) newest = { ip: s.ip, since, sid: s.sid };
      }
      out.set(clientId, { ip: newest!.ip, since: new Date(newest!.since) });
    }
    for (const key of [...this.firstSeen.keys()]) if (!live.has(key)) this.firstSeen.delete(key);
    return out;
  }

  /**
   * Login details of a client's export (admin only: it carries the CHAP secret) — the secret of the account as this
   * process last set it, else the one its open boot session would get; `null` when neither is known.
   */
  async credentials(
    clientId: string,
  ): Promise<Omit<IscsiExportInfo, 'chapSecret'> & { chapSecret: string | null; tid: number; backingPath: string }> {
    const row = await this.exports.findOne({ where: { clientId } });
    if (!row) throw new NotFoundError('iSCSI export of client', clientId, IscsiErrorCode.EXPORT_NOT_FOUND);
    const nonce = this.nonces.get(clientId) ?? (await this.openSessionIds(clientId)).get(clientId);
    const info = this.info(row, nonce ?? '');
    return { ...info, chapSecret: nonce === undefined ? null : info.chapSecret, tid: row.tid, backingPath: row.backingPath };
  }

  /**
   * CHAP secret of one boot: 16 base62 characters of HMAC-SHA256(server key, `chap:<client id>:<nonce>`), the nonce
   * being the boot session's id — the same throughout one boot, different on the next, never stored.
   */
  chapSecretFor(clientId: string, nonce: string): string {
    const mac = createHmac('sha256', this.chapKey ?? '')
      .update(`chap:${clientId}:${nonce}`)
      .digest();
    let s = '';
    for (let i = 0; i < 16; i++) s += BASE62[mac[i] % 62];
    return s;
  }

  private async allocate(clientId: string, diskPath: string): Promise<IscsiExport> {
    return this.tidLock.run(async () => {
      for (let attempt = 0; attempt < 10; attempt++) {
        if (this.nextTid === undefined || attempt > 0) this.nextTid = await this.firstFreeTid();
        const tid = this.nextTid;
        try {
          const row = await this.exports.save(
            this.exports.create({
              clientId,
              tid,
              targetIqn: `${this.iqnPrefix}:client-${clientId}`,
              initiatorIqn: `${this.iqnPrefix}:initiator-${clientId}`,
              backingPath: diskPath,
              chapUser: `dls-${clientId.replace(/-/g, '').slice(0, 16)}`,
            }),
          );
          this.nextTid = tid + 1;
          return row;
        } catch (e) {
          if (isUniqueViolation(e)) continue; // another writer took it (or the client's row): re-read and retry
          throw e;
        }
      }
      throw new DomainError('unavailable', IscsiErrorCode.ISCSI_UNAVAILABLE, 'could not allocate a target id');
    });
  }

  /** One past the highest tid in the table and in tgtd (a target we don't manage keeps its tid). */
  private async firstFreeTid(): Promise<number> {
    const [{ next }] = await this.exports.query<{ next: number }[]>('SELECT COALESCE(MAX(tid), 0) + 1 AS next FROM iscsi_exports');
    let tid = Number(next);
    for (const t of await this.exporter.sessions().catch(() => [])) tid = Math.max(tid, t.tid + 1);
    return tid;
  }

  /** clientId → id of its open boot session (all clients, or one), from the catalogue (none when not wired). */
  private async openSessionIds(clientId?: string): Promise<Map<string, string>> {
    return this.bootSessions ? this.bootSessions.openSessionIds(clientId) : new Map<string, string>();
  }

  private spec(row: IscsiExport, nonce: string): ExportSpec {
    return {
      tid: row.tid,
      iqn: row.targetIqn,
      backingPath: row.backingPath,
      chapUser: row.chapUser,
      chapSecret: this.chapSecretFor(row.clientId, nonce),
      initiatorName: row.initiatorIqn,
      serial: `DLS${row.clientId.replace(/-/g, '').slice(0, 12).toUpperCase()}`,
    };
  }

  /** Login details; the portal is where tgtd listens (DLS_ISCSI_PORTAL, possibly the wildcard `0.0.0.0`). */
  private info(row: IscsiExport, nonce: string): IscsiExportInfo {
    return {
      targetIqn: row.targetIqn,
      initiatorIqn: row.initiatorIqn,
      chapUser: row.chapUser,
      chapSecret: this.chapSecretFor(row.clientId, nonce),
      portal: { address: this.config.iscsi.portalAddress, port: this.config.iscsi.portalPort },
      lun: 1,
    };
  }

  private assertReady(): void {
    if (!this.config.iscsi.enabled)
      throw new DomainError('unavailable', IscsiErrorCode.ISCSI_DISABLED, 'iSCSI exports are disabled (DLS_ISCSI_ENABLED=false)');
    if (!this.ready) throw new DomainError('unavailable', IscsiErrorCode.ISCSI_UNAVAILABLE, 'tgtd is not ready');
  }

  private mapError(e: unknown): unknown {
    if (isTgtError(e)) return new DomainError('unavailable', IscsiErrorCode.ISCSI_UNAVAILABLE, `tgt: ${(e as Error).message}`);
    return e;
  }
}
