import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { PXE_BOOT_SERVER_PORT } from '@protocols/dhcp';
import { DlsMetrics } from '../../metrics';
import { AppConfig } from '@config/config.loader';
import { cidrContains, parseCidr } from '@common/net/ipv4';
import { ConflictError, DomainError } from '@common/errors/domain-error';
import { EVENT_PUBLISHER, EventPublisher } from '../../events';
import { ReadinessRegistry } from '../../health';
import { NetworkRange, NetworkRangesService } from '../../network';
import { BootSessionTracker } from '../boot-session-tracker';
import { RANGE_OWNERSHIP, RangeOwnershipPort } from '../../cluster';
import { SignedLoadersService } from '../signed-loaders/signed-loaders.service';
import { BootTokens } from '../boot-trust/boot-tokens.service';
import { interfaceInfo } from '../net/net-interfaces';
import { InterfaceState, InterfaceWatch, probeInterface, stateKey } from '../net/interface-watch';
import { enableLinkLocalIpv6, Ipv6Readiness, Ipv6Sysctl, NO_RA_COST, waitForLinkLocal } from '../net/ipv6-link-local';
import { InterfaceUdpSocket } from '../net/interface-udp-socket';
import { RouterAdvertiser } from '../net/router-advertiser';
import { RouteQuickAck } from '../net/route-quickack';
import { hostAddress } from './address-pool';
import { BootPolicyService } from '../../catalog';
import { ArrivalPort } from './dhcp-decision';
import { DhcpLeasesService } from './dhcp-leases.service';
import type { DhcpRange } from './dhcp.ports';
import { DhcpArrival, DhcpBinding, DhcpDecoded, DhcpServer, DhcpStats, ServedRange } from './dhcp.server';
import { DhcpIntake } from './dhcp-intake';
import { RangeBroadcaster, RangeBroadcastErrorCode, RangeBroadcastSent } from './range-broadcast';

/** How often ranges are re-read from the database when nobody calls reload(). */
export const RANGE_RELOAD_INTERVAL_MS = 60_000;
/** How long shutdown waits for requests being answered (a registration or a group commit each). */
const DRAIN_TIMEOUT_MS = 2000;

/** What the server currently serves. */
export interface DhcpServerStatus {
  running: boolean;
  /** Why it is not running, when it is not. */
  reason?: string;
  interfaces: {
    name: string;
    address: string;
    proxy: boolean;
    /** RAs are going out on this interface (iPXE's IPv6 wait ends at once). */
    routerAdvertisements: boolean;
    /** Why they are not (or not yet), with the cost and the fix; unset when they are, or when none are needed. */
    raProblem?: string;
  }[];
  /** Interfaces that enabled ranges name but that are not served now (missing, down, no IPv4 address, bind failed). */
  unavailable: { name: string; reason: string; ranges: string[] }[];
  /** Ranges this node could serve that another node holds (several nodes on one database). */
  standby: { range: string; holder: string | null }[];
  ranges: { id: string; name: string; cidr: string; mode: 'full' | 'proxy'; interface: string; relayOnly: boolean }[];
}

/** A queued request and where it arrived. */
interface Job {
  decoded: DhcpDecoded;
  arrival: DhcpArrival;
}

interface Binding extends DhcpBinding {
  /** The interface's request queue (both ports share it: one CPU serves them). */
  intake: DhcpIntake<Job>;
  dhcp: InterfaceUdpSocket;
  pxe: InterfaceUdpSocket | null;
  ra: RouterAdvertiser | null;
  /** Delayed ACKs were turned off on this interface's routes (and must be restored). */
  quickAck?: boolean;
  /** `index address proxy`: a binding whose key changed (interface re-created, new address) is re-opened. */
  key: string;
  /** RAs wanted here (the interface's own address is in one of its ranges). */
  wantsRa: boolean;
  raProblem?: string;
  closed?: boolean;
}

/** Seams for the unit spec: how interfaces are probed and how IPv6 is made ready. */
export interface DhcpProviderAdapters {
  probe: (name: string, fallbackAddress?: string) => InterfaceState;
  prepareIpv6: (name: string, mayChange: boolean) => Promise<Ipv6Readiness>;
}

const defaultAdapters: DhcpProviderAdapters = {
  probe: probeInterface,
  prepareIpv6: (name, mayChange) => enableLinkLocalIpv6(name, { mayChange, sysctl: new Ipv6Sysctl(), waitLinkLocal: (n) => waitForLinkLocal(n) }),
};

const ZERO_IP = '0.0.0.0';
/** The limited broadcast address (RFC 919 §7): with SO_BINDTODEVICE it leaves through the bound interface only. */
const BROADCAST_IP = '255.255.255.255';

/** The plain range data the handler answers from (a served range has an interface and is not `off`). */
export function toDhcpRange(r: NetworkRange): DhcpRange {
  return {
    id: r.id,
    name: r.name,
    cidr: r.cidr,
    gateway: r.gateway,
    dnsServers: r.dnsServers,
    dhcpMode: r.dhcpMode as 'full' | 'proxy',
    poolStart: r.poolStart,
    poolEnd: r.poolEnd,
    leaseSeconds: r.leaseSeconds,
    nextServer: r.nextServer,
    interface: r.interface!,
    unknownClientPolicy: r.unknownClientPolicy,
  };
}

/**
 * The DHCP / proxyDHCP server of DLS as a lifecycle provider: it binds in `onApplicationBootstrap` (when
 * `config.dhcp.enabled`), and closes its sockets in `onApplicationShutdown`. Requests are answered by the
 * framework-free {@link DhcpServer}; this class owns what it listens on.
 *
 * Ranges (enabled, dhcp_mode full or proxy, read through {@link NetworkRangesService.listEnabled}) are served on
 * their `interface`: one interface-bound socket per interface on `config.dhcp.port`, plus port 4011 for proxy
 * ranges, plus IPv6 router advertisements (router lifetime 0, M=O=0, no prefix) when `config.boot.ipv6Ra`, so
 * iPXE's IPv6 autoconfiguration wait ends at once — after turning IPv6 on there, link-local only, where it is off
 * (unless `config.boot.ipv6Enable` is false) — plus delayed ACKs off on the interface's routes when
 * `config.boot.tcpQuickAck`. A range without an interface is not served. An interface that is missing, down or
 * without an IPv4 address is skipped (the others are served) and watched: it is bound as soon as it is usable, and
 * unbound when it goes away ({@link InterfaceWatch}, every 2 s). Every datagram is handled in its own promise;
 * shutdown waits (briefly) for those in flight.
 */
@Injectable()
export class DhcpProvider implements OnApplicationBootstrap, OnApplicationShutdown, RangeBroadcaster {
  private readonly logger = new Logger('DhcpServer');
  private readonly quickAck = new RouteQuickAck();
  private readonly server: DhcpServer;
  /** How interfaces are probed and IPv6 prepared; unit specs replace it before bootstrap. */
  adapters: DhcpProviderAdapters = defaultAdapters;
  private readonly watch = new InterfaceWatch({
    probe: (name) => this.adapters.probe(name, this.config.boot.serverIp),
    onChange: async () => void (await this.reload()),
    onError: (err) => this.logger.warn(`reload after an interface change failed: ${err.message}`),
  });
  private bindings = new Map<string, Binding>();
  private served: ServedRange[] = [];
  /** The ranges the last reload wanted to serve (enabled, full or proxy, with an interface), served or not. */
  private wanted: DhcpRange[] = [];
  private unavailable: DhcpServerStatus['unavailable'] = [];
  /** The state each wanted interface had at the last reload, for one log line per transition. */
  private interfaceStates = new Map<string, InterfaceState>();
  /** The RA problem last logged per interface, so each is logged once. */
  private readonly raReported = new Map<string, string>();
  private lastSummary = '';
  /** Ranges another node serves while this one waits to take over (with several nodes on one database). */
  private standby: { range: string; holder: string | null }[] = [];
  private lastStandby = '[]';
  private heldBefore = new Set<string>();
  /** Intakes of closed bindings still finishing their requests (awaited at shutdown). */
  private readonly draining = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private reloading: Promise<DhcpServerStatus> | null = null;
  private stopped = false;
  private notRunningReason: string | undefined = 'not started';

  constructor(
    private readonly config: AppConfig,
    private readonly ranges: NetworkRangesService,
    policy: BootPolicyService,
    private readonly leases: DhcpLeasesService,
    tracker: BootSessionTracker,
    tokens: BootTokens,
    @Optional() private readonly readiness?: ReadinessRegistry,
    @Optional() metrics?: DlsMetrics,
    @Optional() @Inject(EVENT_PUBLISHER) events?: EventPublisher,
    @Optional() signedLoaders?: SignedLoadersService,
    @Optional() @Inject(RANGE_OWNERSHIP) private readonly ownership?: RangeOwnershipPort,
  ) {
    this.server = new DhcpServer({
      clients: policy,
      leases,
      tracker,
      exchanges: events && { exchange: (e) => events.emit('dhcp', e) },
      tokens,
      signedLoaders,
      owns: ownership && ((rangeId) => ownership.holds(rangeId)),
      httpPort: config.http.port,
      logger: this.logger,
      isDebugEnabled: () => Logger.isLevelEnabled('debug'),
      metrics: metrics && { count: (type, outcome, range) => metrics.dhcpPackets.inc({ type, outcome, range }) },
    });
    this.metrics = metrics;
    metrics?.setDhcpQueueSource(() => new Map([...this.bindings.values()].map((b) => [b.name, b.intake.depth])));
  }

  private readonly metrics: DlsMetrics | undefined;

  /** Requests waiting in each interface's queue and being handled. */
  queues(): { interface: string; depth: number; active: number }[] {
    return [...this.bindings.values()].map((b) => ({ interface: b.name, depth: b.intake.depth, active: b.intake.active }));
  }

  /**
   * Readiness parts: `dhcp` is down while an interface an enabled range names is not served (missing, down, no
   * address, bind failed); `router-advertisements` (when DLS_IPV6_RA is on) is down while a served interface sends
   * none — iPXE then waits ~15 s per boot — with the reason and the fix in its detail.
   */
  private registerReadiness(): void {
    this.readiness?.register('dhcp', () => {
      const s = this.status();
      return Promise.resolve({
        up: s.unavailable.length === 0,
        detail: { interfaces: s.interfaces.map((i) => ({ name: i.name, address: i.address, proxy: i.proxy })), unavailable: s.unavailable },
      });
    });
    if (!this.config.boot.ipv6Ra) return;
    this.readiness?.register('router-advertisements', () => {
      const problems = this.status().interfaces.filter((i) => i.raProblem !== undefined);
      return Promise.resolve({ up: problems.length === 0, detail: { problems: problems.map((i) => ({ interface: i.name, problem: i.raProblem })) } });
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.dhcp.enabled) {
      this.notRunningReason = 'DHCP is disabled (DLS_DHCP_ENABLED=false)';
      this.logger.log(this.notRunningReason);
      return;
    }
    this.stopped = false;
    this.registerReadiness();
    // A hold gained (a standby taking over) or lost (renewal refused, drained): serve what is held now.
    this.ownership?.onChange(() => void this.reload().catch((err: unknown) => this.logger.warn(`range reload failed: ${(err as Error).message}`)));
    await this.reload();
    this.timer = setInterval(() => {
      this.reload().catch((err: unknown) => this.logger.warn(`range reload failed: ${(err as Error).message}`));
    }, RANGE_RELOAD_INTERVAL_MS);
    this.timer.unref();
    this.watch.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.watch.stop();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.reloading) await this.reloading.catch(() => undefined);
    this.closeBindings();
    if (this.draining.size > 0) await Promise.allSettled([...this.draining]);
  }

  /** Counters since start. */
  stats(): DhcpStats {
    return this.server.stats();
  }

  /** What is being served right now, and per interface whether RAs go out and why not. */
  status(): DhcpServerStatus {
    return {
      running: this.bindings.size > 0,
      reason: this.bindings.size > 0 ? undefined : this.notRunningReason,
      interfaces: [...this.bindings.values()].map((b) => {
        const sent = b.ra !== null && b.ra.stats.unsolicited + b.ra.stats.solicited > 0;
        return {
          name: b.name,
          address: b.address,
          proxy: b.pxe !== null,
          routerAdvertisements: sent,
          ...(b.wantsRa && !sent && b.raProblem ? { raProblem: b.raProblem } : {}),
        };
      }),
      unavailable: this.unavailable,
      standby: this.standby,
      ranges: this.served.map((s) => ({
        id: s.range.id,
        name: s.range.name,
        cidr: s.range.cidr,
        mode: s.range.dhcpMode,
        interface: s.range.interface,
        relayOnly: s.relayOnly,
      })),
    };
  }

  /**
   * {@link RangeBroadcaster}: sends `payload` to 255.255.255.255:`port` through the DHCP socket bound to the interface
   * range `rangeId` is served on (SO_BINDTODEVICE + SO_BROADCAST: it leaves through that interface and no other).
   * Answers from what the last reload found, like the DHCP handler itself.
   */
  broadcastOnRange(rangeId: string, port: number, payload: Buffer): RangeBroadcastSent {
    if (!this.config.dhcp.enabled) {
      throw new ConflictError(
        RangeBroadcastErrorCode.DHCP_DISABLED,
        'DHCP is disabled on this node (DLS_DHCP_ENABLED=false): it holds no socket on any boot interface',
        { rangeId },
      );
    }
    const wanted = this.wanted.find((r) => r.id === rangeId);
    if (!wanted) {
      throw new ConflictError(
        RangeBroadcastErrorCode.RANGE_NOT_SERVED,
        `range ${rangeId} is not served by DHCP on this node (disabled, dhcpMode off, no interface, or not loaded yet)`,
        { rangeId },
      );
    }
    const served = this.served.find((s) => s.range.id === rangeId);
    if (!served) {
      const reason = this.unavailable.find((u) => u.name === wanted.interface)?.reason ?? 'not bound';
      throw new ConflictError(
        RangeBroadcastErrorCode.INTERFACE_UNAVAILABLE,
        `interface ${wanted.interface} of range ${wanted.name} is not served: ${reason}`,
        { rangeId, interface: wanted.interface, reason },
      );
    }
    const { range } = served;
    if (served.relayOnly) {
      throw new ConflictError(
        RangeBroadcastErrorCode.RANGE_RELAYED,
        `range ${range.name} (${range.cidr}) is reached through a DHCP relay: ${range.interface} has no address in it, so a broadcast there would not reach its hosts`,
        { rangeId, interface: range.interface },
      );
    }
    const binding = this.bindings.get(range.interface);
    if (!binding || binding.closed || !binding.dhcp?.isOpen) {
      throw new ConflictError(
        RangeBroadcastErrorCode.INTERFACE_UNAVAILABLE,
        `interface ${range.interface} of range ${range.name} has no open socket`,
        {
          rangeId,
          interface: range.interface,
        },
      );
    }
    try {
      binding.dhcp.send(payload, port, BROADCAST_IP);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new DomainError('unavailable', RangeBroadcastErrorCode.BROADCAST_FAILED, `sending on ${range.interface} failed: ${e.code ?? e.message}`, {
        rangeId,
        interface: range.interface,
        errno: e.code,
      });
    }
    return { interface: range.interface };
  }

  /**
   * Re-reads the network ranges and converges the bindings: interfaces no longer wanted, gone or changed (new index
   * or address) are closed, usable ones opened. Call it after ranges change; it also runs every
   * {@link RANGE_RELOAD_INTERVAL_MS} and when a watched interface changes. Never throws for a failed bind: that
   * interface is logged and reported in `status().unavailable`, the others are served.
   */
  reload(): Promise<DhcpServerStatus> {
    if (!this.config.dhcp.enabled || this.stopped) return Promise.resolve(this.status());
    // Serialise: a reload requested while one runs waits for it and then runs again.
    const run = (this.reloading ?? Promise.resolve()).catch(() => undefined).then(() => this.doReload());
    this.reloading = run;
    void run
      .finally(() => {
        if (this.reloading === run) this.reloading = null;
      })
      .catch(() => undefined);
    return run;
  }

  private async doReload(): Promise<DhcpServerStatus> {
    if (this.stopped) return this.status();
    const rows = await this.ranges.listEnabled();
    const wanted: DhcpRange[] = [];
    for (const r of rows) {
      if (!r.interface) {
        this.logger.warn(`range ${r.name} has no interface; DHCP will not serve it`);
        continue;
      }
      if (!parseCidr(r.cidr)) {
        this.logger.warn(`range ${r.name} has an unusable CIDR ${r.cidr}; DHCP will not serve it`);
        continue;
      }
      wanted.push(toDhcpRange(r));
    }
    this.wanted = wanted;
    const byInterface = new Map<string, DhcpRange[]>();
    for (const r of wanted) byInterface.set(r.interface, [...(byInterface.get(r.interface) ?? []), r]);

    const states = new Map<string, InterfaceState>();
    for (const name of byInterface.keys()) states.set(name, this.adapters.probe(name, this.config.boot.serverIp));
    this.watch.expect(states);
    this.logTransitions(byInterface, states);
    const held = await this.holdRanges(wanted, states, byInterface);

    for (const [name, b] of this.bindings) {
      const state = states.get(name);
      const ranges = byInterface.get(name);
      if (state?.usable && ranges && b.key === bindingKey(state, ranges)) continue;
      this.closeBinding(b);
      this.bindings.delete(name);
    }
    const failed = new Map<string, string>();
    for (const [name, ranges] of byInterface) {
      const state = states.get(name)!;
      if (!state.usable || this.bindings.has(name)) continue;
      try {
        this.bindings.set(name, this.openBinding(name, ranges, state));
      } catch (err) {
        failed.set(name, (err as Error).message);
        this.logger.error(`DHCP not serving ${name}: ${(err as Error).message}`);
      }
    }
    this.unavailable = [...byInterface]
      .filter(([name]) => !this.bindings.has(name))
      .map(([name, ranges]) => {
        const state = states.get(name)!;
        const reason = failed.get(name) ?? (state.usable ? 'not bound' : `interface ${state.reason}`);
        return { name, reason, ranges: ranges.map((r) => r.name) };
      });

    this.served = wanted
      .filter((range) => this.bindings.has(range.interface) && held.has(range.id))
      .map((range) => {
        const binding = this.bindings.get(range.interface)!;
        const cidr = parseCidr(range.cidr)!;
        const own = binding.info.ipv4 ? hostAddress(binding.info.ipv4.address) : null;
        return { range, cidr, relayOnly: own === null || !cidrContains(cidr, own) };
      });
    if (this.bindings.size === 0) {
      this.served = [];
      this.notRunningReason =
        rows.length === 0
          ? 'no enabled network range with dhcp_mode full or proxy'
          : wanted.length === 0
            ? 'no enabled range has an interface'
            : this.standby.length > 0 && this.unavailable.length === 0
              ? `standby: ${this.standby.map((s) => `${s.range} is served by node ${s.holder ?? '(none yet)'}`).join('; ')}`
              : `no range interface is usable yet (${this.unavailable.map((u) => `${u.name}: ${u.reason}`).join('; ')})`;
      if (this.lastSummary !== this.notRunningReason) this.logger.warn(`DHCP server not started: ${this.notRunningReason}`);
      this.lastSummary = this.notRunningReason;
      return this.status();
    }
    this.notRunningReason = undefined;
    const summary = this.served
      .map((s) => `${s.range.name}=${s.range.cidr}/${s.range.dhcpMode}@${s.range.interface}${s.relayOnly ? ' (relayed requests only)' : ''}`)
      .join(', ');
    if (summary !== this.lastSummary) this.logger.log(`DHCP serving ${summary} on port ${this.config.dhcp.port}`);
    this.lastSummary = summary;
    return this.status();
  }

  /**
   * With several nodes on one database, only the ranges this node holds are served (see ClusterService): asks to
   * hold every wanted range whose interface is usable here, drops the others from `byInterface` (their sockets close)
   * and notes them as standby. A range held anew starts from the lease table (another node may have leased in it).
   * Returns the ids served. Without the cluster port (unit tests), every wanted range.
   */
  private async holdRanges(wanted: DhcpRange[], states: Map<string, InterfaceState>, byInterface: Map<string, DhcpRange[]>): Promise<Set<string>> {
    if (!this.ownership) return new Set(wanted.map((r) => r.id));
    const usable = wanted.filter((r) => states.get(r.interface)?.usable).map((r) => r.id);
    let held: Set<string>;
    try {
      held = await this.ownership.want(usable);
    } catch (err) {
      this.logger.warn(`could not take network ranges (keeping only live holds): ${(err as Error).message}`);
      held = new Set(usable.filter((id) => this.ownership!.holds(id)));
    }
    for (const id of held) if (!this.heldBefore.has(id)) this.leases.forgetRange(id);
    this.heldBefore = held;
    const others = wanted.filter((r) => states.get(r.interface)?.usable && !held.has(r.id));
    const holders =
      others.length > 0 ? await this.ownership.holders(others.map((r) => r.id)).catch(() => new Map<string, string>()) : new Map<string, string>();
    this.standby = others.map((r) => ({ range: r.name, holder: holders.get(r.id) ?? null }));
    const standbyKey = JSON.stringify(this.standby);
    if (standbyKey !== this.lastStandby && this.standby.length > 0) {
      this.logger.log(`standby for ${this.standby.map((s) => `${s.range} (served by ${s.holder ?? 'nobody yet'})`).join(', ')}`);
    }
    this.lastStandby = standbyKey;
    for (const [name, ranges] of byInterface) {
      if (!states.get(name)?.usable) continue;
      const kept = ranges.filter((r) => held.has(r.id));
      if (kept.length > 0) byInterface.set(name, kept);
      else byInterface.delete(name);
    }
    return held;
  }

  /** One log line per interface transition: gone/down/no address (not served), and back (served again). */
  private logTransitions(byInterface: Map<string, DhcpRange[]>, states: Map<string, InterfaceState>): void {
    for (const [name, state] of states) {
      const before = this.interfaceStates.get(name);
      const ranges = byInterface
        .get(name)!
        .map((r) => `${r.name} (${r.cidr})`)
        .join(', ');
      if (state.usable) {
        if (before && !before.usable) this.logger.log(`interface ${name} up with ${state.address}: serving range ${ranges}`);
        else if (before?.usable && stateKey(before) !== stateKey(state)) {
          this.logger.log(`interface ${name} changed (now index ${state.index}, ${state.address}): re-binding range ${ranges}`);
        }
      } else if (!before || before.usable || before.reason !== state.reason) {
        const what = state.reason === 'missing' ? (before ? 'gone' : 'missing') : state.reason;
        this.logger.warn(`interface ${name} ${what}: not serving range ${ranges} (served as soon as it is usable)`);
      }
    }
    this.interfaceStates = states;
  }

  /** Opens the sockets (and RA, quick-ack) of one usable interface; on a failure closes what it opened and throws. */
  private openBinding(name: string, ranges: DhcpRange[], state: Extract<InterfaceState, { usable: true }>): Binding {
    const info = interfaceInfo(name);
    const servesDirect = ranges.some((r) => {
      const c = parseCidr(r.cidr);
      const own = info.ipv4 ? hostAddress(info.ipv4.address) : null;
      return c !== null && own !== null && cidrContains(c, own);
    });
    const binding: Binding = {
      name,
      info,
      address: state.address,
      intake: new DhcpIntake<Job>({
        capacity: this.config.dhcp.queueCapacity,
        deadlineMs: this.config.dhcp.deadlineMs,
        serve: (job, arrivedAt) => this.server.serve(job.decoded, job.arrival, this.served, arrivedAt),
        onDrop: (job, reason) => {
          this.server.queueDropped(job.decoded, reason);
          this.metrics?.dhcpQueueDropped.inc({ interface: name, reason });
        },
      }),
      dhcp: null!,
      pxe: null,
      ra: null,
      key: bindingKey(state, ranges),
      wantsRa: this.config.boot.ipv6Ra && servesDirect,
    };
    try {
      binding.dhcp = this.openSocket(binding, this.config.dhcp.port, 'dhcp');
      if (ranges.some((r) => r.dhcpMode === 'proxy')) binding.pxe = this.openSocket(binding, PXE_BOOT_SERVER_PORT, 'pxe');
    } catch (err) {
      this.closeBinding(binding);
      throw err;
    }
    if (binding.wantsRa) void this.startRouterAdvertising(binding);
    if (this.config.boot.tcpQuickAck && servesDirect) this.setQuickAck(binding, true);
    return binding;
  }

  private openSocket(binding: Binding, port: number, kind: ArrivalPort): InterfaceUdpSocket {
    let socket: InterfaceUdpSocket;
    try {
      socket = InterfaceUdpSocket.open({ interface: binding.name, address: ZERO_IP, port });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new Error(`cannot bind UDP 0.0.0.0:${port} on ${binding.name}: ${e.code ?? ''} ${e.message}`.trim(), { cause: err });
    }
    socket.on('message', (buf, info) => {
      const arrival: DhcpArrival = { binding, port: kind, info, socket };
      const decoded = this.server.decode(buf, arrival);
      if (decoded) binding.intake.push({ decoded, arrival }, decoded.ci.mac, decoded.ci.xid, decoded.ci.messageType ?? null);
    });
    socket.on('error', (err) => this.logger.warn(`receive error on ${binding.name}:${port}: ${err.message}`));
    return socket;
  }

  /**
   * Makes IPv6 ready on the interface (link-local only; see {@link enableLinkLocalIpv6}), then starts the router
   * advertiser. Runs in the background so DHCP is served meanwhile. A problem is logged once per interface and
   * kept in `status()`.
   */
  private async startRouterAdvertising(b: Binding): Promise<void> {
    b.raProblem = `preparing IPv6 on ${b.name}`;
    let ready: Ipv6Readiness;
    try {
      ready = await this.adapters.prepareIpv6(b.name, this.config.boot.ipv6Enable);
    } catch (err) {
      ready = { ready: false, ipv6On: false, changed: [], problem: `cannot check IPv6 on ${b.name}: ${(err as Error).message}; ${NO_RA_COST}` };
    }
    if (b.closed || this.stopped) return;
    if (ready.changed.length > 0) {
      this.logger.log(`IPv6 turned on for router advertisements on ${b.name}, link-local only (${ready.changed.join(', ')}); left so at shutdown`);
    }
    b.raProblem = ready.problem;
    if (ready.ipv6On) {
      try {
        const ra = new RouterAdvertiser({ interface: b.name, logger: this.logger });
        ra.start();
        b.ra = ra;
      } catch (err) {
        b.raProblem = `router advertisements on ${b.name} failed: ${(err as Error).message}; ${NO_RA_COST}; enable IPv6 on ${b.name} or set DLS_IPV6_RA=false and accept the wait`;
      }
    }
    this.reportRaProblem(b);
  }

  /** Logs an RA problem once per interface (again only if it changes). */
  private reportRaProblem(b: Binding): void {
    if (!b.raProblem) {
      if (this.raReported.delete(b.name)) this.logger.log(`router advertisements on ${b.name}: IPv6 ready now`);
      return;
    }
    if (this.raReported.get(b.name) === b.raProblem) return;
    this.raReported.set(b.name, b.raProblem);
    this.logger.warn(b.raProblem);
  }

  private closeBindings(): void {
    for (const b of this.bindings.values()) this.closeBinding(b);
    this.bindings = new Map();
  }

  private setQuickAck(b: Binding, on: boolean): void {
    b.quickAck = on;
    this.quickAck.set(b.name, on).then(
      (n) => this.logger.log(`delayed ACKs ${on ? 'off' : 'back on'} for ${n} route(s) of ${b.name}`),
      (err: unknown) => this.logger.warn(`could not change delayed ACKs on ${b.name}: ${(err as Error).message}`),
    );
  }

  private closeBinding(b: Binding): void {
    b.closed = true;
    const drained = b.intake.close(DRAIN_TIMEOUT_MS);
    this.draining.add(drained);
    void drained.finally(() => this.draining.delete(drained));
    if (b.quickAck) this.setQuickAck(b, false);
    b.ra?.stop();
    b.pxe?.close();
    b.dhcp?.close();
  }
}

/** What a binding depends on: interface index and address, and whether it also listens on 4011. */
function bindingKey(state: Extract<InterfaceState, { usable: true }>, ranges: DhcpRange[]): string {
  return `${stateKey(state)} ${ranges.some((r) => r.dhcpMode === 'proxy') ? 'proxy' : 'full'}`;
}
