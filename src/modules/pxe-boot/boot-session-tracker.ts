import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, IsNull, Not, Repository } from 'typeorm';
import { DomainError } from '@common/errors/domain-error';
import {
  BOOT_STAGES,
  BootSession,
  BootSessionErrorCode,
  BootSessionsService,
  BootStage,
  BootFirmware,
  ClientDisksService,
  SessionStatus,
  STAGE_PROPERTY,
} from '../catalog';
import type { StageMarks } from '../catalog';
import { KeyedLock } from '@common/concurrency/keyed-lock';
import { DhcpLease } from './dhcp-lease.entity';
import { BootPreparation } from './boot-preparation.service';
import { ISCSI_EXPORTS, IscsiExportsPort } from './iscsi-exports.port';
import { EVENT_PUBLISHER, EventPublisher } from '../events';
import { LeaseMemo } from './boot-trust/lease-memo';

/** What the DHCP server saw from a known client. */
export interface DhcpSeenEvent {
  clientId: string;
  mac: string;
  /** Address offered/acked (full mode) or the client's ciaddr (proxy), null if none yet. */
  ip: string | null;
  /** Our address on that network (what the client uses for TFTP/HTTP/iSCSI). */
  serverIp: string;
  messageType: 'discover' | 'request' | 'inform';
  arch: number | null;
  isIpxe: boolean;
  /** How the firmware boots, read from this request (see `firmwarePathOf`): stamped on a session this DHCP opens. */
  firmware?: BootFirmware | null;
  /** The reply hands a Secure Boot loader: stamped on a session this DHCP opens. */
  secureBoot?: boolean;
}

/** What the session monitor concluded about one open session (see `decideSessionAction`). */
export type MonitorAction =
  | { kind: 'running'; /** When tgt first listed this boot's login (stamped as the session's `iscsi_login_at`). */ loginAt?: Date }
  | { kind: 'shutdown'; reason: string }
  | { kind: 'timeout'; message: string };

interface OpenSession {
  id: string;
  status: SessionStatus;
  /** Stages whose timestamp the session already has (so stamping one again costs no query). */
  stages: Set<BootStage>;
  /** The DLS address the client booted from in this session (another node's, after a takeover). */
  bootServerIp: string | null;
}

/** Who a client address belongs to, as far as the tracker knows. */
export interface AddressOwner {
  clientId: string;
  mac: string | null;
}

type SessionRow = Pick<BootSession, 'id' | 'clientId' | 'status'> & Partial<Pick<BootSession, (typeof STAGE_PROPERTY)[BootStage] | 'bootServerIp'>>;

const stagesOf = (s: SessionRow): Set<BootStage> => new Set(BOOT_STAGES.filter((stage) => s[STAGE_PROPERTY[stage]] instanceof Date));
const entryOf = (s: SessionRow): OpenSession => ({ id: s.id, status: s.status, stages: stagesOf(s), bootServerIp: s.bootServerIp ?? null });

/** Clients that cannot have a session (disabled, no image) are not asked about again for this long. */
const REFUSED_TTL_MS = 10_000;
/** Recent DHCP address → client entries kept for TFTP attribution (bounded, oldest dropped first). */
const MAX_IP_ENTRIES = 4096;
const IP_ENTRY_TTL_MS = 10 * 60_000;
const REFUSAL_CODES = new Set<string>([
  BootSessionErrorCode.CLIENT_DISABLED,
  BootSessionErrorCode.CLIENT_HAS_NO_IMAGE,
  BootSessionErrorCode.CLIENT_NOT_FOUND,
]);

/**
 * Records every step a client takes as its boot session (DHCP → starting, loader/script served → booting, iSCSI
 * login → running, connection gone → shutdown, failure/timeout → error), and stamps when each stage was first
 * reached (`dhcp_at`, `loader_at`, `script_at`, `iscsi_login_at`, `running_at`) in the same write as the move, or
 * in one UPDATE when a stage moves nothing (a script after a loader). The protocol servers call it fire-and-forget:
 * its methods never throw.
 *
 * All changes for one client run one after another (a per-client lock), so a DHCPDISCOVER that closes the previous
 * session (the client rebooted) and resets its disk is finished before the next boot script is prepared
 * ({@link settle}). The database is the truth; the in-memory map clientId → open session is a cache that saves a
 * query per DHCP packet and is refreshed from the database by the session monitor every few seconds.
 */
@Injectable()
export class BootSessionTracker {
  private readonly logger = new Logger(BootSessionTracker.name);
  private readonly locks = new KeyedLock();
  private readonly open = new Map<string, OpenSession>();
  private readonly refused = new Map<string, number>();
  private readonly ipToClient = new Map<string, { clientId: string; mac: string | null; atMs: number }>();
  /** Cache writes, numbered: a monitor snapshot read before a write must not overwrite what the write put there. */
  private writeSeq = 0;
  private readonly writtenAt = new Map<string, number>();

  constructor(
    private readonly sessions: BootSessionsService,
    private readonly disks: ClientDisksService,
    @InjectRepository(DhcpLease) private readonly leases: Repository<DhcpLease>,
    @Optional() private readonly preparation?: BootPreparation,
    @Optional() @Inject(ISCSI_EXPORTS) private readonly iscsi?: Pick<IscsiExportsPort, 'activeSessionOf'>,
    @Optional() @Inject(EVENT_PUBLISHER) private readonly events?: EventPublisher,
    @Optional() private readonly leaseMemo?: LeaseMemo,
  ) {}

  // ---- called by the protocol servers ------------------------------------------------------------------------------

  /**
   * DHCP from a known client: open a session unless one is open. A DISCOVER after `running` means a reboot — unless
   * tgt still shows the client logged in: a DISCOVER carries no address to tell a rebooting PC (whose old login
   * lingers until tgt's NOP timeout) from a LAN host spoofing a running PC's MAC, so the session stays and the
   * script request decides (it comes from an address: the same one proceeds, another gets "disk in use").
   */
  onDhcp(e: DhcpSeenEvent): void {
    if (e.ip) this.rememberIp(e.ip, e.clientId, e.mac);
    this.leaseMemo?.forget(e.mac); // the lease may have moved: the boot routes' trust check reads it afresh
    if (e.messageType === 'inform') return;
    this.background(e.clientId, `DHCP ${e.messageType}`, async () => {
      let cur = await this.current(e.clientId);
      if (cur?.status === 'running' && e.messageType === 'discover' && !(await this.loggedIn(e.clientId))) {
        await this.finish(e.clientId, cur, 'client rebooted (new DHCPDISCOVER)');
        cur = null;
      }
      // A DISCOVER answered from another DLS address than the session's (another node took the range over, or the
      // client moved to another boot network): that boot is over; this one is a session of its own.
      if (cur && e.messageType === 'discover' && cur.bootServerIp !== null && cur.bootServerIp !== e.serverIp) {
        const moved = `the client now boots from ${e.serverIp} (this session's boot server was ${cur.bootServerIp})`;
        if (cur.status === 'running') await this.finish(e.clientId, cur, moved);
        else await this.move(e.clientId, cur, 'error', `boot not finished: ${moved}`);
        cur = null;
      }
      if (!cur) cur = await this.openSession(e.clientId, e.ip, e.serverIp, 'dhcp', e.firmware ?? null, e.secureBoot === true);
      if (e.messageType === 'discover') await this.prewarm(e.clientId, cur?.id ?? null);
    });
  }

  /** Whether tgt lists a login to the client's disk now (false when iSCSI is not wired or cannot be asked). */
  private async loggedIn(clientId: string): Promise<boolean> {
    if (!this.iscsi) return false;
    try {
      return (await this.iscsi.activeSessionOf(clientId)) !== null;
    } catch {
      return false;
    }
  }

  /**
   * Gets the client's disk and iSCSI export ready while the client is still busy with DHCP and IPv6 (about a second
   * before it asks for its script), so the script request finds them done. Best effort: failures are reported
   * when the script is prepared. The export gets the CHAP secret of the session just opened (the new boot's), so the
   * script request that follows costs no `tgtadm` call; a login with the previous boot's secret fails from here on,
   * while a client still logged in keeps running (CHAP is only checked at login).
   */
  private async prewarm(clientId: string, sessionId: string | null): Promise<void> {
    if (!this.preparation) return;
    try {
      await this.preparation.prepare(clientId, sessionId);
    } catch (err) {
      this.logger.debug(`prewarm of client ${clientId} skipped: ${errText(err)}`);
    }
  }

  /**
   * A TFTP transfer (a loader: undionly.kpxe, ipxe.efi…) ended: when it completed, the client's session moves to
   * `booting` and gets its `loader_at`. Resolves to the client that has the address (recent DHCP traffic, else the
   * lease table), or null — what the `tftp` event names. Never rejects.
   */
  async onLoaderServed(e: { clientIp: string; file: string; ok: boolean }): Promise<AddressOwner | null> {
    let owner: AddressOwner | null;
    try {
      owner = await this.ownerOfIp(e.clientIp);
    } catch (err) {
      this.logger.warn(`TFTP ${e.file} to ${e.clientIp}: ${errText(err)}`);
      return null;
    }
    if (!e.ok) {
      this.logger.debug(`TFTP ${e.file} to ${e.clientIp} did not complete`);
      return owner;
    }
    if (!owner) {
      this.logger.debug(`TFTP ${e.file} to ${e.clientIp}: no known client has that address`);
      return null;
    }
    const clientId = owner.clientId;
    this.background(clientId, `TFTP ${e.file}`, () => this.toBooting(clientId, e.clientIp, null, 'loader'));
    return owner;
  }

  /**
   * A boot script is about to be prepared for a known, bootable client. A client already `running` that asks for a
   * script again has rebooted without us seeing its DHCP (external DHCP server): close that session (resetting the
   * disk under the `reset` policy) first, so the disk prepared next is the fresh one; then make sure a session is
   * open (DHCP may not be ours), so a failure while preparing is recorded on it. Never throws.
   *
   * Returns the open session's id — the nonce of this boot's CHAP secret — or `null` when none could be opened.
   */
  async onScriptRequested(e: { clientId: string; clientIp: string | null; serverIp?: string | null; mac?: string | null }): Promise<string | null> {
    if (e.clientIp) this.rememberIp(e.clientIp, e.clientId, e.mac ?? null);
    let sessionId: string | null = null;
    await this.guard(e.clientId, 'script request', async () => {
      let cur = await this.current(e.clientId);
      if (cur?.status === 'running') {
        await this.finish(e.clientId, cur, 'client rebooted (new boot script request)');
        cur = null;
      }
      if (!cur) cur = await this.openSession(e.clientId, e.clientIp, e.serverIp ?? null);
      sessionId = cur?.id ?? null;
    });
    return sessionId;
  }

  /**
   * The client's boot script went out: its session moves to `booting` (opened first when DHCP was not ours) and gets
   * its `script_at`.
   */
  async onScriptServed(e: { clientId: string; clientIp: string | null; serverIp?: string | null }): Promise<void> {
    const cur = this.open.get(e.clientId);
    // The repeated request of a boot: the session is booting with its script stamped already. Nothing to write.
    if (cur?.status === 'booting' && cur.stages.has('script') && !this.locks.isLocked(e.clientId)) return;
    await this.guard(e.clientId, 'script served', () => this.toBooting(e.clientId, e.clientIp, e.serverIp ?? null, 'script'));
  }

  /**
   * The client's open session as the cache holds it now, when no change for the client is queued or running — the
   * script route's repeated path, which must not wait on the database. `null`: not known without a query (or busy).
   */
  openNow(clientId: string): { id: string; status: SessionStatus } | null {
    if (this.locks.isLocked(clientId)) return null;
    const cur = this.open.get(clientId);
    return cur ? { id: cur.id, status: cur.status } : null;
  }

  /** The client (or the server preparing its boot) reported a failure: its open session ends in `error`. */
  async onBootFailed(e: { clientId: string; stage: string; error: string }): Promise<void> {
    await this.guard(e.clientId, 'boot failure', async () => {
      const cur = await this.current(e.clientId);
      if (!cur) return;
      await this.move(e.clientId, cur, 'error', `${e.stage} failed: ${e.error}`.slice(0, 1000));
    });
  }

  /**
   * The client's open boot session, read once every queued change for it is done — never opens, closes or moves one.
   * `null` when it has none (or it could not be read).
   */
  async openSessionOf(clientId: string): Promise<{ id: string; status: SessionStatus } | null> {
    let out: { id: string; status: SessionStatus } | null = null;
    await this.guard(clientId, 'session read', async () => {
      const cur = await this.current(clientId);
      out = cur ? { id: cur.id, status: cur.status } : null;
    });
    return out;
  }

  /** Resolves once every queued change for this client is done (e.g. the disk reset after a reboot). */
  settle(clientId: string): Promise<void> {
    return this.locks.run(clientId, () => undefined);
  }

  // ---- called by the session monitor ---------------------------------------------------------------------------------

  /** Mark to take before reading the open sessions for {@link syncOpenSessions}. */
  syncMark(): number {
    return this.writeSeq;
  }

  /**
   * Replaces the cache with the open sessions just read from the database. With the `mark` taken before the read,
   * a client whose entry was written after it keeps that entry: the read may predate the write (a move that
   * committed while the monitor's query ran), and putting the older status back made the next move an illegal
   * "booting to booting".
   */
  syncOpenSessions(open: ReadonlyArray<SessionRow>, mark: number = this.writeSeq): void {
    const fresh = new Map(open.map((s) => [s.clientId, entryOf(s)]));
    const untouched = (clientId: string): boolean => !this.locks.isLocked(clientId) && (this.writtenAt.get(clientId) ?? -1) <= mark;
    for (const clientId of this.open.keys()) {
      if (!fresh.has(clientId) && untouched(clientId)) this.open.delete(clientId);
    }
    for (const [clientId, s] of fresh) if (untouched(clientId)) this.open.set(clientId, s);
    for (const [clientId, at] of this.writtenAt) if (at <= mark) this.writtenAt.delete(clientId);
  }

  /** Applies the monitor's verdict on session `sessionId` (skipped when that session is no longer the open one). */
  async applyMonitorAction(clientId: string, sessionId: string, action: MonitorAction): Promise<void> {
    await this.guard(clientId, `monitor ${action.kind}`, async () => {
      const cur = await this.current(clientId);
      if (!cur || cur.id !== sessionId) return;
      switch (action.kind) {
        case 'running':
          if (cur.status === 'starting') await this.move(clientId, cur, 'booting');
          if (cur.status === 'booting') await this.move(clientId, cur, 'running', undefined, undefined, { iscsiLogin: action.loginAt ?? true });
          return;
        case 'shutdown':
          if (cur.status === 'running') await this.finish(clientId, cur, action.reason);
          return;
        case 'timeout':
          if (cur.status === 'starting' || cur.status === 'booting') await this.move(clientId, cur, 'error', action.message);
          return;
      }
    });
  }

  // ---- internals -----------------------------------------------------------------------------------------------

  private background(clientId: string, what: string, fn: () => Promise<void>): void {
    void this.guard(clientId, what, fn);
  }

  /** Runs `fn` under the client's lock; logs instead of throwing. */
  private async guard(clientId: string, what: string, fn: () => Promise<void>): Promise<void> {
    try {
      await this.locks.run(clientId, fn);
    } catch (err) {
      this.open.delete(clientId); // the cache may be what was wrong; the next event reads the database
      this.touch(clientId);
      if (err instanceof DomainError) this.logger.warn(`${what} for client ${clientId}: ${err.message}`);
      else this.logger.error(`${what} for client ${clientId}: ${errText(err)}`);
    }
  }

  /** The client's open session: from the cache, else from the database. */
  private async current(clientId: string): Promise<OpenSession | null> {
    const cached = this.open.get(clientId);
    if (cached) return cached;
    const s = await this.sessions.findOpenForClient(clientId);
    if (!s) return null;
    const entry = entryOf(s);
    this.open.set(clientId, entry);
    this.touch(clientId);
    return entry;
  }

  private touch(clientId: string): void {
    this.writtenAt.set(clientId, ++this.writeSeq);
  }

  private async openSession(
    clientId: string,
    clientIp: string | null,
    serverIp: string | null,
    stage?: Exclude<BootStage, 'running'>,
    firmware: BootFirmware | null = null,
    secureBoot = false,
  ): Promise<OpenSession | null> {
    const until = this.refused.get(clientId);
    if (until !== undefined) {
      if (until > Date.now()) return null;
      this.refused.delete(clientId);
    }
    try {
      const s = await this.sessions.open(clientId, { clientIp, bootServerIp: serverIp, stage, firmware, secureBoot });
      this.logger.log(`boot session ${s.id} of client ${clientId} started (${clientIp ?? 'no address yet'})`);
      this.publish(s, null);
      const entry = entryOf(s);
      this.open.set(clientId, entry);
      this.touch(clientId);
      return entry;
    } catch (err) {
      if (err instanceof DomainError && err.code === BootSessionErrorCode.SESSION_ALREADY_OPEN) {
        this.open.delete(clientId);
        return this.current(clientId);
      }
      if (err instanceof DomainError && REFUSAL_CODES.has(err.code)) {
        this.refused.set(clientId, Date.now() + REFUSED_TTL_MS);
        this.logger.debug(`no boot session for client ${clientId}: ${err.message}`);
        return null;
      }
      throw err;
    }
  }

  /** A loader or the script was served: `booting` (from `starting`) with that stage stamped, in one write. */
  private async toBooting(clientId: string, clientIp: string | null, serverIp: string | null, stage: 'loader' | 'script'): Promise<void> {
    const cur = (await this.current(clientId)) ?? (await this.openSession(clientId, clientIp, serverIp, stage));
    if (!cur || cur.stages.has(stage)) {
      if (cur?.status === 'starting') await this.move(clientId, cur, 'booting');
      return;
    }
    if (cur.status === 'starting') await this.move(clientId, cur, 'booting', undefined, undefined, { [stage]: true });
    else if (cur.status === 'booting') {
      await this.sessions.markStages(cur.id, { [stage]: true });
      cur.stages.add(stage);
      this.touch(clientId);
    }
  }

  /** Closes a running session as `shutdown` and, under the `reset` disk policy, discards the client's writes. */
  private async finish(clientId: string, cur: OpenSession, reason: string): Promise<void> {
    await this.move(clientId, cur, 'shutdown', undefined, reason);
    this.logger.log(`boot session ${cur.id} of client ${clientId} shut down: ${reason}`);
    try {
      if ((await this.disks.policyOf(clientId)) === 'reset') {
        await this.disks.reset(clientId);
        this.logger.log(`disk of client ${clientId} reset (policy reset)`);
      }
    } catch (err) {
      this.logger.warn(`could not reset the disk of client ${clientId}: ${errText(err)}`);
    }
  }

  private async move(
    clientId: string,
    cur: OpenSession,
    to: SessionStatus,
    errorMessage?: string,
    reason?: string,
    stages?: StageMarks,
  ): Promise<void> {
    let stamped: Set<BootStage>;
    try {
      const s = await this.sessions.transition(cur.id, to, errorMessage, undefined, stages);
      stamped = stagesOf(s);
      this.publish(s, cur.status, reason);
      if (to === 'running') this.logger.log(`boot session ${s.id} of client ${clientId} running after ${s.bootTimeSeconds ?? '?'} s`);
      else if (to === 'error') this.logger.warn(`boot session ${s.id} of client ${clientId} failed: ${errorMessage}`);
    } finally {
      // Whatever happened, the cache follows the database.
      this.open.delete(clientId);
      this.touch(clientId);
    }
    if (to === 'booting' || to === 'running' || to === 'starting') {
      this.open.set(clientId, { id: cur.id, status: to, stages: stamped, bootServerIp: cur.bootServerIp });
    }
    cur.status = to;
    cur.stages = stamped;
  }

  /** A `boot-session` event for the session as it now is. */
  private publish(s: BootSession, previous: SessionStatus | null, reason?: string): void {
    const started = s.startedAt instanceof Date ? s.startedAt.getTime() : null;
    this.events?.emit('boot-session', {
      sessionId: s.id,
      clientId: s.clientId,
      status: s.status,
      previousStatus: previous,
      clientIp: s.clientIp ?? null,
      bootTimeSeconds: s.bootTimeSeconds ?? null,
      elapsedMs: started === null ? null : Math.max(0, Date.now() - started),
      error: s.errorMessage ?? null,
      reason: reason ?? null,
    });
  }

  private rememberIp(ip: string, clientId: string, mac: string | null): void {
    const known = this.ipToClient.get(ip);
    this.ipToClient.delete(ip);
    this.ipToClient.set(ip, { clientId, mac: mac ?? (known?.clientId === clientId ? known.mac : null), atMs: Date.now() });
    while (this.ipToClient.size > MAX_IP_ENTRIES) this.ipToClient.delete(this.ipToClient.keys().next().value as string);
  }

  /** Which client has `ip` (and its MAC): recent DHCP traffic first, else the lease table (offered/bound, newest). */
  /** The client that has address `ip`: its recent DHCP traffic (memory), else the lease table; null when none. */
  async ownerOfIp(ip: string): Promise<AddressOwner | null> {
    const hit = this.ipToClient.get(ip);
    if (hit && Date.now() - hit.atMs < IP_ENTRY_TTL_MS) return { clientId: hit.clientId, mac: hit.mac };
    const lease = await this.leases.findOne({
      where: { ip, state: In(['offered', 'bound']), clientId: Not(IsNull()) },
      order: { updatedAt: 'DESC' },
    });
    return lease?.clientId ? { clientId: lease.clientId, mac: lease.mac } : null;
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
