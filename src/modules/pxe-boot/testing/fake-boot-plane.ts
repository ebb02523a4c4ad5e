/**
 * In-memory stand-ins for the services the boot plane calls (boot sessions, client disks, iSCSI exports, leases),
 * for unit specs. The session fake enforces the real transition table, so illegal moves fail as they would.
 */
import { ConflictError, NotFoundError } from '@common/errors/domain-error';
import type { BootSession, BootStage, SessionStatus, StageMarks } from '../../catalog';
import { assertTransition, BOOT_STAGES, BootSessionErrorCode, isFinal, OPEN_STATUSES, STAGE_PROPERTY } from '../../catalog';
import type { BootTarget } from '../../catalog';
import type { ExportBoot, IscsiActiveSession, IscsiExportInfo, IscsiExportsPort } from '../iscsi-exports.port';

export interface FakeClient {
  id: string;
  enabled: boolean;
  hasImage: boolean;
  policy: 'reset' | 'persistent';
}

export class FakeSessions {
  readonly rows: BootSession[] = [];
  readonly calls = { open: 0, findOpen: 0, transition: 0, markStages: 0 };
  private seq = 0;
  constructor(readonly clients: Map<string, FakeClient>) {}

  async open(
    clientId: string,
    opts: { clientIp?: string | null; bootServerIp?: string | null; stage?: Exclude<BootStage, 'running'> } = {},
  ): Promise<BootSession> {
    this.calls.open++;
    const c = this.clients.get(clientId);
    if (!c) throw new NotFoundError('client', clientId, BootSessionErrorCode.CLIENT_NOT_FOUND);
    if (!c.enabled) throw new ConflictError(BootSessionErrorCode.CLIENT_DISABLED, 'disabled');
    if (!c.hasImage) throw new ConflictError(BootSessionErrorCode.CLIENT_HAS_NO_IMAGE, 'no image');
    const open = this.rows.find((r) => r.clientId === clientId && OPEN_STATUSES.includes(r.status));
    if (open) throw new ConflictError(BootSessionErrorCode.SESSION_ALREADY_OPEN, 'open');
    const s = {
      id: `s${++this.seq}`,
      clientId,
      imageId: 'img',
      status: 'starting',
      startedAt: new Date(),
      endedAt: null,
      bootTimeSeconds: null,
      errorMessage: null,
      clientIp: opts.clientIp ?? null,
      bootServerIp: opts.bootServerIp ?? null,
      lastSeenAt: null,
      dhcpAt: null,
      loaderAt: null,
      scriptAt: null,
      iscsiLoginAt: null,
      runningAt: null,
    } as BootSession;
    if (opts.stage) this.stamp(s, { [opts.stage]: true });
    this.rows.push(s);
    return { ...s };
  }

  async transition(
    id: string,
    status: SessionStatus,
    errorMessage?: string | null,
    _expected?: unknown,
    stages: StageMarks = {},
  ): Promise<BootSession> {
    this.calls.transition++;
    const s = this.rows.find((r) => r.id === id);
    if (!s) throw new NotFoundError('boot session', id, BootSessionErrorCode.SESSION_NOT_FOUND);
    assertTransition(s.status, status);
    s.status = status;
    this.stamp(s, status === 'running' ? { ...stages, running: true } : stages);
    if (status === 'running') s.bootTimeSeconds = 0;
    if (isFinal(status)) s.endedAt = new Date();
    if (status === 'error') s.errorMessage = errorMessage ?? null;
    return { ...s };
  }

  async markStages(id: string, stages: StageMarks): Promise<void> {
    this.calls.markStages++;
    const s = this.rows.find((r) => r.id === id && OPEN_STATUSES.includes(r.status));
    if (s) this.stamp(s, stages);
  }

  /** Stages stamped on a session, in stage order. */
  stagesOf(id: string): BootStage[] {
    const s = this.rows.find((r) => r.id === id);
    return s ? BOOT_STAGES.filter((stage) => s[STAGE_PROPERTY[stage]] !== null) : [];
  }

  private stamp(s: BootSession, stages: StageMarks): void {
    for (const stage of BOOT_STAGES) {
      const mark = stages[stage];
      if (mark !== undefined && s[STAGE_PROPERTY[stage]] === null) s[STAGE_PROPERTY[stage]] = mark === true ? new Date() : mark;
    }
  }

  async findOpenForClient(clientId: string): Promise<BootSession | null> {
    this.calls.findOpen++;
    const s = this.rows.find((r) => r.clientId === clientId && OPEN_STATUSES.includes(r.status));
    return s ? { ...s } : null;
  }

  statuses(clientId: string): SessionStatus[] {
    return this.rows.filter((r) => r.clientId === clientId).map((r) => r.status);
  }
}

export class FakeDisks {
  readonly resets: string[] = [];
  readonly ensured: string[] = [];
  failEnsure?: Error;
  constructor(readonly clients: Map<string, FakeClient>) {}
  async policyOf(clientId: string): Promise<'reset' | 'persistent' | null> {
    return this.clients.get(clientId)?.policy ?? null;
  }
  async reset(clientId: string): Promise<unknown> {
    await new Promise((r) => setTimeout(r, 20)); // a reset takes a while; callers must wait for it
    this.resets.push(clientId);
    return {};
  }
  /** What `prepare` reports the client boots (the boot policy's answer, as the test wants it). */
  targetOf: (clientId: string) => BootTarget = (clientId) =>
    ({ client: { id: clientId, hostname: `pc-${clientId}` }, method: { kind: 'sanboot' } }) as BootTarget;
  async prepare(clientId: string): Promise<{ target: BootTarget; disk: { path: string } }> {
    if (this.failEnsure) throw this.failEnsure;
    this.ensured.push(clientId);
    return { target: this.targetOf(clientId), disk: { path: `/srv/dls/clients/${clientId}.img` } };
  }
}

export class FakeIscsi implements IscsiExportsPort {
  readonly logins = new Map<string, IscsiActiveSession>();
  /** Where "tgtd" listens: the real service's default DLS_ISCSI_PORTAL unless a test sets another. */
  portal = { address: '0.0.0.0', port: 3260 };
  readonly exported: Array<{ clientId: string; diskPath: string }> = [];
  /** The boot session each `ensureExport` was for (`null`: none given). */
  readonly boots: Array<string | null> = [];
  /** clientId → the boot session whose secret its "account" carries (the last `ensureExport` with a session). */
  readonly accountBoot = new Map<string, string>();
  /** Calls of the read-only {@link exportOfBoot}. */
  readonly reads: Array<{ clientId: string; sessionId: string }> = [];
  /** The fake's per-boot secret: `secret-<session id>-secret` (unlike the real one, readable in a test). */
  static secretOf(sessionId: string | null): string {
    return sessionId ? `secret-${sessionId}-secret` : 'secret-secret-secret';
  }
  async ensureExport(clientId: string, diskPath: string, boot?: ExportBoot): Promise<IscsiExportInfo> {
    this.exported.push({ clientId, diskPath });
    this.boots.push(boot?.sessionId ?? null);
    if (boot?.sessionId) this.accountBoot.set(clientId, boot.sessionId);
    return this.info(clientId, boot?.sessionId ?? null);
  }
  async exportOfBoot(clientId: string, sessionId: string): Promise<IscsiExportInfo | null> {
    this.reads.push({ clientId, sessionId });
    return this.accountBoot.get(clientId) === sessionId ? this.info(clientId, sessionId) : null;
  }
  private info(clientId: string, sessionId: string | null): IscsiExportInfo {
    return {
      targetIqn: `iqn.2026-11.io.dls:client.${clientId}`,
      initiatorIqn: `iqn.2026-11.io.dls:initiator.${clientId}`,
      chapUser: `u${clientId}`,
      chapSecret: FakeIscsi.secretOf(sessionId),
      portal: { ...this.portal },
      lun: 1,
    };
  }
  async removeExport(): Promise<unknown> {
    return {};
  }
  /** Calls of {@link activeSessions} (each a `tgtadm` listing in the real service). */
  listings = 0;
  async activeSessions(): Promise<Map<string, IscsiActiveSession>> {
    this.listings++;
    return new Map(this.logins);
  }
  /** Calls of {@link activeSessionOf} (each a `conn show` of one target in the real service). */
  lookups = 0;
  async activeSessionOf(clientId: string): Promise<IscsiActiveSession | null> {
    this.lookups++;
    return this.logins.get(clientId) ?? null;
  }
}

export class FakeLeases {
  readonly rows: Array<{ ip: string; mac?: string; clientId: string | null; state: string; updatedAt: Date }> = [];
  calls = 0;
  async findOne(q: { where: { ip: string } }): Promise<{ clientId: string | null; mac?: string } | null> {
    this.calls++;
    return this.rows.find((r) => r.ip === q.where.ip && ['offered', 'bound'].includes(r.state) && r.clientId) ?? null;
  }
}
