import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Not, Repository } from 'typeorm';
import {
  BOOTP_SERVER_PORT,
  BootpOp,
  buildProxyReply,
  buildReply,
  classifyClient,
  decodeDhcp,
  DhcpClientInfo,
  DhcpMessageType,
  DhcpPacket,
  encodeDhcp,
  PXE_BOOT_SERVER_PORT,
  replyDestination,
} from '../../../protocols/dhcp';
import { MalformedPacketError } from '../../../protocols/malformed-packet.error';
import { AppConfig } from '../../../config/config.loader';
import { cidrContains, formatIpv4, parseCidr } from '../../../common/net/ipv4';
import { NetworkRange } from '../../network/network-range.entity';
import { BootSessionTracker, DhcpSeenEvent } from '../boot-session-tracker';
import { InterfaceInfo, interfaceInfo } from '../net/net-interfaces';
import { InterfaceUdpMessageInfo, InterfaceUdpSocket } from '../net/interface-udp-socket';
import { RouterAdvertiser } from '../net/router-advertiser';
import { RouteQuickAck } from '../net/route-quickack';
import { hostAddress } from './address-pool';
import { BootPolicyService, ClientBootFacts } from '../../catalog';
import { ArrivalPort, bootFileFor, decideDhcp, DhcpAction } from './dhcp-decision';
import { DhcpLeasesService } from './dhcp-leases.service';

/** How often ranges are re-read from the database when nobody calls reload(). */
export const RANGE_RELOAD_INTERVAL_MS = 60_000;
/** How long shutdown waits for requests being answered (each is a few short queries). */
const DRAIN_TIMEOUT_MS = 2000;

/** Packet counters, for logs, health checks and tests. */
export interface DhcpStats {
  received: number;
  malformed: number;
  dropped: number;
  offers: number;
  acks: number;
  naks: number;
  declines: number;
  releases: number;
  registered: number;
  /** Requests whose handling failed unexpectedly (database down, send error); logged at warn. */
  errors: number;
}

/** What the server currently serves. */
export interface DhcpServerStatus {
  running: boolean;
  /** Why it is not running, when it is not. */
  reason?: string;
  interfaces: { name: string; address: string; proxy: boolean; routerAdvertisements: boolean }[];
  ranges: { id: string; name: string; cidr: string; mode: 'full' | 'proxy'; interface: string; relayOnly: boolean }[];
}

interface Binding {
  name: string;
  info: InterfaceInfo;
  /** Our IPv4 address on this interface (option 54 for broadcasts received here). */
  address: string;
  dhcp: InterfaceUdpSocket;
  pxe: InterfaceUdpSocket | null;
  ra: RouterAdvertiser | null;
  /** Delayed ACKs were turned off on this interface's routes (and must be restored). */
  quickAck?: boolean;
}

interface ServedRange {
  range: NetworkRange;
  cidr: NonNullable<ReturnType<typeof parseCidr>>;
  /** The interface's own address is not in the CIDR: only relayed requests (giaddr) reach this range. */
  relayOnly: boolean;
}

const ZERO_IP = '0.0.0.0';

function prefixToMask(prefix: number): string {
  return formatIpv4(prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);
}

function zeroStats(): DhcpStats {
  return { received: 0, malformed: 0, dropped: 0, offers: 0, acks: 0, naks: 0, declines: 0, releases: 0, registered: 0, errors: 0 };
}

/**
 * The DHCP / proxyDHCP server of DLS, a lifecycle provider: it binds in `onApplicationBootstrap` (when
 * `config.dhcp.enabled`), and closes its sockets in `onApplicationShutdown`.
 *
 * Ranges (enabled, dhcp_mode full or proxy) are served on their `interface`: one interface-bound socket per interface
 * on `config.dhcp.port`, plus port 4011 for proxy ranges, plus IPv6 router advertisements (router lifetime 0, M=O=0,
 * no prefix) when `config.boot.ipv6Ra`, so iPXE's IPv6 autoconfiguration wait ends at once. A range without an
 * interface is not served. A direct (broadcast) request is answered from the receiving interface's range; a
 * relayed one (giaddr set, RFC 2131 §4.1/RFC 3046) from the range whose CIDR contains giaddr, back to giaddr:67.
 * Policy lives in {@link decideDhcp}; addresses in {@link DhcpLeasesService}; client facts in
 * the catalogue's {@link BootPolicyService}. Nothing a client sends can crash it: every datagram is handled in its own promise.
 */
@Injectable()
export class DhcpServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DhcpServer.name);
  private readonly quickAck = new RouteQuickAck();
  private bindings = new Map<string, Binding>();
  private served: ServedRange[] = [];
  private bindingKey = '';
  private counters = zeroStats();
  private readonly inflight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private reloading: Promise<DhcpServerStatus> | null = null;
  private stopped = false;
  private notRunningReason: string | undefined = 'not started';

  constructor(
    private readonly config: AppConfig,
    @InjectRepository(NetworkRange) private readonly ranges: Repository<NetworkRange>,
    private readonly policy: BootPolicyService,
    private readonly leases: DhcpLeasesService,
    private readonly tracker: BootSessionTracker,
  ) {}

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
    return { ...this.counters };
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
        mode: s.range.dhcpMode as 'full' | 'proxy',
        interface: s.range.interface!,
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
    void run.finally(() => {
      if (this.reloading === run) this.reloading = null;
    }).catch(() => undefined);
    return run;
  }

  private async doReload(): Promise<DhcpServerStatus> {
    if (this.stopped) return this.status();
    const rows = await this.ranges.find({ where: { enabled: true, dhcpMode: Not('off') }, order: { name: 'ASC' } });
    const wanted: NetworkRange[] = [];
    for (const r of rows) {
      if (!r.interface) {
        this.logger.warn(`range ${r.name} has no interface; DHCP will not serve it`);
        continue;
      }
      if (!parseCidr(r.cidr)) {
        this.logger.warn(`range ${r.name} has an unusable CIDR ${r.cidr}; DHCP will not serve it`);
        continue;
      }
      wanted.push(r);
    }
    if (wanted.length === 0) {
      this.closeBindings();
      this.served = [];
      this.notRunningReason =
        rows.length === 0 ? 'no enabled network range with dhcp_mode full or proxy' : 'no enabled range has an interface';
      this.logger.warn(`DHCP server not started: ${this.notRunningReason}`);
      return this.status();
    }

    const byInterface = new Map<string, NetworkRange[]>();
    for (const r of wanted) byInterface.set(r.interface!, [...(byInterface.get(r.interface!) ?? []), r]);
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
      const binding = this.bindings.get(range.interface!);
      const cidr = parseCidr(range.cidr)!;
      const own = binding ? hostAddress(binding.address) : null;
      const relayOnly = own === null || !cidrContains(cidr, own);
      if (relayOnly) {
        this.logger.log(
          `range ${range.name} (${range.cidr}) on ${range.interface}: interface address not in the range, relayed requests only`,
        );
      }
      return [{ range, cidr, relayOnly }];
    });
    this.notRunningReason = undefined;
    const summary = this.served.map((s) => `${s.range.name}=${s.range.cidr}/${s.range.dhcpMode}@${s.range.interface}`);
    this.logger.log(`DHCP serving ${summary.join(', ')} on port ${this.config.dhcp.port}`);
    return this.status();
  }

  /** Opens every socket (and RA) or none: on the first failure everything opened so far is closed, then it throws. */
  private openBindings(byInterface: Map<string, NetworkRange[]>): Map<string, Binding> {
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
      throw new Error(`cannot bind UDP 0.0.0.0:${port} on ${binding.name}: ${e.code ?? ''} ${e.message}`.trim());
    }
    socket.on('message', (buf, info) => this.onDatagram(binding, kind, buf, info));
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

  private onDatagram(binding: Binding, port: ArrivalPort, buf: Buffer, info: InterfaceUdpMessageInfo): void {
    this.counters.received++;
    const work = this.handle(binding, port, buf, info).catch((err: unknown) => {
      this.counters.errors++;
      this.logger.warn(`DHCP request on ${binding.name} from ${info.address} failed: ${(err as Error).message}`);
    });
    this.inflight.add(work);
    void work.finally(() => this.inflight.delete(work));
  }

  private debug(message: () => string): void {
    if (Logger.isLevelEnabled('debug')) this.logger.debug(message());
  }

  private dropped(ci: Pick<DhcpClientInfo, 'mac' | 'xid'> | null, why: string): void {
    this.counters.dropped++;
    this.debug(() => `drop ${ci?.mac ?? '-'} xid=0x${(ci?.xid ?? 0).toString(16)}: ${why}`);
  }

  private async handle(binding: Binding, port: ArrivalPort, buf: Buffer, info: InterfaceUdpMessageInfo): Promise<void> {
    let pkt: DhcpPacket;
    let ci: DhcpClientInfo;
    try {
      pkt = decodeDhcp(buf);
      ci = classifyClient(pkt);
    } catch (err) {
      if (!(err instanceof MalformedPacketError)) throw err;
      this.counters.malformed++;
      this.debug(() => `malformed datagram (${buf.length} bytes) from ${info.address} on ${binding.name}: ${err.message}`);
      return;
    }
    if (pkt.op !== BootpOp.REQUEST) return this.dropped(ci, 'BOOTREPLY sent to the server');
    if (ci.mac === null) return this.dropped(ci, `not an Ethernet chaddr (htype ${pkt.htype}, hlen ${pkt.hlen})`);
    const served = this.rangeFor(binding, pkt);
    if (!served) {
      const where = ci.relayed ? `giaddr ${pkt.giaddr}` : `interface ${binding.name}`;
      return this.dropped(ci, `no served range for ${where}`);
    }
    const range = served.range;
    const serverId = this.serverAddress(binding, info);
    let client = await this.policy.lookup(ci.mac);
    const plan = decideDhcp({
      messageType: ci.messageType,
      port,
      isPxe: ci.isPxe,
      mode: range.dhcpMode as 'full' | 'proxy',
      policy: range.unknownClientPolicy,
      client,
      ciaddr: pkt.ciaddr,
      requestedIp: ci.requestedIp,
      serverId: ci.serverId,
      ourServerId: serverId,
    });
    if (plan.register && client === null) {
      client = await this.policy.register(ci.mac, range.id);
      this.counters.registered++;
    }
    const action = plan.action;
    this.debug(
      () =>
        `${ci.messageType ? DhcpMessageType[ci.messageType] : 'BOOTP'} ${ci.mac} xid=0x${ci.xid.toString(16)} on ${binding.name}` +
        ` range=${range.name} client=${client ? (client.enabled ? 'enabled' : 'disabled') + (client.pending ? '/pending' : '') : 'unknown'}` +
        ` → ${action.kind}${action.kind === 'drop' ? ` (${action.reason})` : ''}`,
    );
    const ctx: Context = { binding, port, info, pkt, ci, range, serverId, client, track: plan.track };
    await this.execute(ctx, action);
  }

  private async execute(ctx: Context, action: DhcpAction): Promise<void> {
    const { pkt, ci, range, serverId, client } = ctx;
    const mac = ci.mac!;
    const leaseFacts = {
      reservedIp: client?.ipAddress ?? null,
      clientId: client?.id ?? null,
      hostname: ci.hostname,
      serverAddresses: [serverId, ctx.binding.address],
    };
    switch (action.kind) {
      case 'drop':
        return this.dropped(ci, action.reason);
      case 'forget-offer':
        await this.leases.forgetOffer(range.id, mac);
        this.counters.dropped++;
        return this.debug(() => `${mac} xid=0x${ci.xid.toString(16)} chose server ${ci.serverId}; offer forgotten`);
      case 'offer': {
        const offered = await this.leases.offer(range, mac, { ...leaseFacts, requestedIp: ci.requestedIp });
        if (!offered) {
          this.logger.warn(`range ${range.name}: no free address for ${mac}`);
          return this.dropped(ci, 'pool exhausted');
        }
        this.track(ctx, 'discover', offered.ip);
        this.send(ctx, buildReply(pkt, this.fullReplyParams(ctx, DhcpMessageType.OFFER, offered.ip, action.boot)));
        this.counters.offers++;
        return;
      }
      case 'request': {
        const outcome = await this.leases.request(range, mac, action.ip, leaseFacts);
        if (outcome.kind === 'ignored') return this.dropped(ci, 'request ignored');
        if (outcome.kind === 'nak') {
          this.logger.warn(`NAK ${mac} xid=0x${ci.xid.toString(16)} for ${action.ip} (${action.state}): ${outcome.reason}`);
          this.send(ctx, buildReply(pkt, { messageType: DhcpMessageType.NAK, serverId, message: outcome.reason }));
          this.counters.naks++;
          return;
        }
        this.track(ctx, 'request', outcome.ip);
        this.send(ctx, buildReply(pkt, this.fullReplyParams(ctx, DhcpMessageType.ACK, outcome.ip, action.boot)));
        this.counters.acks++;
        return;
      }
      case 'decline':
        if (await this.leases.decline(mac, action.ip)) this.counters.declines++;
        else this.dropped(ci, `DECLINE of ${action.ip}, which is not this client's lease`);
        return;
      case 'release':
        if (await this.leases.release(mac, action.ip)) this.counters.releases++;
        else this.dropped(ci, `RELEASE of ${action.ip}, which is not this client's lease`);
        return;
      case 'inform':
        this.track(ctx, 'inform', pkt.ciaddr === ZERO_IP ? null : pkt.ciaddr);
        this.send(ctx, buildReply(pkt, this.fullReplyParams(ctx, DhcpMessageType.ACK, undefined, action.boot)));
        this.counters.acks++;
        return;
      case 'proxy-offer':
      case 'proxy-ack': {
        this.track(ctx, action.kind === 'proxy-offer' ? 'discover' : 'request', pkt.ciaddr === ZERO_IP ? null : pkt.ciaddr);
        const reply = buildProxyReply(pkt, {
          serverId,
          bootFile: this.bootFile(ctx),
          siaddr: this.nextServer(ctx),
        });
        this.send(ctx, reply);
        if (action.kind === 'proxy-offer') this.counters.offers++;
        else this.counters.acks++;
        return;
      }
    }
  }

  /** Direct request: the range on this interface that contains the interface address. Relayed: CIDR ∋ giaddr. */
  private rangeFor(binding: Binding, pkt: DhcpPacket): ServedRange | null {
    if (pkt.giaddr !== ZERO_IP) {
      const giaddr = hostAddress(pkt.giaddr);
      if (giaddr === null) return null;
      return this.served.find((s) => cidrContains(s.cidr, giaddr)) ?? null;
    }
    return this.served.find((s) => s.range.interface === binding.name && !s.relayOnly) ?? null;
  }

  /**
   * Our address as the client sees it: the destination of a unicast (relay agent, renewal, port 4011), else the
   * receiving interface's address. IP_PKTINFO's ipi_spec_dst is not used for broadcasts: with several interfaces the
   * kernel may report another interface's address there.
   */
  private serverAddress(binding: Binding, info: InterfaceUdpMessageInfo): string {
    const dest = info.destination;
    const n = dest ? hostAddress(dest) : null;
    const unicast =
      n !== null &&
      n !== 0 &&
      n !== 0xffffffff &&
      n >>> 28 !== 0xe && // multicast 224.0.0.0/4
      dest !== binding.info.ipv4?.broadcast;
    return unicast ? dest! : binding.address;
  }

  /** TFTP next-server (siaddr): the range's next_server, else our address on that network, else DLS_BOOT_SERVER_IP. */
  private nextServer(ctx: Context): string {
    return ctx.range.nextServer?.replace(/\/32$/, '') ?? ctx.serverId;
  }

  private bootFile(ctx: Context): string | null {
    const mac = ctx.ci.mac!;
    return bootFileFor({
      mac,
      arch: ctx.ci.arch,
      isIpxe: ctx.ci.isIpxe,
      bootLoader: ctx.client?.bootLoader ?? null,
      httpHost: ctx.serverId,
      httpPort: this.config.http.port,
    });
  }

  private fullReplyParams(
    ctx: Context,
    messageType: DhcpMessageType.OFFER | DhcpMessageType.ACK,
    yiaddr: string | undefined,
    boot: boolean,
  ): Parameters<typeof buildReply>[1] {
    const range = ctx.range;
    const bootFile = boot ? this.bootFile(ctx) : null;
    const client = ctx.client;
    return {
      messageType,
      serverId: ctx.serverId,
      yiaddr,
      leaseSeconds: range.leaseSeconds,
      subnetMask: prefixToMask(parseCidr(range.cidr)!.prefix),
      routers: range.gateway ? [range.gateway.replace(/\/32$/, '')] : undefined,
      dnsServers: range.dnsServers?.length ? range.dnsServers.map((d) => d.replace(/\/32$/, '')) : undefined,
      hostname: client && !client.pending ? client.hostname : undefined,
      bootFile,
      siaddr: bootFile ? this.nextServer(ctx) : undefined,
    };
  }

  private track(ctx: Context, messageType: DhcpSeenEvent['messageType'], ip: string | null): void {
    if (!ctx.track || !ctx.client) return;
    try {
      this.tracker.onDhcp({
        clientId: ctx.client.id,
        mac: ctx.ci.mac!,
        ip,
        serverIp: ctx.serverId,
        messageType,
        arch: ctx.ci.arch,
        isIpxe: ctx.ci.isIpxe,
      });
    } catch (err) {
      this.logger.warn(`boot session tracker failed for ${ctx.ci.mac}: ${(err as Error).message}`);
    }
  }

  /**
   * Sends a reply: a port-4011 request is answered to its source (PXE spec 2.1 §2.2.5); everything else by RFC 2131
   * §4.1 ({@link replyDestination}): giaddr:67 for relays, ciaddr when renewing, else 255.255.255.255:68 through the
   * receiving interface's socket.
   */
  private send(ctx: Context, reply: DhcpPacket): void {
    const socket = ctx.port === 'pxe' ? ctx.binding.pxe : ctx.binding.dhcp;
    if (!socket || !socket.isOpen) return;
    const dest =
      ctx.port === 'pxe' && ctx.info.address !== ZERO_IP
        ? { address: ctx.info.address, port: ctx.info.port, reason: 'source' }
        : replyDestination(ctx.pkt, reply);
    const port = dest.reason === 'relay' ? BOOTP_SERVER_PORT : dest.port;
    socket.send(encodeDhcp(reply), port, dest.address);
    this.debug(
      () =>
        `sent ${DhcpMessageType[reply.options.get(53)?.[0] ?? 0] ?? '?'} to ${ctx.ci.mac} xid=0x${ctx.ci.xid.toString(16)}` +
        ` yiaddr=${reply.yiaddr} file=${reply.file || '-'} via ${dest.address}:${port} (${dest.reason})`,
    );
  }
}

interface Context {
  binding: Binding;
  port: ArrivalPort;
  info: InterfaceUdpMessageInfo;
  pkt: DhcpPacket;
  ci: DhcpClientInfo;
  range: NetworkRange;
  serverId: string;
  client: ClientBootFacts | null;
  track: boolean;
}
