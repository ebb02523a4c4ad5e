/**
 * Sends IPv6 Router Advertisements on one interface so that iPXE stops waiting for IPv6 autoconfiguration
 * (without an RA it stalls ~13–16 s per stage). It answers every valid Router Solicitation at once and sends
 * unsolicited RAs every few seconds. DLS is not a router: Router Lifetime 0, M=0, O=0; with a prefix configured
 * it adds a Prefix Information option (L=1, A=1) so hosts can form SLAAC addresses on the segment.
 *
 * Deviations from RFC 4861 §6.2.4/§6.2.6, on purpose: solicited RAs are sent without the 0–500 ms random delay
 * and without the 3 s MIN_DELAY_BETWEEN_RAS rate limit, because the whole point is to unblock a booting iPXE
 * quickly; the hop-limit-255 check on solicitations (§6.1.1) keeps this to the local link. Replies go to the
 * all-nodes group (the "usual case" of §6.2.6), which needs no neighbor resolution.
 */
import { buildRouterAdvertisement, ICMPV6_ROUTER_SOLICITATION } from '@protocols/ipv6/router-advertisement';
import { checkRouterSolicitation } from '@protocols/ipv6/router-solicitation';
import { loadNativeBinding, NativeIcmpv6MessageInfo } from './native-binding';
import { assertInterfaceName, interfaceInfo } from './net-interfaces';

/** RFC 4291 §2.7.1 all-nodes link-local multicast address. */
export const ALL_NODES = 'ff02::1';
/** Default unsolicited interval; each wait is drawn from intervalMs ± 1/7 (3–4 s at the default). */
export const DEFAULT_RA_INTERVAL_MS = 3500;
/** RFC 4861 §10 MAX_INITIAL_RTR_ADVERTISEMENTS: the first RAs after start go out faster. */
export const INITIAL_ADVERTISEMENTS = 3;
/** Spacing of those first RAs (RFC 4861 §6.2.4 caps it at MAX_INITIAL_RTR_ADVERT_INTERVAL = 16 s). */
export const INITIAL_INTERVAL_MS = 500;
/** Prefix lifetimes DLS advertises: short, because it re-advertises every few seconds. */
export const DEFAULT_PREFIX_VALID_SEC = 1800;
export const DEFAULT_PREFIX_PREFERRED_SEC = 900;

/** The subset of a Nest `Logger` the advertiser uses. */
export interface RouterAdvertiserLogger {
  debug(message: string): void;
  log(message: string): void;
  warn(message: string): void;
}

/** The socket the advertiser needs; the default is the dls_net raw ICMPv6 socket. */
export interface RaTransport {
  send(icmp: Buffer, destination: string): void;
  close(): void;
}

/** Opens an RaTransport on `ifname` that reports Router Solicitations. */
export type RaTransportFactory = (
  ifname: string,
  onSolicitation: (icmp: Buffer, info: NativeIcmpv6MessageInfo) => void,
  onError: (err: Error) => void,
) => RaTransport;

export interface RouterAdvertiserOptions {
  interface: string;
  /** e.g. `fd00:213::/64`; without it the RA carries no Prefix Information option. */
  prefix?: string;
  /** Mean interval between unsolicited RAs, 1000–600000 ms; default 3500 (3–4 s with jitter). */
  intervalMs?: number;
  validLifetimeSec?: number;
  preferredLifetimeSec?: number;
  logger?: RouterAdvertiserLogger;
  /** Replaces the raw socket (unit tests). */
  transportFactory?: RaTransportFactory;
  /** Source of the MAC for the Source Link-Layer Address option; defaults to /sys/class/net (unit tests). */
  macLookup?: (ifname: string) => string;
  /** Uniform random in [0, 1) for jitter; default Math.random. */
  random?: () => number;
}

const silentLogger: RouterAdvertiserLogger = { debug: () => undefined, log: () => undefined, warn: () => undefined };

const nativeTransport: RaTransportFactory = (ifname, onSolicitation, onError) => {
  const binding = loadNativeBinding();
  const socket = new binding.RaSocket(ifname, [ICMPV6_ROUTER_SOLICITATION], onSolicitation, onError);
  return { send: (icmp, destination) => void socket.send(icmp, destination), close: () => socket.close() };
};

/** Advertises on one interface between start() and stop(). Not a router: hosts never route through us. */
export class RouterAdvertiser {
  private readonly ifname: string;
  private readonly intervalMs: number;
  private readonly logger: RouterAdvertiserLogger;
  private readonly random: () => number;
  private transport: RaTransport | null = null;
  private timer: NodeJS.Timeout | null = null;
  private advertisement: Buffer | null = null;
  private sentUnsolicited = 0;
  private answered = 0;
  private failing = false;

  constructor(private readonly options: RouterAdvertiserOptions) {
    assertInterfaceName(options.interface);
    this.ifname = options.interface;
    this.intervalMs = options.intervalMs ?? DEFAULT_RA_INTERVAL_MS;
    if (!Number.isInteger(this.intervalMs) || this.intervalMs < 1000 || this.intervalMs > 600_000) {
      throw new RangeError(`intervalMs must be an integer 1000-600000, got ${String(options.intervalMs)}`);
    }
    this.logger = options.logger ?? silentLogger;
    this.random = options.random ?? Math.random;
    // Build once now so that a bad prefix or lifetime fails at construction, not on the first timer.
    this.buildAdvertisement('00:00:00:00:00:00');
  }

  /** Counters for health checks and tests. */
  get stats(): { unsolicited: number; solicited: number } {
    return { unsolicited: this.sentUnsolicited, solicited: this.answered };
  }

  get running(): boolean {
    return this.transport !== null;
  }

  /** Opens the socket and sends the first RA immediately. Throws (e.g. ENODEV, EPERM) if the socket cannot open. */
  start(): void {
    if (this.transport) return;
    const mac = (this.options.macLookup ?? ((name: string) => interfaceInfo(name).mac))(this.ifname);
    this.advertisement = this.buildAdvertisement(mac);
    const factory = this.options.transportFactory ?? nativeTransport;
    this.transport = factory(
      this.ifname,
      (icmp, info) => this.onSolicitation(icmp, info),
      (err) => this.logger.warn(`router advertiser on ${this.ifname}: receive error ${err.message}`),
    );
    this.sentUnsolicited = 0;
    const what = this.options.prefix ? ` for ${this.options.prefix}` : '';
    this.logger.log(`sending router advertisements on ${this.ifname}${what}`);
    this.tick();
  }

  /** Stops the timer and closes the socket; idempotent. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const transport = this.transport;
    this.transport = null;
    transport?.close();
  }

  private buildAdvertisement(mac: string): Buffer {
    const zeroMac = /^(00:){5}00$/.test(mac);
    return buildRouterAdvertisement({
      routerLifetimeSec: 0,
      sourceLinkLayerAddress: zeroMac ? undefined : mac,
      prefixes: this.options.prefix
        ? [
            {
              prefix: this.options.prefix,
              onLink: true,
              autonomous: true,
              validLifetimeSec: this.options.validLifetimeSec ?? DEFAULT_PREFIX_VALID_SEC,
              preferredLifetimeSec:
                this.options.preferredLifetimeSec ??
                Math.min(DEFAULT_PREFIX_PREFERRED_SEC, this.options.validLifetimeSec ?? DEFAULT_PREFIX_VALID_SEC),
            },
          ]
        : [],
    });
  }

  private tick(): void {
    this.timer = null;
    if (!this.transport) return;
    if (this.send('unsolicited')) this.sentUnsolicited++;
    const initial = this.sentUnsolicited < INITIAL_ADVERTISEMENTS;
    const base = initial ? Math.min(INITIAL_INTERVAL_MS, this.intervalMs) : this.intervalMs;
    // Uniform jitter of ±1/7 around the mean (RFC 4861 §6.2.4 asks for randomised intervals).
    const delay = Math.round(base * (6 / 7 + (2 / 7) * this.random()));
    this.timer = setTimeout(() => this.tick(), delay);
    this.timer.unref();
  }

  private onSolicitation(icmp: Buffer, info: NativeIcmpv6MessageInfo): void {
    const check = checkRouterSolicitation(icmp, info.hopLimit, info.address);
    if (!check.valid) {
      this.logger.debug(`router advertiser on ${this.ifname}: dropped RS from ${info.address}: ${check.reason}`);
      return;
    }
    if (this.send(`solicited by ${info.address}`)) {
      this.answered++;
      this.logger.debug(`router advertiser on ${this.ifname}: answered RS from ${info.address}`);
    }
  }

  private send(why: string): boolean {
    if (!this.transport || !this.advertisement) return false;
    try {
      this.transport.send(this.advertisement, ALL_NODES);
      if (this.failing) this.logger.log(`router advertiser on ${this.ifname}: sending again`);
      this.failing = false;
      return true;
    } catch (err) {
      // ENETDOWN while the link is down, EADDRNOTAVAIL before a link-local address exists: try again next tick.
      // Warn once per run of failures, then only at debug level.
      const message = `router advertiser on ${this.ifname}: ${why} RA not sent: ${(err as Error).message}`;
      if (this.failing) this.logger.debug(message);
      else this.logger.warn(message);
      this.failing = true;
      return false;
    }
  }
}
