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
  efiPlatformOf,
  firmwarePathOf,
  replyDestination,
} from '@protocols/dhcp';
import { MalformedPacketError } from '@protocols/malformed-packet.error';
import { nonUnicastMacReason } from '@common/mac';
import { LogFields, logLine } from '@common/logging/log-line';
import type { DhcpMetricOutcome, DhcpMetricType } from '../../metrics';
import { cidrContains, formatIpv4, Ipv4Cidr, parseCidr } from '@common/net/ipv4';
import type { DhcpSeenEvent } from '../boot-session-tracker';
import type { InterfaceInfo } from '../net/net-interfaces';
import type { InterfaceUdpMessageInfo } from '../net/interface-udp-socket';
import { hostAddress } from './address-pool';
import { ArrivalPort, bootFileFor, decideDhcp, DhcpAction } from './dhcp-decision';
import type {
  DhcpBootTokens,
  DhcpBootTracker,
  DhcpClientFacts,
  DhcpClientLookup,
  DhcpExchangeSink,
  DhcpLeaseStore,
  DhcpLogger,
  DhcpPacketCounter,
  DhcpRange,
  DhcpReplySocket,
} from './dhcp.ports';

type DhcpEventMessage = Parameters<DhcpExchangeSink['exchange']>[0]['message'];

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
  /** Dropped unanswered from the interface queue: older than the deadline, queue full, replaced by a newer copy. */
  stale: number;
  overflow: number;
  superseded: number;
}

/** A datagram decoded and classified, waiting to be handled. */
export interface DhcpDecoded {
  pkt: DhcpPacket;
  ci: DhcpClientInfo;
}

/** One interface the server listens on. */
export interface DhcpBinding {
  name: string;
  info: InterfaceInfo;
  /** Our IPv4 address on this interface (option 54 for broadcasts received here). */
  address: string;
}

/** Where and how a datagram arrived, and the socket its reply leaves through. */
export interface DhcpArrival {
  binding: DhcpBinding;
  port: ArrivalPort;
  info: InterfaceUdpMessageInfo;
  /** The socket it arrived on; null or closed: nothing is sent. */
  socket: DhcpReplySocket | null;
}

/** A range being served, as the binding layer resolved it. */
export interface ServedRange {
  range: DhcpRange;
  cidr: Ipv4Cidr;
  /** The interface's own address is not in the CIDR: only relayed requests (giaddr) reach this range. */
  relayOnly: boolean;
}

/** Dependencies and settings of {@link DhcpServer}. */
export interface DhcpServerOptions {
  clients: DhcpClientLookup;
  leases: DhcpLeaseStore;
  tracker: DhcpBootTracker;
  /** Reports each exchange (discover/offer, request/ack|nak, decline, release, inform) for the live event stream. */
  exchanges?: DhcpExchangeSink;
  /** Port of the HTTP server that serves `/boot/<mac>.ipxe` (iPXE's boot file URL). */
  httpPort: number;
  /** Signs the short-lived token of a script URL for a MAC (and, in full mode, the address it is given). */
  tokens?: DhcpBootTokens;
  /** The operator's signed loader per CPU for Secure Boot clients (kept in memory by SignedLoadersService). */
  signedLoaders?: { entryFor(platform: 'x64' | 'arm64' | 'ia32' | null): string | null };
  /** Whether this node may answer for a range right now (several nodes on one database: see ClusterService). */
  owns?: (rangeId: string) => boolean;
  logger?: DhcpLogger;
  /** Whether debug lines are wanted (they are only built then). Default: whenever a logger is given. */
  isDebugEnabled?: () => boolean;
  /** Counts every request by type, outcome and range (Prometheus). */
  metrics?: DhcpPacketCounter;
}

/** What one request was, filled in as it is handled (for its metric and its log fields). */
interface Seen {
  ci: DhcpClientInfo | null;
  range: string;
}

const COUNTED_TYPES: Partial<Record<DhcpMessageType, DhcpMetricType>> = {
  [DhcpMessageType.DISCOVER]: 'discover',
  [DhcpMessageType.REQUEST]: 'request',
  [DhcpMessageType.DECLINE]: 'decline',
  [DhcpMessageType.RELEASE]: 'release',
  [DhcpMessageType.INFORM]: 'inform',
};

function metricType(ci: DhcpClientInfo | null): DhcpMetricType {
  if (!ci) return 'malformed';
  if (ci.messageType === null || ci.messageType === undefined) return 'bootp';
  return COUNTED_TYPES[ci.messageType] ?? 'other';
}

/** The boot-plane fields of a request's log lines. */
function fieldsOf(ci: Pick<DhcpClientInfo, 'mac' | 'xid'> | null, extra: LogFields = {}): LogFields {
  return { mac: ci?.mac ?? undefined, xid: ci ? `0x${ci.xid.toString(16)}` : undefined, ...extra };
}

const ZERO_IP = '0.0.0.0';

/** Client message types reported as exchanges (RFC 2132 §9.6). */
const MESSAGE_NAMES: Partial<Record<number, DhcpEventMessage>> = {
  [DhcpMessageType.DISCOVER]: 'discover',
  [DhcpMessageType.REQUEST]: 'request',
  [DhcpMessageType.DECLINE]: 'decline',
  [DhcpMessageType.RELEASE]: 'release',
  [DhcpMessageType.INFORM]: 'inform',
};

const silentLogger: DhcpLogger = { debug: () => undefined, log: () => undefined, warn: () => undefined, error: () => undefined };

function prefixToMask(prefix: number): string {
  return formatIpv4(prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);
}

function zeroStats(): DhcpStats {
  return {
    received: 0,
    malformed: 0,
    dropped: 0,
    offers: 0,
    acks: 0,
    naks: 0,
    declines: 0,
    releases: 0,
    registered: 0,
    errors: 0,
    stale: 0,
    overflow: 0,
    superseded: 0,
  };
}

/**
 * The DHCP / proxyDHCP request handler of DLS, free of Nest and sockets: it is handed each datagram with where it
 * arrived and the ranges served right now (the binding layer, `DhcpProvider`, owns sockets and range reloads).
 *
 * A direct (broadcast) request is answered from the receiving interface's range; a relayed one (giaddr set,
 * RFC 2131 §4.1/RFC 3046) from the range whose CIDR contains giaddr, back to giaddr:67. Policy lives in
 * {@link decideDhcp}; addresses in the lease store; client facts in the client lookup. Nothing a client sends can
 * make {@link receive} reject: failures are counted (`errors`) and logged at warn.
 */
export class DhcpServer {
  private readonly clients: DhcpClientLookup;
  private readonly leases: DhcpLeaseStore;
  private readonly tracker: DhcpBootTracker;
  private readonly exchanges: DhcpExchangeSink | undefined;
  private readonly httpPort: number;
  private readonly tokens: DhcpBootTokens | undefined;
  private readonly signedLoaders: DhcpServerOptions['signedLoaders'];
  private readonly owns: DhcpServerOptions['owns'];
  private readonly logger: DhcpLogger;
  private readonly isDebugEnabled: () => boolean;
  private readonly metrics: DhcpPacketCounter | undefined;
  private counters = zeroStats();

  constructor(options: DhcpServerOptions) {
    this.clients = options.clients;
    this.leases = options.leases;
    this.tracker = options.tracker;
    this.exchanges = options.exchanges;
    this.httpPort = options.httpPort;
    this.tokens = options.tokens;
    this.signedLoaders = options.signedLoaders;
    this.owns = options.owns;
    this.logger = options.logger ?? silentLogger;
    this.isDebugEnabled = options.isDebugEnabled ?? (() => options.logger !== undefined);
    this.metrics = options.metrics;
  }

  /** Counters since construction. */
  stats(): DhcpStats {
    return { ...this.counters };
  }

  /** Handles one datagram against the `served` ranges at once (no queue). Never rejects. */
  receive(buf: Buffer, arrival: DhcpArrival, served: readonly ServedRange[]): Promise<void> {
    const decoded = this.decode(buf, arrival);
    return decoded ? this.serve(decoded, arrival, served, Date.now()) : Promise.resolve();
  }

  /**
   * Decodes and classifies a datagram (counted as received); null when it is malformed (counted and dropped here).
   * The binding layer queues what this returns and hands it to {@link serve} when its turn comes.
   */
  decode(buf: Buffer, arrival: DhcpArrival): DhcpDecoded | null {
    this.counters.received++;
    try {
      const pkt = decodeDhcp(buf);
      return { pkt, ci: classifyClient(pkt) };
    } catch (err) {
      if (!(err instanceof MalformedPacketError)) throw err;
      this.counters.malformed++;
      this.count({ ci: null, range: '' }, 'dropped');
      this.debug(() => `malformed datagram (${buf.length} bytes) from ${arrival.info.address} on ${arrival.binding.name}: ${err.message}`);
      return null;
    }
  }

  /** A decoded request the queue dropped unanswered (stale, overflow, superseded): counted, logged at debug. */
  queueDropped(decoded: DhcpDecoded, reason: 'stale' | 'overflow' | 'superseded'): void {
    this.counters[reason]++;
    this.count({ ci: decoded.ci, range: '' }, 'dropped');
    this.debug(() => `drop ${decoded.ci.mac ?? '-'} xid=0x${decoded.ci.xid.toString(16)}: ${reason} in the queue`, decoded.ci);
  }

  /** Handles a decoded request that arrived at `arrivedAt` (ms) against the `served` ranges. Never rejects. */
  serve(decoded: DhcpDecoded, arrival: DhcpArrival, served: readonly ServedRange[], arrivedAt: number): Promise<void> {
    const seen: Seen = { ci: decoded.ci, range: '' };
    return this.handle(decoded, arrival, served, seen, arrivedAt).catch((err: unknown) => {
      this.counters.errors++;
      this.count(seen, 'error');
      this.logger.warn(
        logLine(
          `DHCP request on ${arrival.binding.name} from ${arrival.info.address} failed: ${(err as Error).message}`,
          fieldsOf(seen.ci, { interface: arrival.binding.name }),
        ),
      );
    });
  }

  private count(seen: Seen, outcome: DhcpMetricOutcome): void {
    this.metrics?.count(metricType(seen.ci), outcome, seen.range);
  }

  private debug(message: () => string, ci: Pick<DhcpClientInfo, 'mac' | 'xid'> | null = null): void {
    if (this.isDebugEnabled()) this.logger.debug(logLine(message(), fieldsOf(ci)));
  }

  private dropped(seen: Seen, why: string): void {
    this.counters.dropped++;
    this.count(seen, 'dropped');
    const ci = seen.ci;
    this.debug(() => `drop ${ci?.mac ?? '-'} xid=0x${(ci?.xid ?? 0).toString(16)}: ${why}`, ci);
  }

  private async handle(decoded: DhcpDecoded, arrival: DhcpArrival, served: readonly ServedRange[], seen: Seen, arrivedAt: number): Promise<void> {
    const { binding, port, info } = arrival;
    const { pkt, ci } = decoded;
    if (pkt.op !== BootpOp.REQUEST) return this.dropped(seen, 'BOOTREPLY sent to the server');
    if (ci.mac === null) return this.dropped(seen, `not an Ethernet chaddr (htype ${pkt.htype}, hlen ${pkt.hlen})`);
    const notUnicast = nonUnicastMacReason(ci.mac);
    if (notUnicast) return this.dropped(seen, `chaddr ${ci.mac} is ${notUnicast}`); // no PC has it: never registered or answered
    const match = rangeFor(served, binding, pkt);
    if (!match) {
      const where = ci.relayed ? `giaddr ${pkt.giaddr}` : `interface ${binding.name}`;
      return this.dropped(seen, `no served range for ${where}`);
    }
    const range = match.range;
    seen.range = range.name;
    // Checked per request: a hold that ran out between two reloads stops the answers at that instant.
    if (this.owns && !this.owns(range.id)) return this.dropped(seen, `range ${range.name} is not held by this node (another node serves it)`);
    const serverId = serverAddress(binding, info);
    let client = await this.clients.lookup(ci.mac);
    const plan = decideDhcp({
      messageType: ci.messageType,
      port,
      isPxe: ci.isPxe,
      isHttpClient: ci.isHttpClient,
      mode: range.dhcpMode,
      policy: range.unknownClientPolicy,
      client,
      ciaddr: pkt.ciaddr,
      requestedIp: ci.requestedIp,
      serverId: ci.serverId,
      ourServerId: serverId,
    });
    if (plan.register && client === null) {
      client = await this.clients.register(ci.mac, range.id);
      this.counters.registered++;
    }
    const action = plan.action;
    this.debug(
      () =>
        `${ci.messageType ? DhcpMessageType[ci.messageType] : 'BOOTP'} ${ci.mac} xid=0x${ci.xid.toString(16)} on ${binding.name}` +
        ` range=${range.name} client=${client ? (client.enabled ? 'enabled' : 'disabled') + (client.pending ? '/pending' : '') : 'unknown'}` +
        ` → ${action.kind}${action.kind === 'drop' ? ` (${action.reason})` : ''}`,
      ci,
    );
    const ctx: Context = { arrival, pkt, ci, range, serverId, client, track: plan.track, seen, arrivedAt };
    await this.execute(ctx, action);
  }

  private async execute(ctx: Context, action: DhcpAction): Promise<void> {
    const { pkt, ci, range, serverId, client } = ctx;
    const mac = ci.mac!;
    const leaseFacts = {
      reservedIp: client?.ipAddress ?? null,
      clientId: client?.id ?? null,
      hostname: ci.hostname,
      serverAddresses: [serverId, ctx.arrival.binding.address],
    };
    switch (action.kind) {
      case 'drop':
        return this.dropped(ctx.seen, action.reason);
      case 'forget-offer':
        await this.leases.forgetOffer(range.id, mac);
        return this.dropped(ctx.seen, `chose server ${ci.serverId}; offer forgotten`);
      case 'offer': {
        const offered = await this.leases.offer(range, mac, { ...leaseFacts, requestedIp: ci.requestedIp });
        if (!offered) {
          this.logger.warn(logLine(`range ${range.name}: no free address for ${mac}`, fieldsOf(ci, { range: range.name, clientId: client?.id })));
          return this.dropped(ctx.seen, 'pool exhausted');
        }
        this.track(ctx, 'discover', offered.ip);
        this.send(ctx, buildReply(pkt, this.fullReplyParams(ctx, DhcpMessageType.OFFER, offered.ip, action.boot)));
        this.counters.offers++;
        this.count(ctx.seen, 'offer');
        this.report(ctx, 'offer', offered.ip);
        return;
      }
      case 'request': {
        const outcome = await this.leases.request(range, mac, action.ip, { ...leaseFacts, arrivedAt: ctx.arrivedAt });
        if (outcome.kind === 'ignored') return this.dropped(ctx.seen, 'request ignored');
        if (outcome.kind === 'nak') {
          this.logger.warn(
            logLine(
              `NAK ${mac} xid=0x${ci.xid.toString(16)} for ${action.ip} (${action.state}): ${outcome.reason}`,
              fieldsOf(ci, { range: range.name, clientId: client?.id }),
            ),
          );
          this.send(ctx, buildReply(pkt, { messageType: DhcpMessageType.NAK, serverId, message: outcome.reason }));
          this.counters.naks++;
          this.count(ctx.seen, 'nak');
          this.report(ctx, 'nak', action.ip, outcome.reason);
          return;
        }
        this.track(ctx, 'request', outcome.ip);
        this.send(ctx, buildReply(pkt, this.fullReplyParams(ctx, DhcpMessageType.ACK, outcome.ip, action.boot)));
        this.counters.acks++;
        this.count(ctx.seen, 'ack');
        this.report(ctx, 'ack', outcome.ip);
        return;
      }
      case 'decline':
        if (await this.leases.decline(mac, action.ip)) {
          this.counters.declines++;
          this.count(ctx.seen, 'declined');
          this.report(ctx, null, action.ip);
        } else this.dropped(ctx.seen, `DECLINE of ${action.ip}, which is not this client's lease`);
        return;
      case 'release':
        if (await this.leases.release(mac, action.ip)) {
          this.counters.releases++;
          this.count(ctx.seen, 'released');
          this.report(ctx, null, action.ip);
        } else this.dropped(ctx.seen, `RELEASE of ${action.ip}, which is not this client's lease`);
        return;
      case 'inform':
        this.track(ctx, 'inform', pkt.ciaddr === ZERO_IP ? null : pkt.ciaddr);
        this.send(ctx, buildReply(pkt, this.fullReplyParams(ctx, DhcpMessageType.ACK, undefined, action.boot)));
        this.counters.acks++;
        this.count(ctx.seen, 'ack');
        this.report(ctx, 'ack', pkt.ciaddr === ZERO_IP ? null : pkt.ciaddr);
        return;
      case 'proxy-offer':
      case 'proxy-ack': {
        this.track(ctx, action.kind === 'proxy-offer' ? 'discover' : 'request', pkt.ciaddr === ZERO_IP ? null : pkt.ciaddr);
        const reply = buildProxyReply(pkt, {
          serverId,
          bootFile: this.bootFile(ctx, null),
          siaddr: nextServer(ctx),
        });
        this.send(ctx, reply);
        if (action.kind === 'proxy-offer') this.counters.offers++;
        else this.counters.acks++;
        this.count(ctx.seen, action.kind === 'proxy-offer' ? 'proxy_offer' : 'proxy_ack');
        this.report(ctx, action.kind === 'proxy-offer' ? 'offer' : 'ack', pkt.ciaddr === ZERO_IP ? null : pkt.ciaddr);
        return;
      }
    }
  }

  /** The boot file; a script URL carries a token bound to the MAC and, in full mode, to the address `ip` it gets. */
  private bootFile(ctx: Context, ip: string | null): string | null {
    const mac = ctx.ci.mac!;
    return bootFileFor({
      mac,
      arch: ctx.ci.arch,
      isIpxe: ctx.ci.isIpxe,
      isHttpClient: ctx.ci.isHttpClient,
      bootLoader: ctx.client?.bootLoader ?? null,
      secureBoot: ctx.client?.secureBoot ?? false,
      signedLoader: ctx.client?.secureBoot ? (this.signedLoaders?.entryFor(efiPlatformOf(ctx.ci.arch)) ?? null) : null,
      httpHost: ctx.serverId,
      httpPort: this.httpPort,
      token: this.tokens?.sign(mac, ip) ?? null,
    });
  }

  private fullReplyParams(
    ctx: Context,
    messageType: DhcpMessageType.OFFER | DhcpMessageType.ACK,
    yiaddr: string | undefined,
    boot: boolean,
  ): Parameters<typeof buildReply>[1] {
    const range = ctx.range;
    const bootFile = boot ? this.bootFile(ctx, yiaddr ?? (ctx.pkt.ciaddr === ZERO_IP ? null : ctx.pkt.ciaddr)) : null;
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
      siaddr: bootFile ? nextServer(ctx) : undefined,
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
        firmware: firmwarePathOf(ctx.ci),
        secureBoot: ctx.client.secureBoot === true && !ctx.ci.isIpxe && efiPlatformOf(ctx.ci.arch) !== null,
      });
    } catch (err) {
      this.logger.warn(
        logLine(`boot session tracker failed for ${ctx.ci.mac}: ${(err as Error).message}`, fieldsOf(ctx.ci, { clientId: ctx.client.id })),
      );
    }
  }

  /** One exchange for the live event stream (the client's message, our reply). Never throws. */
  private report(ctx: Context, reply: 'offer' | 'ack' | 'nak' | null, ip: string | null, reason: string | null = null): void {
    if (!this.exchanges) return;
    const message = MESSAGE_NAMES[ctx.ci.messageType ?? 0];
    if (!message) return;
    try {
      this.exchanges.exchange({
        mac: ctx.ci.mac!,
        clientId: ctx.client?.id ?? null,
        rangeId: ctx.range.id,
        range: ctx.range.name,
        xid: ctx.ci.xid.toString(16).padStart(8, '0'),
        message,
        reply,
        ip,
        proxy: ctx.range.dhcpMode === 'proxy',
        reason,
      });
    } catch (err) {
      this.logger.warn(`event publishing failed for ${ctx.ci.mac}: ${(err as Error).message}`);
    }
  }

  /**
   * Sends a reply through the socket the request arrived on: a port-4011 request is answered to its source (PXE
   * spec 2.1 §2.2.5); everything else by RFC 2131 §4.1 ({@link replyDestination}): giaddr:67 for relays, ciaddr
   * when renewing, else 255.255.255.255:68 through the receiving interface's socket.
   */
  private send(ctx: Context, reply: DhcpPacket): void {
    const { socket, port: arrivalPort, info } = ctx.arrival;
    if (!socket || !socket.isOpen) return;
    const dest =
      arrivalPort === 'pxe' && info.address !== ZERO_IP
        ? { address: info.address, port: info.port, reason: 'source' }
        : replyDestination(ctx.pkt, reply);
    const port = dest.reason === 'relay' ? BOOTP_SERVER_PORT : dest.port;
    socket.send(encodeDhcp(reply), port, dest.address);
    this.debug(
      () =>
        `sent ${DhcpMessageType[reply.options.get(53)?.[0] ?? 0] ?? '?'} to ${ctx.ci.mac} xid=0x${ctx.ci.xid.toString(16)}` +
        ` yiaddr=${reply.yiaddr} file=${reply.file || '-'} via ${dest.address}:${port} (${dest.reason})`,
      ctx.ci,
    );
  }
}

interface Context {
  arrival: DhcpArrival;
  pkt: DhcpPacket;
  ci: DhcpClientInfo;
  range: DhcpRange;
  serverId: string;
  client: DhcpClientFacts | null;
  track: boolean;
  seen: Seen;
  /** When the request arrived (ms): an offer held then is honoured however long it waited. */
  arrivedAt: number;
}

/** Direct request: the range on this interface that contains the interface address. Relayed: CIDR ∋ giaddr. */
function rangeFor(served: readonly ServedRange[], binding: DhcpBinding, pkt: DhcpPacket): ServedRange | null {
  if (pkt.giaddr !== ZERO_IP) {
    const giaddr = hostAddress(pkt.giaddr);
    if (giaddr === null) return null;
    return served.find((s) => cidrContains(s.cidr, giaddr)) ?? null;
  }
  return served.find((s) => s.range.interface === binding.name && !s.relayOnly) ?? null;
}

/**
 * Our address as the client sees it: the destination of a unicast (relay agent, renewal, port 4011), else the
 * receiving interface's address. IP_PKTINFO's ipi_spec_dst is not used for broadcasts: with several interfaces the
 * kernel may report another interface's address there.
 */
function serverAddress(binding: DhcpBinding, info: InterfaceUdpMessageInfo): string {
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
function nextServer(ctx: Context): string {
  return ctx.range.nextServer?.replace(/\/32$/, '') ?? ctx.serverId;
}
