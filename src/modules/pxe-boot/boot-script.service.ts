import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { DomainError } from '@common/errors/domain-error';
import { normalizeMac } from '@common/mac';
import { AppConfig } from '@config/config.loader';
import {
  IpxeScriptError,
  ipxeBootFile,
  isBootFilePath,
  renderDiskInUseScript,
  renderErrorScript,
  renderFailureRecordedScript,
  renderKernelScript,
  renderLocalBootScript,
  renderSanbootScript,
  renderUnknownClientScript,
  renderWaitingScript,
} from '@protocols/ipxe/ipxe-script';
import { logLine } from '@common/logging/log-line';
import { AuditService } from '../audit';
import { EVENT_PUBLISHER, EventPublisher } from '../events';
import { DlsMetrics, ScriptMetricOutcome } from '../metrics';
import { BootPolicyService, ClientBootFacts } from '../catalog';
import { BootPreparation, PreparedBoot } from './boot-preparation.service';
import { BootRateLimiter, RateRefusal } from './boot-rate-limit';
import { BootSessionTracker } from './boot-session-tracker';
import { clientPortal } from './client-portal';
import { BootTrustService } from './boot-trust/boot-trust.service';
import { BootTokens } from './boot-trust/boot-tokens.service';
import { GrubConfigError, renderGrubKernelConfig, renderGrubMessageConfig } from '@protocols/grub/grub-config';
import { ISCSI_EXPORTS, IscsiExportsPort } from './iscsi-exports.port';
import { iscsiInitrd, iscsiRootParams } from './iscsi-initrd';
import { NEIGHBOUR_TABLE } from './neighbour-table';
import { RecentLogins } from './recent-logins';

/** Why a script request was not served, as the `boot-script` event says it (null when served). */
const SCRIPT_EVENT_REASONS: Record<ScriptMetricOutcome, string | null> = {
  script: null,
  waiting: 'client pending or without an image',
  local: 'client disabled (local boot)',
  unknown: 'unknown client',
  disk_in_use: 'disk in use from another address',
  error: 'the boot could not be prepared (see the log)',
  refused: 'requester not trusted as this client',
  rate_limited: 'rate limited',
  bad_request: 'not a MAC address',
};

/** Where a script request came from and arrived at (addresses of the HTTP connection). */
export interface ScriptRequester {
  /** The client's address (the TCP peer). */
  sourceIp: string;
  /** Our address the client connected to: what it can reach us on (failure report URL, iSCSI portal). */
  serverIp: string;
}

/** An iPXE script and the HTTP status to send it with. */
export interface ScriptResponse {
  status: number;
  body: string;
  /** Seconds, for a `Retry-After` header on 429. */
  retryAfter?: number;
}

/** A boot route's answer that is a file, not a script: the iSCSI initrd fragment, or a one-line refusal. */
export interface BootFileResponse {
  status: number;
  body: Buffer | string;
  contentType: 'application/octet-stream' | 'text/plain; charset=utf-8';
  /** Seconds, for a `Retry-After` header on 429. */
  retryAfter?: number;
}

export { NEIGHBOUR_TABLE };
/** Token for the per-address rate limiter (tests swap it). */
export const SCRIPT_RATE_LIMITER = Symbol('SCRIPT_RATE_LIMITER');

const STAGE = /^[a-z][a-z0-9-]{0,31}$/;
const IPXE_ERRNO = /^(0x)?[0-9a-f]{1,8}$/i;

/**
 * The iPXE script route's side of the boot policy ({@link BootPolicyService} decides, this renders): a bootable
 * client gets its own copy-on-write disk exported over iSCSI and a `sanboot` script (or a kernel/initrd script for
 * Linux-style images); a disabled one boots locally; a pending one, or one without an image, is told to wait; an
 * unknown MAC gets a short script that says nothing about any image. Failures become a script that prints the
 * reason (the session goes to `error`).
 *
 * A script carries the client's CHAP secret, so a request is only answered when the boot policy's trust rule
 * ({@link BootTrustService}) accepts the requester as that MAC: 403 and the unknown-client script otherwise. A request
 * for a client whose disk has a live iSCSI login from another address changes nothing and gets a "disk in use"
 * script. Requests are rate-limited per source address (`DLS_BOOT_RATE_*`).
 *
 * Once per boot: the first script request of a session prepares the disk and export (or finds the DHCP prewarm's
 * work), the repeats of that boot are answered from memory ({@link BootPreparation}'s kept result, the tracker's
 * cached session) with no database round trip; session writes go out in the background.
 */
@Injectable()
export class BootScriptService {
  private readonly logger = new Logger(BootScriptService.name);

  constructor(
    private readonly config: AppConfig,
    private readonly policy: BootPolicyService,
    private readonly preparation: BootPreparation,
    private readonly tracker: BootSessionTracker,
    private readonly trust: BootTrustService,
    @Inject(ISCSI_EXPORTS) private readonly iscsi: Pick<IscsiExportsPort, 'activeSessionOf' | 'exportOfBoot'>,
    @Inject(SCRIPT_RATE_LIMITER) private readonly limiter: BootRateLimiter,
    private readonly recent: RecentLogins,
    private readonly tokens: BootTokens,
    @Optional() private readonly audit?: AuditService,
    @Optional() private readonly metrics?: DlsMetrics,
    @Optional() @Inject(EVENT_PUBLISHER) private readonly events?: EventPublisher,
  ) {}

  /** Client id → `<session id>|<address>` the script of that boot was last served to (one entry per client). */
  private readonly servedTo = new Map<string, string>();
  /** MAC → the client as the last full answer saw it; used only with a kept preparation (see {@link scriptNow}). */
  private readonly knownByMac = new Map<string, ClientBootFacts>();
  /** Client id → the script last rendered from a kept preparation (one entry per client). */
  private readonly rendered = new Map<string, { prepared: PreparedBoot; key: string; body: string }>();

  /** The boot script for `rawMac` as requested by `who` with the URL's `token`. Never throws. */
  async scriptFor(rawMac: string | undefined, who: ScriptRequester, token?: unknown): Promise<ScriptResponse> {
    const [outcome, r, quiet] = await this.answerScript(rawMac, who, token);
    this.metrics?.scriptRequests.inc({ route: 'script', outcome });
    if (this.events && !quiet) {
      const mac = normalizeMac(rawMac ?? '');
      // The client is in the directory's memory by now (the answer looked it up); an unknown MAC has none.
      const client = mac && outcome !== 'rate_limited' ? await this.policy.lookup(mac).catch(() => null) : null;
      this.events.emit('boot-script', {
        mac,
        clientId: client?.id ?? null,
        clientIp: who.sourceIp,
        outcome: outcome === 'script' ? 'served' : outcome === 'error' ? 'error' : 'refused',
        reason: SCRIPT_EVENT_REASONS[outcome],
      });
    }
    return r;
  }

  /**
   * The repeated request of a boot answered synchronously, when every fact is in memory — the client as the last
   * full answer saw it, its open session, this session's kept preparation (which any change to the client, its
   * group, image, version, disk or export drops), this address already served, and a trust verdict from memory.
   * No promise, no query: the boot storm's hot path. `null`: take {@link scriptFor}. The rate limit applies as
   * there (one token per request).
   */
  scriptNow(rawMac: string | undefined, who: ScriptRequester, token?: unknown): ScriptResponse | null {
    const mac = normalizeMac(rawMac ?? '');
    const client = mac ? this.knownByMac.get(mac) : undefined;
    if (!mac || !client) return null;
    const open = this.tracker.openNow(client.id);
    if (!open || (open.status !== 'starting' && open.status !== 'booting')) return null;
    if (this.servedTo.get(client.id) !== `${open.id}|${who.sourceIp}`) return null;
    const prepared = this.preparation.cached(client.id, open.id);
    if (!prepared || !this.trust.checkNow(mac, token, who.sourceIp, client)?.ok) return null;
    let body: string;
    try {
      body = this.renderOnce(client.id, prepared, mac, who, token as string);
    } catch {
      return null;
    }
    const refusal = this.limiter.take(who.sourceIp);
    if (refusal) {
      this.metrics?.scriptRequests.inc({ route: 'script', outcome: 'rate_limited' });
      if (refusal.logged) {
        this.events?.emit('boot-script', {
          mac,
          clientId: null,
          clientIp: who.sourceIp,
          outcome: 'refused',
          reason: SCRIPT_EVENT_REASONS.rate_limited,
        });
      }
      return this.tooMany(refusal);
    }
    if (open.status === 'starting') this.scriptServedLater(client.id, who);
    this.metrics?.scriptRequests.inc({ route: 'script', outcome: 'script' });
    return { status: 200, body };
  }

  /**
   * The answer, and whether it is "quiet": a repeat of what this boot was already told (the same script to the same
   * address within one session) or a refusal whose log line was held back — no `boot-script` event for those, so a
   * PC (or a host) asking in a loop does not flood the event log.
   */
  private async answerScript(
    rawMac: string | undefined,
    who: ScriptRequester,
    token: unknown,
  ): Promise<[ScriptMetricOutcome, ScriptResponse, boolean]> {
    const refusal = this.limiter.take(who.sourceIp);
    if (refusal) return ['rate_limited', this.tooMany(refusal), !refusal.logged];
    const mac = normalizeMac(rawMac ?? '');
    if (!mac) return ['bad_request', { status: 400, body: renderUnknownClientScript(null) }, false];
    const client = await this.policy.lookup(mac);
    if (!(await this.trust.check(mac, token, who.sourceIp, client)).ok)
      return ['refused', { status: 403, body: renderUnknownClientScript(mac) }, false];
    switch (this.policy.standing(client)) {
      case 'unknown':
        return ['unknown', { status: 200, body: renderUnknownClientScript(mac) }, false];
      case 'pending':
      case 'no-image':
        return ['waiting', { status: 200, body: renderWaitingScript({ mac }) }, false];
      case 'disabled':
        return ['local', { status: 200, body: renderLocalBootScript('this machine is disabled for network boot; booting locally') }, false];
      case 'bootable':
        break;
    }
    if (!client) return ['unknown', { status: 200, body: renderUnknownClientScript(mac) }, false]; // narrowed: `bootable` has a record
    const tok = typeof token === 'string' ? token : null;

    // The repeated request of a boot: its session is open (and not being changed), this session's disk and export
    // are prepared and nothing they were made from changed since, and this address was already given the script —
    // the same answer again, from memory: no query, no tgtadm, no write awaited.
    const open = this.tracker.openNow(client.id);
    if (open && (open.status === 'starting' || open.status === 'booting') && this.servedTo.get(client.id) === `${open.id}|${who.sourceIp}`) {
      const prepared = this.preparation.cached(client.id, open.id);
      if (prepared) {
        try {
          const body = this.renderOnce(client.id, prepared, mac, who, tok);
          if (open.status === 'starting') this.scriptServedLater(client.id, who);
          return ['script', { status: 200, body }, true];
        } catch {
          // Rendered fine for this session before; whatever changed, the full path below says what is wrong.
        }
      }
    }

    const inUse = await this.liveLoginElsewhere(client, who);
    if (inUse) return ['disk_in_use', { status: 200, body: renderDiskInUseScript(mac) }, false];
    await this.tracker.settle(client.id);
    const sessionId = await this.tracker.onScriptRequested({ clientId: client.id, clientIp: who.sourceIp, serverIp: who.serverIp, mac });
    let body: string;
    try {
      body = this.render(await this.preparation.prepare(client.id, sessionId), mac, who, tok);
    } catch (err) {
      const reason = this.reasonOf(err);
      this.logger.warn(logLine(`no boot for ${client.hostname} (${mac}): ${reason}`, { mac, clientId: client.id, sessionId }));
      await this.tracker.onBootFailed({ clientId: client.id, stage: 'prepare', error: reason });
      return ['error', { status: 200, body: renderErrorScript(reason) }, false];
    }
    const repeat = sessionId !== null && this.servedTo.get(client.id) === `${sessionId}|${who.sourceIp}`;
    if (sessionId) this.servedTo.set(client.id, `${sessionId}|${who.sourceIp}`);
    this.knownByMac.set(mac, client);
    this.scriptServedLater(client.id, who);
    return ['script', { status: 200, body }, repeat];
  }

  /**
   * The GRUB config of a Secure Boot client (shim → Debian's signed GRUB, which asks DLS's TFTP for the fixed name
   * `grub/grub.cfg`), for whoever asks from `who.sourceIp`. GRUB's fixed name carries no MAC and no token, so the
   * requester is identified by its address (the client DHCP gave it, or the lease table) and then checked with the
   * boot routes' trust rule as if it had come back with the token DHCP handed that MAC: on a boot network, in full mode
   * from the address DLS leases or reserves to it, else confirmed by the neighbour table — the address rules, without
   * the token's expiry. Then the same steps as the script route: the session, the disk and the export of this boot,
   * and a config that loads the image's kernel and initramfs and DLS's per-boot fragment (its TFTP name carries the
   * token, so the fragment keeps every rule). Never throws; what cannot boot gets a config that says why.
   */
  async grubConfigFor(who: ScriptRequester): Promise<string> {
    const message = (text: string) => renderGrubMessageConfig(text);
    const refusal = this.limiter.take(who.sourceIp);
    if (refusal) return message('too many requests, try again later');
    const owner = await this.tracker.ownerOfIp(who.sourceIp).catch(() => null);
    const mac = owner?.mac ? normalizeMac(owner.mac) : null;
    if (!mac) return message(`${who.sourceIp} is not a client DLS knows`);
    const client = await this.policy.lookup(mac);
    const token = this.tokens.sign(mac, this.trust.isFullRange(who.sourceIp) ? who.sourceIp : null);
    if (!(await this.trust.check(mac, token, who.sourceIp, client)).ok || !client) return message(`${mac} is not set up here`);
    if (this.policy.standing(client) !== 'bootable') return message(`${client.hostname} has nothing to boot from DLS now`);
    if (await this.liveLoginElsewhere(client, who)) return message(`the disk of ${client.hostname} is in use by a running machine`);
    await this.tracker.settle(client.id);
    const sessionId = await this.tracker.onScriptRequested({ clientId: client.id, clientIp: who.sourceIp, serverIp: who.serverIp, mac });
    try {
      const prepared = await this.preparation.prepare(client.id, sessionId);
      const method = prepared.target.method;
      if (method.kind !== 'kernel') {
        return message(`${client.hostname} boots with sanboot: under Secure Boot that needs a signed iPXE (see README)`);
      }
      if (!isBootFilePath(method.kernel) || (method.initrd !== null && !isBootFilePath(method.initrd))) {
        throw new GrubConfigError(
          'bootKernel',
          'a Secure Boot client loads its kernel and initrd from the boot files root: name them as paths there',
        );
      }
      const body = renderGrubKernelConfig({
        mac,
        hostname: client.hostname,
        server: who.serverIp,
        kernel: method.kernel,
        initrd: method.initrd,
        iscsiInitrd: `dls/${mac}/${token}/iscsi.cpio`,
        cmdline: method.cmdline,
        extraCmdline: method.extraCmdline,
      });
      this.scriptServedLater(client.id, who);
      return body;
    } catch (err) {
      const reason = err instanceof GrubConfigError ? err.message : this.reasonOf(err);
      this.logger.warn(logLine(`no Secure Boot config for ${client.hostname} (${mac}): ${reason}`, { mac, clientId: client.id, sessionId }));
      await this.tracker.onBootFailed({ clientId: client.id, stage: 'prepare', error: reason });
      return message(`no boot: ${reason}`);
    }
  }

  /**
   * {@link render}, remembered per client for the last (preparation, address reached, token) it was rendered for: a
   * boot's repeats ask for the same script; anything that changes what it says makes a new preparation object.
   */
  private renderOnce(clientId: string, prepared: PreparedBoot, mac: string, who: ScriptRequester, token: string | null): string {
    const key = `${mac}|${who.serverIp}|${token ?? ''}`;
    const last = this.rendered.get(clientId);
    if (last && last.prepared === prepared && last.key === key) return last.body;
    const body = this.render(prepared, mac, who, token);
    this.rendered.set(clientId, { prepared, key, body });
    return body;
  }

  /** The session's move to `booting` (and its `script_at`): written in the background, never awaited by a response. */
  private scriptServedLater(clientId: string, who: ScriptRequester): void {
    void this.tracker.onScriptServed({ clientId, clientIp: who.sourceIp, serverIp: who.serverIp });
  }

  /** The client's script reported a failed boot step (`stage`, iPXE `errno`). Never throws. */
  async failureReported(rawMac: string | undefined, stage: unknown, err: unknown, who: ScriptRequester, token?: unknown): Promise<ScriptResponse> {
    const r = await this.recordFailure(rawMac, stage, err, who, token);
    this.metrics?.scriptRequests.inc({ route: 'failed', outcome: outcomeOfStatus(r.status) });
    return r;
  }

  private async recordFailure(
    rawMac: string | undefined,
    stage: unknown,
    err: unknown,
    who: ScriptRequester,
    token: unknown,
  ): Promise<ScriptResponse> {
    const limited = this.rateLimited(who);
    if (limited) return limited;
    const mac = normalizeMac(rawMac ?? '');
    if (!mac) return { status: 400, body: renderUnknownClientScript(null) };
    if (typeof stage !== 'string' || !STAGE.test(stage) || typeof err !== 'string' || !IPXE_ERRNO.test(err)) {
      return { status: 400, body: renderErrorScript('bad failure report (stage, err)', 0) };
    }
    const client = await this.policy.lookup(mac);
    if (!(await this.trust.check(mac, token, who.sourceIp, client)).ok) return { status: 403, body: renderUnknownClientScript(mac) };
    if (!client) return { status: 200, body: renderUnknownClientScript(mac) };
    const code = err.toLowerCase().replace(/^0x/, '').padStart(8, '0');
    await this.tracker.onBootFailed({ clientId: client.id, stage, error: `iPXE error 0x${code} (https://ipxe.org/${code})` });
    return { status: 200, body: renderFailureRecordedScript(stage, `0x${code}`) };
  }

  /**
   * The per-boot iSCSI initrd fragment of a kernel boot (`GET /boot/<mac>/iscsi.cpio?t=`): a newc cpio whose dracut
   * config holds the login of THIS boot (the open session's CHAP secret). Guarded like the script — rate limit, the
   * trust rule (403, nothing learned), and a disk in use from another address (409, audited) — and free of side
   * effects: it opens no session, moves none, and exports nothing; it reads the export made for the open session
   * when the script was served. No open session, or an export not made for it: 409, fetch the script first. Never
   * throws.
   */
  async iscsiInitrdFor(rawMac: string | undefined, who: ScriptRequester, token?: unknown): Promise<BootFileResponse> {
    const r = await this.initrd(rawMac, who, token);
    this.metrics?.scriptRequests.inc({ route: 'initrd', outcome: outcomeOfStatus(r.status) });
    return r;
  }

  private async initrd(rawMac: string | undefined, who: ScriptRequester, token: unknown): Promise<BootFileResponse> {
    const text = (status: number, body: string, retryAfter?: number): BootFileResponse => ({
      status,
      body,
      contentType: 'text/plain; charset=utf-8',
      ...(retryAfter !== undefined ? { retryAfter } : {}),
    });
    const limited = this.rateLimited(who);
    if (limited) return text(limited.status, limited.body, limited.retryAfter);
    const mac = normalizeMac(rawMac ?? '');
    if (!mac) return text(400, renderUnknownClientScript(null));
    const client = await this.policy.lookup(mac);
    if (!(await this.trust.check(mac, token, who.sourceIp, client)).ok) return text(403, renderUnknownClientScript(mac));
    if (!client || this.policy.standing(client) !== 'bootable') return text(404, `DLS: ${mac} does not boot from DLS now\n`);
    try {
      const target = await this.policy.target(client.id);
      if (target.method.kind !== 'kernel') return text(404, `DLS: ${client.hostname} boots with sanboot; it has no initrd fragment\n`);
      if (await this.liveLoginElsewhere(client, who)) return text(409, `DLS: the disk of ${mac} is in use by a running machine\n`);
      const session = await this.tracker.openSessionOf(client.id);
      const exp = session ? await this.iscsi.exportOfBoot(client.id, session.id) : null;
      if (!exp) {
        const why = session ? 'its iSCSI export was not made for this boot' : 'it has no boot in progress';
        this.logger.warn(
          logLine(`iSCSI initrd of ${client.hostname} (${mac}) asked by ${who.sourceIp}: ${why}`, {
            mac,
            clientId: client.id,
            sessionId: session?.id,
          }),
        );
        return text(409, `DLS: no iSCSI initrd for ${client.hostname}: ${why}; fetch its boot script first\n`);
      }
      const portal = clientPortal(exp.portal, who.serverIp, this.config.boot.serverIp);
      if (!portal) return text(503, `DLS: no iSCSI portal address for a request that arrived on ${who.serverIp || 'an unknown address'}\n`);
      return { status: 200, body: iscsiInitrd({ ...exp, portal }), contentType: 'application/octet-stream' };
    } catch (err) {
      const reason = this.reasonOf(err);
      this.logger.warn(logLine(`no iSCSI initrd for ${client.hostname} (${mac}): ${reason}`, { mac, clientId: client.id }));
      return text(failureStatus(err), `DLS: no iSCSI initrd: ${reason}\n`);
    }
  }

  private rateLimited(who: ScriptRequester): ScriptResponse | null {
    const refusal = this.limiter.take(who.sourceIp);
    return refusal ? this.tooMany(refusal) : null;
  }

  private tooMany(refusal: RateRefusal): ScriptResponse {
    return { status: 429, body: renderErrorScript('too many requests, try again later', refusal.retryAfter), retryAfter: refusal.retryAfter };
  }

  /**
   * Whether the client's disk is logged in from another address than the requester's — live in tgt's listing now,
   * or listed within the last 10 s (`LOGIN_LINGER_MS`; a live client's connection is re-made now and then, see
   * {@link RecentLogins}): then a request must not disturb it (no reset, no re-export, no new session). Logged and
   * audited. A real reboot comes from the same address, or finds the old login gone for longer than that.
   */
  private async liveLoginElsewhere(client: ClientBootFacts, who: ScriptRequester): Promise<boolean> {
    // Fresh each time (a login made a moment ago counts); tgtd is asked about this client's target only.
    const live = await this.iscsi.activeSessionOf(client.id).catch(() => null);
    this.recent.recordOne(client.id, live);
    const from = live?.ip ?? this.recent.recentIp(client.id);
    if (!from || from === who.sourceIp) return false;
    this.logger.warn(`${who.sourceIp} asked for the boot script of ${client.hostname} (${client.mac}), whose disk is in use from ${from}; refused`);
    void this.audit?.record({
      action: 'boot.disk-in-use',
      entityType: 'clients',
      entityId: client.id,
      details: { requester: who.sourceIp, loggedInFrom: from },
    });
    return true;
  }

  /**
   * The script for the boot policy's method, from what the preparation made (the disk's export). The export's portal
   * is where tgtd listens; the script names the address the client can connect to ({@link clientPortal}). The CHAP
   * secret in a sanboot script is this boot's (derived from the open session); a kernel boot's goes in the initrd
   * fragment the script loads ({@link iscsiInitrdFor}), never on the kernel command line. Pure CPU.
   */
  private render(prepared: PreparedBoot, mac: string, who: ScriptRequester, token: string | null): string {
    const target = prepared.target;
    const portal = clientPortal(prepared.export.portal, who.serverIp, this.config.boot.serverIp);
    if (!portal) {
      throw new DomainError(
        'unavailable',
        'BOOT_PORTAL_UNKNOWN',
        `no iSCSI portal address for a request that arrived on ${who.serverIp || 'an unknown address'} (set DLS_BOOT_SERVER_IP)`,
      );
    }
    const exp = { ...prepared.export, portal };
    const report = { serverIp: who.serverIp, httpPort: this.config.http.port, mac, token };
    const method = target.method;
    if (method.kind === 'kernel') {
      iscsiRootParams(exp); // checked now, so a value dracut could not take fails this script, not the initrd fetch
      // A kernel or initrd stored as a path of the boot files root is fetched from DLS, at the address the client reached.
      const filesBase = `http://${who.serverIp}:${this.config.http.port}/boot/files`;
      return renderKernelScript({
        mac,
        hostname: target.client.hostname,
        kernel: ipxeBootFile(method.kernel, filesBase, 'kernel'),
        initrd: method.initrd ? ipxeBootFile(method.initrd, filesBase, 'initrd') : null,
        cmdline: method.cmdline,
        extraCmdline: method.extraCmdline,
        report,
        iscsiInitrd: true,
      });
    }
    return renderSanbootScript({ mac, hostname: target.client.hostname, ...exp, report });
  }

  private reasonOf(err: unknown): string {
    if (err instanceof DomainError || err instanceof IpxeScriptError) return err.message;
    this.logger.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    return 'internal error on the boot server (see its log)';
  }
}

/** HTTP status of a failed initrd fragment: a missing client or image 404, tgtd down 503, a refused value 409, else 500. */
function failureStatus(err: unknown): number {
  if (err instanceof DomainError) return err.kind === 'not_found' ? 404 : err.kind === 'unavailable' ? 503 : 409;
  return err instanceof IpxeScriptError ? 409 : 500;
}

/** The metric outcome of a `/boot` answer that is not a script (failure report, initrd fragment). */
function outcomeOfStatus(status: number): ScriptMetricOutcome {
  if (status === 200) return 'script';
  if (status === 400) return 'bad_request';
  if (status === 403) return 'refused';
  if (status === 404) return 'unknown';
  if (status === 409) return 'disk_in_use';
  if (status === 429) return 'rate_limited';
  return 'error';
}
