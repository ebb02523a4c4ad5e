import { Inject, Injectable, Logger } from '@nestjs/common';
import { DomainError } from '@common/errors/domain-error';
import { normalizeMac } from '@common/mac';
import { AppConfig } from '@config/config.loader';
import {
  IpxeScriptError,
  renderErrorScript,
  renderFailureRecordedScript,
  renderKernelScript,
  renderLocalBootScript,
  renderSanbootScript,
  renderUnknownClientScript,
  renderWaitingScript,
} from '@protocols/ipxe/ipxe-script';
import { BootPolicyService, ClientBootFacts } from '../catalog';
import { BootPreparation } from './boot-preparation.service';
import { BootSessionTracker } from './boot-session-tracker';
import { clientPortal } from './client-portal';
import type { IscsiExportInfo } from './iscsi-exports.port';
import { NeighbourTable } from './neighbour-table';
import { TokenBucketLimiter } from './token-bucket';

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

/** Per source address: 20 requests back to back, then 2 per second (a boot needs one or two). */
export const SCRIPT_RATE_LIMIT = { burst: 20, refillPerSecond: 2 };
/** Token for the neighbour-table lookup (tests swap it). */
export const NEIGHBOUR_TABLE = Symbol('NEIGHBOUR_TABLE');
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
 * A script carries the client's CHAP secret, so a request is only answered for the MAC that is really asking: when
 * the kernel's neighbour table knows the requester's MAC and it is another one, the answer is the unknown-client
 * script. Requests are rate-limited per source address.
 */
@Injectable()
export class BootScriptService {
  private readonly logger = new Logger(BootScriptService.name);

  constructor(
    private readonly config: AppConfig,
    private readonly policy: BootPolicyService,
    private readonly preparation: BootPreparation,
    private readonly tracker: BootSessionTracker,
    @Inject(NEIGHBOUR_TABLE) private readonly neighbours: Pick<NeighbourTable, 'macOf'>,
    @Inject(SCRIPT_RATE_LIMITER) private readonly limiter: TokenBucketLimiter,
  ) {}

  /** The boot script for `rawMac` as requested by `who`. Never throws. */
  async scriptFor(rawMac: string | undefined, who: ScriptRequester): Promise<ScriptResponse> {
    const limited = this.rateLimited(who);
    if (limited) return limited;
    const mac = normalizeMac(rawMac ?? '');
    if (!mac) return { status: 400, body: renderUnknownClientScript(null) };
    const client = await this.identify(mac, who);
    switch (this.policy.standing(client)) {
      case 'unknown':
        return { status: 200, body: renderUnknownClientScript(mac) };
      case 'pending':
      case 'no-image':
        return { status: 200, body: renderWaitingScript({ mac }) };
      case 'disabled':
        return { status: 200, body: renderLocalBootScript('this machine is disabled for network boot; booting locally') };
      case 'bootable':
        break;
    }
    if (!client) return { status: 200, body: renderUnknownClientScript(mac) }; // narrowed: `bootable` has a record

    await this.tracker.settle(client.id);
    await this.tracker.onScriptRequested({ clientId: client.id, clientIp: who.sourceIp, serverIp: who.serverIp });
    let body: string;
    try {
      body = await this.prepare(client, mac, who);
    } catch (err) {
      const reason = this.reasonOf(err);
      this.logger.warn(`no boot for ${client.hostname} (${mac}): ${reason}`);
      await this.tracker.onBootFailed({ clientId: client.id, stage: 'prepare', error: reason });
      return { status: 200, body: renderErrorScript(reason) };
    }
    await this.tracker.onScriptServed({ clientId: client.id, clientIp: who.sourceIp, serverIp: who.serverIp });
    return { status: 200, body };
  }

  /** The client's script reported a failed boot step (`stage`, iPXE `errno`). Never throws. */
  async failureReported(rawMac: string | undefined, stage: unknown, err: unknown, who: ScriptRequester): Promise<ScriptResponse> {
    const limited = this.rateLimited(who);
    if (limited) return limited;
    const mac = normalizeMac(rawMac ?? '');
    if (!mac) return { status: 400, body: renderUnknownClientScript(null) };
    if (typeof stage !== 'string' || !STAGE.test(stage) || typeof err !== 'string' || !IPXE_ERRNO.test(err)) {
      return { status: 400, body: renderErrorScript('bad failure report (stage, err)', 0) };
    }
    const client = await this.identify(mac, who);
    if (!client) return { status: 200, body: renderUnknownClientScript(mac) };
    const code = err.toLowerCase().replace(/^0x/, '').padStart(8, '0');
    await this.tracker.onBootFailed({ clientId: client.id, stage, error: `iPXE error 0x${code} (https://ipxe.org/${code})` });
    return { status: 200, body: renderFailureRecordedScript(stage, `0x${code}`) };
  }

  private rateLimited(who: ScriptRequester): ScriptResponse | null {
    if (this.limiter.take(who.sourceIp)) return null;
    this.logger.warn(`boot script requests from ${who.sourceIp} rate-limited`);
    return {
      status: 429,
      body: renderErrorScript('too many requests, try again later', 5),
      retryAfter: this.limiter.retryAfterSeconds(who.sourceIp),
    };
  }

  /** The client with this MAC, unless the requester is provably another machine. */
  private async identify(mac: string, who: ScriptRequester): Promise<ClientBootFacts | null> {
    const seen = await this.neighbours.macOf(who.sourceIp);
    if (seen && seen !== mac) {
      this.logger.warn(`${who.sourceIp} (${seen}) asked for the boot script of ${mac}; refused`);
      return null;
    }
    return this.policy.lookup(mac);
  }

  /**
   * Disk and export (the one preparation step), then the script for the boot policy's method. The export's portal is
   * where tgtd listens; the script names the address the client can connect to ({@link clientPortal}).
   */
  private async prepare(client: ClientBootFacts, mac: string, who: ScriptRequester): Promise<string> {
    const prepared = await this.preparation.prepare(client.id);
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
    const report = { serverIp: who.serverIp, httpPort: this.config.http.port, mac };
    const method = target.method;
    if (method.kind === 'kernel') {
      return renderKernelScript({
        mac,
        hostname: target.client.hostname,
        kernel: method.kernel,
        initrd: method.initrd,
        cmdline: [method.cmdline, iscsiRootParams(exp)].filter(Boolean).join(' '),
        extraCmdline: method.extraCmdline,
        report,
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

/**
 * dracut's iSCSI root parameters (dracut.cmdline(7): `netroot=iscsi:[user:pass@]server::port:lun:target`,
 * `rd.iscsi.initiator=`), so a kernel-booted image can mount the same per-client disk a SAN boot would use.
 */
export function iscsiRootParams(exp: IscsiExportInfo): string {
  return (
    `rd.iscsi.initiator=${exp.initiatorIqn} ` +
    `netroot=iscsi:${exp.chapUser}:${exp.chapSecret}@${exp.portal.address}::${exp.portal.port}:${exp.lun}:${exp.targetIqn}`
  );
}
