import { Inject, Injectable, Logger } from '@nestjs/common';
import { createSocket } from 'node:dgram';
import { cidrContains, parseCidr, parseIpv4 } from '@common/net/ipv4';
import { BootTrust, ClientBootFacts, trustOf } from '../../catalog';
import { DhcpLeasesService } from '../dhcp/dhcp-leases.service';
import { DhcpProvider } from '../dhcp/dhcp.provider';
import { NEIGHBOUR_TABLE, NeighbourTable } from '../neighbour-table';
import { ThrottledLog } from '../boot-rate-limit';
import { BootTokens } from './boot-tokens.service';
import { LeaseFact, LeaseMemo } from './lease-memo';

/** How long the parsed list of served ranges is reused. */
const RANGES_REREAD_MS = 1000;
/** …and at most this often again when an address matched none of them. */
const RANGES_MISS_REREAD_MS = 50;

/** Good tokens remembered at most (each is a few dozen bytes). */
const GOOD_TOKENS_MAX = 16_384;

/** When a well-formed token (`<expiry base36>.<mac>`) expires, in ms since the epoch (0 when it cannot be read). */
function expiresAtMs(token: string): number {
  const sec = Number.parseInt(token.slice(0, token.indexOf('.')), 36);
  return Number.isSafeInteger(sec) ? sec * 1000 : 0;
}

/** How long DLS waits for the kernel to resolve a requester's MAC after probing it. */
export const NEIGHBOUR_PROBE_MS = 1000;
const PROBE_POLL_MS = 50;

/** The ranges DLS serves now (address families it can check). */
interface TrustRange {
  mode: 'full' | 'proxy';
  id: string;
  cidr: NonNullable<ReturnType<typeof parseCidr>>;
}

/**
 * Gathers the facts of one boot-route request and asks the boot policy's trust rule ({@link trustOf}) whether the
 * requester is the client it names. Ranges come from the DHCP provider's memory (kept current by range change
 * events), the token check is pure CPU; only a lease lookup (full mode) and, when the kernel has no neighbour entry
 * yet, a probe of the requester cost more. Never throws: a failure to gather a fact refuses the request.
 */
@Injectable()
export class BootTrustService {
  private readonly logger = new Logger(BootTrustService.name);

  constructor(
    private readonly tokens: BootTokens,
    private readonly dhcp: DhcpProvider,
    private readonly leases: DhcpLeasesService,
    @Inject(NEIGHBOUR_TABLE) private readonly neighbours: Pick<NeighbourTable, 'macOf'>,
    private readonly memo: LeaseMemo,
  ) {}

  /** A refused requester is logged once a minute per address and MAC (a PC retrying in a loop wrote a line per try). */
  private readonly refusals = new ThrottledLog((line) => this.logger.warn(line));

  check(mac: string, token: unknown, sourceIp: string, client: ClientBootFacts | null): Promise<BootTrust> {
    try {
      const range = this.rangeOf(sourceIp);
      // Full mode with the lease in memory (a boot's repeated requests): every fact is at hand, no await.
      const known = range?.mode === 'full' ? this.memo.get(range.id, mac) : undefined;
      if (range && known) return Promise.resolve(this.decide(mac, token, sourceIp, range, known.ip ?? client?.ipAddress ?? null));
      return this.gather(mac, token, sourceIp, client, range);
    } catch (err) {
      return Promise.resolve(this.unchecked(mac, sourceIp, err));
    }
  }

  /**
   * The verdict when every fact is in memory and it is "yes" (full mode, the lease memo holds, the token was found
   * good before): synchronous, for the script route's repeated path. `null` otherwise — ask {@link check}, which
   * gathers what is missing and logs refusals.
   */
  checkNow(mac: string, token: unknown, sourceIp: string, client: ClientBootFacts): BootTrust | null {
    if (typeof token !== 'string') return null;
    const n = parseIpv4(sourceIp);
    if (n === null) return null;
    let range: TrustRange | null = null;
    for (const r of this.servedRanges()) {
      if (cidrContains(r.cidr, n)) {
        range = r;
        break;
      }
    }
    if (range?.mode !== 'full') return null;
    const known = this.memo.get(range.id, mac);
    const assignedIp = known ? (known.ip ?? client.ipAddress ?? null) : null;
    if (assignedIp !== sourceIp) return null;
    const until = this.goodTokens.get(`${mac}|${assignedIp}|${token}`);
    return until !== undefined && until > Date.now() ? { ok: true } : null;
  }

  private async gather(mac: string, token: unknown, sourceIp: string, client: ClientBootFacts | null, range: TrustRange | null): Promise<BootTrust> {
    try {
      const assignedIp = range?.mode === 'full' ? ((await this.leaseOf(range.id, mac)).ip ?? client?.ipAddress ?? null) : null;
      return await this.decide(mac, token, sourceIp, range, assignedIp);
    } catch (err) {
      return this.unchecked(mac, sourceIp, err);
    }
  }

  /** The verdict once the range and (full mode) the assigned address are known; a neighbour lookup only if needed. */
  private decide(mac: string, token: unknown, sourceIp: string, range: TrustRange | null, assignedIp: string | null): BootTrust | Promise<BootTrust> {
    const tokenProblem = range ? this.tokenProblem(token, mac, range.mode === 'full' ? assignedIp : null) : null;
    const needsNeighbour = range !== null && tokenProblem === null && !(range.mode === 'full' && assignedIp !== null);
    const verdictOf = (neighbourMac: string | null): BootTrust => {
      const verdict = trustOf({ mac, sourceIp, rangeMode: range?.mode ?? null, tokenProblem, assignedIp, neighbourMac });
      if (!verdict.ok) this.refusals.log(`${sourceIp}|${mac}`, (held) => refusedLine(mac, sourceIp, verdict.reason, held));
      return verdict;
    };
    return needsNeighbour ? this.neighbourOf(sourceIp).then(verdictOf) : verdictOf(null);
  }

  private unchecked(mac: string, sourceIp: string, err: unknown): BootTrust {
    const reason = `could not check the request: ${(err as Error).message}`;
    this.refusals.log(`${sourceIp}|${mac}`, (held) => refusedLine(mac, sourceIp, reason, held));
    return { ok: false, reason };
  }

  /**
   * {@link BootTokens.problem}, with the tokens found good remembered until they expire: a boot's repeats carry the
   * same token, and the HMAC was the costliest step of a repeated request. Only good tokens are kept (a bad one is
   * checked every time), at most {@link GOOD_TOKENS_MAX}, oldest first out.
   */
  private tokenProblem(token: unknown, mac: string, ip: string | null): string | null {
    const key = typeof token === 'string' ? `${mac}|${ip ?? '-'}|${token}` : null;
    const until = key ? this.goodTokens.get(key) : undefined;
    if (until !== undefined && until > Date.now()) return null;
    const problem = this.tokens.problem(token, mac, ip);
    if (problem === null && key) {
      this.goodTokens.set(key, expiresAtMs(token as string));
      if (this.goodTokens.size > GOOD_TOKENS_MAX) this.goodTokens.delete(this.goodTokens.keys().next().value as string);
    }
    return problem;
  }

  private readonly goodTokens = new Map<string, number>();

  /**
   * The active lease of `mac` in a full-mode range (offered or bound, unexpired): from {@link LeaseMemo} when a read
   * of the last few seconds still holds, else one query.
   */
  private async leaseOf(rangeId: string, mac: string): Promise<LeaseFact> {
    const known = this.memo.get(rangeId, mac);
    if (known) return known;
    const lease = await this.leases.findByMac(rangeId, mac);
    const active = lease && (lease.state === 'bound' || lease.state === 'offered') && lease.expiresAt.getTime() > Date.now();
    const fact: LeaseFact = active ? { ip: lease.ip, expiresAtMs: lease.expiresAt.getTime() } : { ip: null, expiresAtMs: 0 };
    this.memo.set(rangeId, mac, fact);
    return fact;
  }

  /** The served range whose network holds `ip` (relayed ranges included), or null. */
  /** Whether `ip` lies in a full-mode range DLS serves now (tokens there are bound to the leased address). */
  isFullRange(ip: string): boolean {
    try {
      return this.rangeOf(ip)?.mode === 'full';
    } catch {
      return false;
    }
  }

  /** Whether `ip` lies in a boot range DLS serves now (the first fence of every boot route). */
  onBootNetwork(ip: string): boolean {
    try {
      return this.rangeOf(ip) !== null;
    } catch {
      return false;
    }
  }

  private rangeOf(ip: string): TrustRange | null {
    const n = parseIpv4(ip);
    if (n === null) return null;
    for (const r of this.servedRanges()) if (cidrContains(r.cidr, n)) return r;
    // A range served since the list was read would be refused for up to RANGES_REREAD_MS: read again on a miss
    // (at most every RANGES_MISS_REREAD_MS, so requests from off the boot networks cannot make it read each time).
    if (Date.now() - this.rangesAtMs < RANGES_MISS_REREAD_MS) return null;
    this.ranges = null;
    for (const r of this.servedRanges()) if (cidrContains(r.cidr, n)) return r;
    return null;
  }

  /**
   * The DHCP provider's served ranges, parsed; re-read at most every {@link RANGES_REREAD_MS} (a boot storm asks this
   * per request; a range change reaches the DHCP provider itself only after its own debounce).
   */
  private servedRanges(): TrustRange[] {
    const now = Date.now();
    if (this.ranges && now - this.rangesAtMs < RANGES_REREAD_MS) return this.ranges;
    this.ranges = this.dhcp
      .status()
      .ranges.map((r) => ({ mode: r.mode, id: r.id, cidr: parseCidr(r.cidr) }))
      .filter((r): r is TrustRange => r.cidr !== null);
    this.rangesAtMs = now;
    return this.ranges;
  }

  private ranges: TrustRange[] | null = null;
  private rangesAtMs = 0;

  /**
   * The neighbour entry of `ip`; when the kernel has none (it may have expired since the TCP handshake), one UDP
   * datagram to the requester's discard port makes the kernel resolve it, and the table is read again until
   * {@link NEIGHBOUR_PROBE_MS} has passed.
   */
  private async neighbourOf(ip: string): Promise<string | null> {
    const known = await this.neighbours.macOf(ip);
    if (known) return known;
    await probe(ip);
    const deadline = Date.now() + NEIGHBOUR_PROBE_MS;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, PROBE_POLL_MS));
      const mac = await this.neighbours.macOf(ip);
      if (mac) return mac;
    }
    return null;
  }
}

function refusedLine(mac: string, sourceIp: string, reason: string, held: number): string {
  return `boot request for ${mac} from ${sourceIp} refused: ${reason}${held ? ` (${held} more refusals in the last minute not logged)` : ''}`;
}

/** Sends one empty datagram to `ip`:9 (discard), which makes the kernel resolve the address on the local link. */
function probe(ip: string): Promise<void> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve();
    });
    s.send(Buffer.alloc(0), 9, ip, () => {
      s.close();
      resolve();
    });
  });
}
