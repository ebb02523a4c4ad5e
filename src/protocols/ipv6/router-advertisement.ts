/**
 * Router Advertisement encoder (RFC 4861 §4.2) with the options DLS sends: Source Link-Layer Address
 * (§4.6.1), Prefix Information (§4.6.2) and MTU (§4.6.4). Pure: returns the ICMPv6 message bytes with the
 * checksum left at zero, because the kernel computes the ICMPv6 checksum on raw ICMPv6 sockets (RFC 3542 §3.1).
 *
 * DLS advertises only so that iPXE stops waiting for IPv6 autoconfiguration (it stalls ~13–16 s when no RA
 * arrives); it is not a default router, so the Router Lifetime is 0 by default.
 */
import { IPV6_ADDRESS_LENGTH, parseIpv6Prefix, parseMacAddress } from './ipv6-address';

/** ICMPv6 type of a Router Solicitation (RFC 4861 §4.1). */
export const ICMPV6_ROUTER_SOLICITATION = 133;
/** ICMPv6 type of a Router Advertisement (RFC 4861 §4.2). */
export const ICMPV6_ROUTER_ADVERTISEMENT = 134;
/** Length of the fixed RA header: type, code, checksum, hop limit, flags, lifetime, reachable, retrans (§4.2). */
export const RA_HEADER_LENGTH = 16;
/** ND option types (RFC 4861 §4.6). */
export const ND_OPT_SOURCE_LINK_LAYER_ADDRESS = 1;
export const ND_OPT_PREFIX_INFORMATION = 3;
export const ND_OPT_MTU = 5;
/**
 * RA flag bits in byte 5, after Cur Hop Limit in byte 4 (§4.2): M = managed address configuration,
 * O = other configuration.
 */
export const RA_FLAG_MANAGED = 0x80;
export const RA_FLAG_OTHER = 0x40;
/** Prefix Information flag bits (§4.6.2): L = on-link, A = autonomous address configuration. */
export const PREFIX_FLAG_ON_LINK = 0x80;
export const PREFIX_FLAG_AUTONOMOUS = 0x40;
/** Router Lifetime upper bound in seconds (§6.2.1 AdvDefaultLifetime: MUST be no greater than 9000). */
export const MAX_ROUTER_LIFETIME_SEC = 9000;
/** Default prefix lifetimes (§6.2.1 AdvValidLifetime = 30 days, AdvPreferredLifetime = 7 days). */
export const DEFAULT_VALID_LIFETIME_SEC = 2_592_000;
export const DEFAULT_PREFERRED_LIFETIME_SEC = 604_800;
/** "Infinity" for prefix lifetimes (§4.6.2: all one bits). */
export const INFINITE_LIFETIME = 0xffffffff;

/** One Prefix Information option (RFC 4861 §4.6.2). */
export interface RaPrefixInformation {
  /** `fd00:213::/64`. Host bits are cleared on the wire. SLAAC needs /64 on Ethernet (RFC 4862 §5.5.3, RFC 2464). */
  prefix: string;
  /** L flag; default true. */
  onLink?: boolean;
  /** A flag; default true. */
  autonomous?: boolean;
  /** Seconds; default 30 days (§6.2.1). */
  validLifetimeSec?: number;
  /** Seconds; default 7 days (§6.2.1). Must not exceed the valid lifetime (§4.6.2). */
  preferredLifetimeSec?: number;
}

/** What goes into one Router Advertisement. Every field has the RFC 4861 §6.2.1 "unspecified" default. */
export interface RouterAdvertisementFields {
  /** Cur Hop Limit for hosts; 0 = unspecified (§4.2). */
  curHopLimit?: number;
  /** M flag (§4.2); default false. */
  managed?: boolean;
  /** O flag (§4.2); default false. */
  otherConfig?: boolean;
  /** Seconds; 0 = not a default router (§4.2, §6.3.4). Default 0. */
  routerLifetimeSec?: number;
  /** Milliseconds; 0 = unspecified (§4.2). */
  reachableTimeMs?: number;
  /** Milliseconds; 0 = unspecified (§4.2). */
  retransTimerMs?: number;
  /** The sending interface's MAC, sent as a Source Link-Layer Address option (§4.6.1). */
  sourceLinkLayerAddress?: string;
  /** Link MTU option (§4.6.4); omitted when undefined. */
  mtu?: number;
  prefixes?: RaPrefixInformation[];
}

function checkUint(name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${name} must be an integer 0-${max}, got ${String(value)}`);
  }
  return value;
}

/**
 * Encodes a Router Advertisement ICMPv6 message (RFC 4861 §4.2), options in the order SLLA, MTU, prefixes.
 * The checksum (bytes 2–3) is zero; the kernel fills it in on send. Throws `RangeError`/`TypeError` on bad input.
 */
export function buildRouterAdvertisement(fields: RouterAdvertisementFields = {}): Buffer {
  const curHopLimit = checkUint('curHopLimit', fields.curHopLimit ?? 0, 255);
  const routerLifetime = checkUint('routerLifetimeSec', fields.routerLifetimeSec ?? 0, MAX_ROUTER_LIFETIME_SEC);
  const reachable = checkUint('reachableTimeMs', fields.reachableTimeMs ?? 0, 0xffffffff);
  const retrans = checkUint('retransTimerMs', fields.retransTimerMs ?? 0, 0xffffffff);
  const chunks: Buffer[] = [];

  const header = Buffer.alloc(RA_HEADER_LENGTH);
  header.writeUInt8(ICMPV6_ROUTER_ADVERTISEMENT, 0); // Type (§4.2)
  header.writeUInt8(0, 1); // Code 0
  header.writeUInt16BE(0, 2); // Checksum: computed by the kernel
  header.writeUInt8(curHopLimit, 4);
  header.writeUInt8((fields.managed ? RA_FLAG_MANAGED : 0) | (fields.otherConfig ? RA_FLAG_OTHER : 0), 5);
  header.writeUInt16BE(routerLifetime, 6);
  header.writeUInt32BE(reachable, 8);
  header.writeUInt32BE(retrans, 12);
  chunks.push(header);

  if (fields.sourceLinkLayerAddress !== undefined) {
    // §4.6.1: type 1, length 1 (units of 8 octets), 6-byte Ethernet address (RFC 2464 §6).
    const option = Buffer.alloc(8);
    option.writeUInt8(ND_OPT_SOURCE_LINK_LAYER_ADDRESS, 0);
    option.writeUInt8(1, 1);
    parseMacAddress(fields.sourceLinkLayerAddress).copy(option, 2);
    chunks.push(option);
  }

  if (fields.mtu !== undefined) {
    // §4.6.4: type 5, length 1, 2 reserved bytes, 32-bit MTU. IPv6 links carry at least 1280 (RFC 8200 §5).
    const mtu = checkUint('mtu', fields.mtu, 0xffffffff);
    if (mtu < 1280) throw new RangeError(`mtu must be at least 1280, got ${mtu}`);
    const option = Buffer.alloc(8);
    option.writeUInt8(ND_OPT_MTU, 0);
    option.writeUInt8(1, 1);
    option.writeUInt32BE(mtu, 4);
    chunks.push(option);
  }

  for (const info of fields.prefixes ?? []) {
    const { address, length } = parseIpv6Prefix(info.prefix);
    const valid = checkUint('validLifetimeSec', info.validLifetimeSec ?? DEFAULT_VALID_LIFETIME_SEC, 0xffffffff);
    const preferred = checkUint('preferredLifetimeSec', info.preferredLifetimeSec ?? Math.min(DEFAULT_PREFERRED_LIFETIME_SEC, valid), 0xffffffff);
    if (preferred > valid) throw new RangeError('preferredLifetimeSec must not exceed validLifetimeSec (§4.6.2)');
    // §4.6.2: type 3, length 4 (32 bytes), prefix length, L|A flags, valid, preferred, 4 reserved, prefix.
    const option = Buffer.alloc(32);
    option.writeUInt8(ND_OPT_PREFIX_INFORMATION, 0);
    option.writeUInt8(4, 1);
    option.writeUInt8(length, 2);
    option.writeUInt8(((info.onLink ?? true) ? PREFIX_FLAG_ON_LINK : 0) | ((info.autonomous ?? true) ? PREFIX_FLAG_AUTONOMOUS : 0), 3);
    option.writeUInt32BE(valid, 4);
    option.writeUInt32BE(preferred, 8);
    address.copy(option, 32 - IPV6_ADDRESS_LENGTH);
    chunks.push(option);
  }

  return Buffer.concat(chunks);
}
