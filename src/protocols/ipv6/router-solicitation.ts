/**
 * Router Solicitation validity checks (RFC 4861 §6.1.1) and a tiny encoder (RFC 4861 §4.1) used by tests
 * to play the host's part. Pure: no sockets.
 */
import { ND_OPT_SOURCE_LINK_LAYER_ADDRESS, ICMPV6_ROUTER_SOLICITATION } from './router-advertisement';
import { formatMacAddress, parseIpv6Address, parseMacAddress } from './ipv6-address';

/** Minimum RS length: type, code, checksum, 4 reserved bytes (§4.1, §6.1.1 "ICMP length is 8 or more"). */
export const RS_MIN_LENGTH = 8;
/** Neighbor Discovery messages must arrive with IP hop limit 255, proving they came from the link (§6.1.1). */
export const ND_HOP_LIMIT = 255;

/** A solicitation that passed the §6.1.1 checks. */
export interface RouterSolicitation {
  /** The IPv6 source (`::` while the host has no address yet). */
  source: string;
  /** From the Source Link-Layer Address option (§4.6.1), when present. */
  sourceLinkLayerAddress?: string;
}

/** Result of {@link checkRouterSolicitation}: the parsed RS, or why it must be silently discarded. */
export type RouterSolicitationCheck = { valid: true; solicitation: RouterSolicitation } | { valid: false; reason: string };

/**
 * Applies RFC 4861 §6.1.1 to a received ICMPv6 message: hop limit 255, type 133, code 0, length ≥ 8, every option
 * length > 0 and within the message, and no Source Link-Layer Address option when the source is unspecified.
 * (The kernel has already verified the ICMPv6 checksum.) Never throws on message bytes.
 */
export function checkRouterSolicitation(icmp: Buffer, hopLimit: number, source: string): RouterSolicitationCheck {
  if (hopLimit !== ND_HOP_LIMIT) return { valid: false, reason: `hop limit ${hopLimit} is not 255` };
  if (icmp.length < RS_MIN_LENGTH) return { valid: false, reason: `length ${icmp.length} < 8` };
  if (icmp[0] !== ICMPV6_ROUTER_SOLICITATION) return { valid: false, reason: `type ${icmp[0]} is not 133` };
  if (icmp[1] !== 0) return { valid: false, reason: `code ${icmp[1]} is not 0` };
  let unspecified: boolean;
  try {
    unspecified = parseIpv6Address(source).every((b) => b === 0);
  } catch {
    return { valid: false, reason: `bad source address ${source}` };
  }
  const solicitation: RouterSolicitation = { source };
  for (let at = RS_MIN_LENGTH; at < icmp.length;) {
    if (at + 2 > icmp.length) return { valid: false, reason: 'truncated option header' };
    const type = icmp[at];
    const units = icmp[at + 1];
    if (units === 0) return { valid: false, reason: 'option with length 0' };
    const end = at + units * 8;
    if (end > icmp.length) return { valid: false, reason: 'option runs past the message' };
    if (type === ND_OPT_SOURCE_LINK_LAYER_ADDRESS) {
      if (unspecified) return { valid: false, reason: 'source link-layer option with unspecified source' };
      if (units === 1) solicitation.sourceLinkLayerAddress = formatMacAddress(icmp.subarray(at + 2, at + 8));
    }
    at = end;
  }
  return { valid: true, solicitation };
}

/** Encodes a Router Solicitation (§4.1), with a Source Link-Layer Address option when a MAC is given. */
export function buildRouterSolicitation(sourceLinkLayerAddress?: string): Buffer {
  const rs = Buffer.alloc(sourceLinkLayerAddress === undefined ? RS_MIN_LENGTH : RS_MIN_LENGTH + 8);
  rs.writeUInt8(ICMPV6_ROUTER_SOLICITATION, 0);
  if (sourceLinkLayerAddress !== undefined) {
    rs.writeUInt8(ND_OPT_SOURCE_LINK_LAYER_ADDRESS, 8);
    rs.writeUInt8(1, 9);
    parseMacAddress(sourceLinkLayerAddress).copy(rs, 10);
  }
  return rs;
}
