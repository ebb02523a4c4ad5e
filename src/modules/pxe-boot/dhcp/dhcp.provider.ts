import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { PXE_BOOT_SERVER_PORT } from '@protocols/dhcp';
import { AppConfig } from '@config/config.loader';
import { cidrContains, parseCidr } from '@common/net/ipv4';
import { NetworkRange, NetworkRangesService } from '../../network';
import { BootSessionTracker } from '../boot-session-tracker';
import { interfaceInfo } from '../net/net-interfaces';
import { InterfaceUdpSocket } from '../net/interface-udp-socket';
import { RouterAdvertiser } from '../net/router-advertiser';
import { RouteQuickAck } from '../net/route-quickack';
import { hostAddress } from './address-pool';
import { BootPolicyService } from '../../catalog';
import { ArrivalPort } from './dhcp-decision';
import { DhcpLeasesService } from './dhcp-leases.service';
import type { DhcpRange } from './dhcp.ports';
import { DhcpBinding, DhcpServer, DhcpStats, ServedRange } from './dhcp.server';

/** How often ranges are re-read from the database when nobody calls reload(). */
export const RANGE_RELOAD_INTERVAL_MS = 60_000;
/** How long shutdown waits for requests being answered (each is a few short queries). */
const DRAIN_TIMEOUT_MS = 2000;

/** What the server currently serves. */
export interface DhcpServerStatus {
  running: boolean;
  /** Why it is not running, when it is not. */
  reason?: string;
  interfaces: { name: string; address: string; proxy: boolean; routerAdvertisements: boolean }[];
  ranges: { id: string; name: string; cidr: string; mode: 'full' | 'proxy'; interface: string; relayOnly: boolean }[];
}

interface Binding extends DhcpBinding {
  dhcp: InterfaceUdpSocket;
  pxe: InterfaceUdpSocket | null;
  ra: RouterAdvertiser | null;
  /** Delayed ACKs were turned off on this interface's routes (and must be restored). */
  quickAck?: boolean;
}

const ZERO_IP = '0.0.0.0';

/** The plain range data the handler answers from (a served range has an interface and is not `off`). */
function toDhcpRange(r: NetworkRange): DhcpRange {
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
 * iPXE's IPv6 autoconfiguration wait ends at once, plus delayed ACKs off on the interface's routes when
 * `config.boot.tcpQuickAck`. A range without an interface is not served. Every datagram is handled in its own
 * promise; shutdown waits (briefly) for those in flight.
 */
@Injectable()
export class DhcpProvider implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('DhcpServer');
  private readonly quickAck = new RouteQuickAck();
  private readonly server: DhcpServer;
  private bindings = new Map<string, Binding>();
  private served: ServedRange[] = [];
  private bindingKey = '';
  private readonly inflight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private reloading: Promise<DhcpServerStatus> | null = null;
  private stopped = false;
  private notRunningReason: string | undefined = 'not started';

  constructor(
    private readonly config: AppConfig,
    private readonly ranges: NetworkRangesService,
    policy: BootPolicyService,
    leases: DhcpLeasesService,
    tracker: BootSessionTracker,
  ) {
    this.server = new DhcpServer({
      clients: policy,
      leases,
      tracker,
      httpPort: config.http.port,
      logger: this.logger,
      isDebugEnabled: () => Logger.isLevelEnabled('debug'),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.dhcp.enabled) {
      this.notRunningReason = 'DHCP is disabled (DLS_DHCP_ENABLED=false)';
      this.logger.log(this.notRunningReason);
      return;
    }
    this.stopped = false;
    await this.reload();
    this.timer = setInterval(() => {
      this.reload().catch((err: unknown) => this.logger.warn(`range reload failed: ${(err as Error).message}`));
    }, RANGE_RELOAD_INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.reloading) await this.reloading.catch(() => undefined);
    this.closeBindings();
    if (this.inflight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const cap = new Promise<void>((resolve) => (timer = setTimeout(resolve, DRAIN_TIMEOUT_MS)));
      await Promise.race([Promise.allSettled([...this.inflight]), cap]);
      clearTimeout(timer);
    }
  }

  /** Counters since start. */
  stats(): DhcpStats {
    return this.server.stats();
  }

  /** What is being served right now. */
  status(): DhcpServerStatus {
    return {
      running: this.bindings.size > 0,
      reason: this.bindings.size > 0 ? undefined : this.notRunningReason,
      interfaces: [...this.bindings.values()].map((b) => ({
        name: b.name,
        address: b.address,
        proxy: b.pxe !== null,
        routerAdvertisements: b.ra !== null,
      })),
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
   * Re-reads the network ranges and (re)binds: sockets of interfaces that are no longer needed are closed, new ones
   * opened. Call it after ranges change; it also runs every {@link RANGE_RELOAD_INTERVAL_MS}. Never throws for a
   * failed bind: it closes what it opened, logs, and leaves the server stopped (the rest of the app keeps running).
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
    if (wanted.length === 0) {
      this.closeBindings();
      this.served = [];
      this.notRunningReason = rows.length === 0 ? 'no enabled network range with dhcp_mode full or proxy' : 'no enabled range has an interface';
      this.logger.warn(`DHCP server not started: ${this.notRunningReason}`);
      return this.status();
    }

    const byInterface = new Map<string, DhcpRange[]>();
    for (const r of wanted) byInterface.set(r.interface, [...(byInterface.get(r.interface) ?? []), r]);
    const key = [...byInterface.entries()]
      .map(([name, rs]) => `${name}:${rs.some((r) => r.dhcpMode === 'proxy') ? 'p' : ''}`)
      .sort()
      .join(',');

    if (key !== this.bindingKey || this.bindings.size === 0) {
      this.closeBindings();
      try {
        this.bindings = this.openBindings(byInterface);
        this.bindingKey = key;
      } catch (err) {
        this.notRunningReason = (err as Error).message;
        this.logger.error(`DHCP server not started: ${this.notRunningReason}`);
        this.served = [];
        return this.status();
      }
    }
    this.served = wanted.flatMap((range) => {
      const binding = this.bindings.get(range.interface);
      const cidr = parseCidr(range.cidr)!;
      const own = binding ? hostAddress(binding.address) : null;
      const relayOnly = own === null || !cidrContains(cidr, own);
      if (relayOnly) {
        this.logger.log(`range ${range.name} (${range.cidr}) on ${range.interface}: interface address not in the range, relayed requests only`);
      }
      return [{ range, cidr, relayOnly }];
    });
    this.notRunningReason = undefined;
    const summary = this.served.map((s) => `${s.range.name}=${s.range.cidr}/${s.range.dhcpMode}@${s.range.interface}`);
    this.logger.log(`DHCP serving ${summary.join(', ')} on port ${this.config.dhcp.port}`);
    return this.status();
  }

  /** Opens every socket (and RA) or none: on the first failure everything opened so far is closed, then it throws. */
  private openBindings(byInterface: Map<string, DhcpRange[]>): Map<string, Binding> {
    const opened = new Map<string, Binding>();
    try {
      for (const [name, ranges] of byInterface) {
        const info = interfaceInfo(name);
        const address = info.ipv4?.address ?? this.config.boot.serverIp;
        if (!address) throw new Error(`interface ${name} has no IPv4 address and DLS_BOOT_SERVER_IP is unset`);
        const binding: Binding = { name, info, address, dhcp: null!, pxe: null, ra: null };
        binding.dhcp = this.openSocket(binding, this.config.dhcp.port, 'dhcp');
        opened.set(name, binding);
        if (ranges.some((r) => r.dhcpMode === 'proxy')) {
          binding.pxe = this.openSocket(binding, PXE_BOOT_SERVER_PORT, 'pxe');
        }
        const servesDirect = ranges.some((r) => {
          const c = parseCidr(r.cidr);
          const own = info.ipv4 ? hostAddress(info.ipv4.address) : null;
          return c !== null && own !== null && cidrContains(c, own);
        });
        if (this.config.boot.ipv6Ra && servesDirect) binding.ra = this.startRouterAdvertiser(name);
        if (this.config.boot.tcpQuickAck && servesDirect) this.setQuickAck(binding, true);
      }
      return opened;
    } catch (err) {
      for (const b of opened.values()) this.closeBinding(b);
      throw err;
    }
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
      const work = this.server.receive(buf, { binding, port: kind, info, socket }, this.served);
      this.inflight.add(work);
      void work.finally(() => this.inflight.delete(work));
    });
    socket.on('error', (err) => this.logger.warn(`receive error on ${binding.name}:${port}: ${err.message}`));
    return socket;
  }

  private startRouterAdvertiser(name: string): RouterAdvertiser | null {
    try {
      const ra = new RouterAdvertiser({ interface: name, logger: this.logger });
      ra.start();
      return ra;
    } catch (err) {
      this.logger.warn(`no IPv6 router advertisements on ${name}: ${(err as Error).message}`);
      return null;
    }
  }

  private closeBindings(): void {
    for (const b of this.bindings.values()) this.closeBinding(b);
    this.bindings = new Map();
    this.bindingKey = '';
  }

  private setQuickAck(b: Binding, on: boolean): void {
    b.quickAck = on;
    this.quickAck.set(b.name, on).then(
      (n) => this.logger.log(`delayed ACKs ${on ? 'off' : 'back on'} for ${n} route(s) of ${b.name}`),
      (err: unknown) => this.logger.warn(`could not change delayed ACKs on ${b.name}: ${(err as Error).message}`),
    );
  }

  private closeBinding(b: Binding): void {
    if (b.quickAck) this.setQuickAck(b, false);
    b.ra?.stop();
    b.pxe?.close();
    b.dhcp?.close();
  }
}
