import { DhcpPacket, encodedDhcpLength, isIpv4 } from './dhcp.codec';
import {
  BOOTP_CLIENT_PORT,
  BOOTP_FLAG_BROADCAST,
  BOOTP_SERVER_PORT,
  BootpOp,
  CHADDR_LENGTH,
  DHCP_ETHERNET_MAX_MESSAGE,
  DHCP_MIN_MAX_MESSAGE_SIZE,
  DhcpMessageType,
  DhcpOptionCode,
  FILE_LENGTH,
  HTTP_VENDOR_CLASS_PREFIX,
  IP_UDP_HEADER_LENGTH,
  IpxeEncapOption,
  PXE_VENDOR_CLASS_PREFIX,
  PxeDiscoveryControl,
  PxeVendorOption,
  SNAME_LENGTH,
} from './dhcp.constants';
import { encodeSubOptions } from './dhcp.options';
import { isIpxeRequest } from './pxe';

const ZERO_IP = '0.0.0.0';
const BROADCAST_IP = '255.255.255.255';
/** RFC 2132 §9.2: 0xffffffff means an infinite lease; T1/T2 make no sense then. */
const INFINITE_LEASE = 0xffffffff;

/** What to put in an OFFER/ACK/NAK built by {@link buildReply}. */
export interface DhcpReplyParams {
  messageType: DhcpMessageType.OFFER | DhcpMessageType.ACK | DhcpMessageType.NAK;
  /** Our address on the client's network: option 54 (RFC 2132 §9.7). */
  serverId: string;
  /** The address offered/acknowledged. Required for OFFER and for ACK to REQUEST; ignored for NAK and INFORM. */
  yiaddr?: string;
  /** Next server (TFTP) for the BOOTP `siaddr` field; defaults to `serverId` when a boot file is given. */
  siaddr?: string;
  /** Option 51. Required for OFFER and ACK to REQUEST (RFC 2131 Table 3). 58 and 59 are derived (50%, 87.5%). */
  leaseSeconds?: number;
  subnetMask?: string;
  routers?: readonly string[];
  dnsServers?: readonly string[];
  domainName?: string;
  hostname?: string;
  /** Boot file or URL: option 67, and the BOOTP `file` field when it fits (127 ASCII bytes). */
  bootFile?: string | null;
  /** Option 66, and the BOOTP `sname` field when it fits (63 ASCII bytes). */
  tftpServerName?: string;
  /** For iPXE clients, send 175.176 = 1 so iPXE skips its ~2 s ProxyDHCP wait. Default true. */
  ipxeNoPxeDhcp?: boolean;
  /** Option 56, mainly for NAK (RFC 2132 §9.9). */
  message?: string;
  /** More options (e.g. 203, 28, 119), sent last and dropped first when the reply is too big. */
  extraOptions?: ReadonlyMap<number, Buffer>;
}

/** What to put in a ProxyDHCP reply built by {@link buildProxyReply}. */
export interface ProxyReplyParams {
  /** Our address: option 54 and, by default, `siaddr`. */
  serverId: string;
  /** From {@link pickBootFile}; null sends no boot file (the client will keep looking). */
  bootFile: string | null;
  /** Next server (TFTP); defaults to `serverId`. */
  siaddr?: string;
  tftpServerName?: string;
}

/**
 * Drop priority of an option: 0 = never dropped; higher numbers are dropped first when the reply exceeds the
 * client's maximum message size.
 */
interface Entry {
  code: number;
  value: Buffer;
  drop: number;
}

const ascii = (s: string): boolean => /^[\x20-\x7e]*$/.test(s);

function u8(v: number): Buffer {
  return Buffer.from([v]);
}
function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}
function ip(v: string): Buffer {
  return ips([v]);
}
function ips(list: readonly string[]): Buffer {
  if (list.length === 0) throw new RangeError('address list must not be empty');
  const b = Buffer.alloc(4 * list.length);
  list.forEach((a, i) => {
    if (!isIpv4(a)) throw new RangeError(`not an IPv4 address: ${JSON.stringify(a)}`);
    a.split('.').forEach((part, j) => (b[4 * i + j] = Number(part)));
  });
  return b;
}
function text(v: string): Buffer {
  if (v.length === 0) throw new RangeError('text options must not be empty');
  return Buffer.from(v, 'utf8');
}

/**
 * The largest DHCP message (UDP payload) the client accepts. Option 57 counts the IP and UDP headers (as ISC dhcpd
 * reads it), is at least 576 (RFC 2132 §9.10), and is capped at one Ethernet frame since PXE ROMs may not reassemble
 * IP fragments. Without 57 the RFC 2131 §2 floor applies: 576 - 28 = 548 bytes.
 */
export function maxReplyLength(request: DhcpPacket): number {
  const raw = request.options.get(DhcpOptionCode.MAX_MESSAGE_SIZE);
  const mms = raw && raw.length === 2 ? raw.readUInt16BE(0) : DHCP_MIN_MAX_MESSAGE_SIZE;
  const datagram = Math.min(Math.max(mms, DHCP_MIN_MAX_MESSAGE_SIZE), DHCP_ETHERNET_MAX_MESSAGE + IP_UDP_HEADER_LENGTH);
  return datagram - IP_UDP_HEADER_LENGTH;
}

/** Drops options, most droppable (then last) first, until the encoded packet fits `limit`. */
function fitOptions(header: Omit<DhcpPacket, 'options'>, entries: Entry[], limit: number): DhcpPacket {
  const kept = [...entries];
  const build = (): DhcpPacket => ({ ...header, options: new Map(kept.map((e) => [e.code, e.value])) });
  let pkt = build();
  while (encodedDhcpLength(pkt) > limit) {
    let victim = -1;
    for (let i = 0; i < kept.length; i++) {
      if (kept[i].drop > 0 && (victim === -1 || kept[i].drop >= kept[victim].drop)) victim = i;
    }
    if (victim === -1) {
      throw new RangeError(`reply needs ${encodedDhcpLength(pkt)} bytes but the client accepts ${limit}`);
    }
    kept.splice(victim, 1);
    pkt = build();
  }
  return pkt;
}

function messageTypeOf(pkt: DhcpPacket): number | null {
  const v = pkt.options.get(DhcpOptionCode.MESSAGE_TYPE);
  return v && v.length === 1 ? v[0] : null;
}

function replyHeader(request: DhcpPacket): Omit<DhcpPacket, 'options'> {
  return {
    op: BootpOp.REPLY,
    htype: request.htype,
    hlen: request.hlen,
    // RFC 2131 Table 3 says 0; ISC dhcpd echoes it and relays ignore it. DLS echoes it.
    hops: request.hops,
    xid: request.xid,
    secs: 0,
    flags: request.flags,
    ciaddr: ZERO_IP,
    yiaddr: ZERO_IP,
    siaddr: ZERO_IP,
    giaddr: request.giaddr,
    chaddr: Buffer.from(request.chaddr.subarray(0, CHADDR_LENGTH)),
    sname: '',
    file: '',
  };
}

/** Adds 67 (+ `file`) and 66 (+ `sname`) with the right drop priority: droppable only when the field carries it. */
function addBootFile(
  header: Omit<DhcpPacket, 'options'>,
  entries: Entry[],
  bootFile: string | null | undefined,
  tftpServerName: string | undefined,
): void {
  if (tftpServerName) {
    const fits = ascii(tftpServerName) && tftpServerName.length < SNAME_LENGTH;
    if (fits) header.sname = tftpServerName;
    entries.push({ code: DhcpOptionCode.TFTP_SERVER_NAME, value: text(tftpServerName), drop: fits ? 5 : 3 });
  }
  if (bootFile) {
    const fits = ascii(bootFile) && bootFile.length < FILE_LENGTH;
    if (fits) header.file = bootFile;
    entries.push({ code: DhcpOptionCode.BOOTFILE_NAME, value: text(bootFile), drop: fits ? 2 : 0 });
  }
}

/** Whether the request's option 60 says UEFI HTTP boot ("HTTPClient…"). */
function isHttpBootRequest(request: DhcpPacket): boolean {
  const vc = request.options.get(DhcpOptionCode.VENDOR_CLASS);
  return (
    vc !== undefined &&
    vc.length >= HTTP_VENDOR_CLASS_PREFIX.length &&
    vc.toString('latin1', 0, HTTP_VENDOR_CLASS_PREFIX.length) === HTTP_VENDOR_CLASS_PREFIX
  );
}

/** UEFI 2.5+ §24.7.2: an offer whose boot file is a URI for an HTTP boot client carries option 60 "HTTPClient". */
function httpClientClass(): Entry {
  return { code: DhcpOptionCode.VENDOR_CLASS, value: Buffer.from(HTTP_VENDOR_CLASS_PREFIX, 'ascii'), drop: 0 };
}

/** RFC 3046 §2.2: a server that understands option 82 echoes it, unchanged, in every reply. */
function echoRelayInfo(request: DhcpPacket, entries: Entry[]): void {
  const info = request.options.get(DhcpOptionCode.RELAY_AGENT_INFO);
  if (info) entries.push({ code: DhcpOptionCode.RELAY_AGENT_INFO, value: Buffer.from(info), drop: 0 });
}

/**
 * Builds a full-mode DHCPOFFER, DHCPACK or DHCPNAK for `request` (RFC 2131 §4.3, Table 3).
 *
 * xid, chaddr, htype/hlen, flags, giaddr and hops are echoed; option 82 is echoed (RFC 3046 §2.2) and placed last.
 * OFFER/ACK carry yiaddr, siaddr, 54, 51 with 58 = 50 % and 59 = 87.5 % (RFC 2131 §4.4.5), 1, 3, 6, 15, 12, 66/sname,
 * 67/file, 60 "HTTPClient" when a UEFI HTTP boot client gets a boot file (its URL), and 175.176 = 1 for iPXE clients. An ACK to DHCPINFORM has no yiaddr and no lease times (RFC 2131 §4.3.5).
 * A NAK carries only 53, 54, 56 and 82, and sets the broadcast bit when relayed (RFC 2131 §4.3.2).
 * Options are dropped, least important first, so the reply fits the client's maximum message size
 * ({@link maxReplyLength}); RangeError if even the mandatory ones don't, or for invalid params.
 */
export function buildReply(request: DhcpPacket, params: DhcpReplyParams): DhcpPacket {
  const header = replyHeader(request);
  const entries: Entry[] = [
    { code: DhcpOptionCode.MESSAGE_TYPE, value: u8(params.messageType), drop: 0 },
    { code: DhcpOptionCode.SERVER_ID, value: ip(params.serverId), drop: 0 },
  ];

  if (params.messageType === DhcpMessageType.NAK) {
    if (header.giaddr !== ZERO_IP) header.flags |= BOOTP_FLAG_BROADCAST;
    if (params.message) entries.push({ code: DhcpOptionCode.MESSAGE, value: text(params.message), drop: 1 });
    echoRelayInfo(request, entries);
    return fitOptions(header, entries, maxReplyLength(request));
  }

  const isInform = messageTypeOf(request) === DhcpMessageType.INFORM;
  if (params.messageType === DhcpMessageType.ACK) header.ciaddr = request.ciaddr;
  if (!isInform) {
    if (!params.yiaddr || !isIpv4(params.yiaddr) || params.yiaddr === ZERO_IP) {
      throw new RangeError('yiaddr is required for an OFFER or ACK');
    }
    header.yiaddr = params.yiaddr;
    const lease = params.leaseSeconds;
    if (lease === undefined || !Number.isInteger(lease) || lease < 1 || lease > INFINITE_LEASE) {
      throw new RangeError(`leaseSeconds is required (1..${INFINITE_LEASE}), got ${lease}`);
    }
    entries.push({ code: DhcpOptionCode.LEASE_TIME, value: u32(lease), drop: 0 });
    if (lease !== INFINITE_LEASE) {
      entries.push({ code: DhcpOptionCode.RENEWAL_TIME, value: u32(Math.floor(lease / 2)), drop: 3 });
      entries.push({ code: DhcpOptionCode.REBINDING_TIME, value: u32(Math.floor((lease * 7) / 8)), drop: 3 });
    }
  }
  const siaddr = params.siaddr ?? (params.bootFile ? params.serverId : undefined);
  if (siaddr !== undefined) {
    if (!isIpv4(siaddr)) throw new RangeError(`not an IPv4 address: ${JSON.stringify(siaddr)}`);
    header.siaddr = siaddr;
  }
  if (params.subnetMask) entries.push({ code: DhcpOptionCode.SUBNET_MASK, value: ip(params.subnetMask), drop: 1 });
  if (params.routers?.length) entries.push({ code: DhcpOptionCode.ROUTER, value: ips(params.routers), drop: 2 });
  if (params.dnsServers?.length) {
    entries.push({ code: DhcpOptionCode.DNS_SERVERS, value: ips(params.dnsServers), drop: 4 });
  }
  if (params.domainName) entries.push({ code: DhcpOptionCode.DOMAIN_NAME, value: text(params.domainName), drop: 5 });
  if (params.hostname) entries.push({ code: DhcpOptionCode.HOSTNAME, value: text(params.hostname), drop: 5 });
  addBootFile(header, entries, params.bootFile, params.tftpServerName);
  if (params.bootFile && isHttpBootRequest(request)) entries.push(httpClientClass());
  if ((params.ipxeNoPxeDhcp ?? true) && isIpxeRequest(request)) {
    const value = encodeSubOptions(new Map([[IpxeEncapOption.NO_PXEDHCP, u8(1)]]));
    entries.push({ code: DhcpOptionCode.IPXE_ENCAP, value, drop: 3 });
  }
  for (const [code, value] of params.extraOptions ?? []) {
    if (entries.some((e) => e.code === code)) throw new RangeError(`extra option ${code} duplicates a built-in one`);
    entries.push({ code, value: Buffer.from(value), drop: 6 });
  }
  if (params.message) entries.push({ code: DhcpOptionCode.MESSAGE, value: text(params.message), drop: 6 });
  echoRelayInfo(request, entries);
  return fitOptions(header, entries, maxReplyLength(request));
}

/**
 * Builds a ProxyDHCP reply (PXE spec 2.1 §2.2, RFC 4578): a DHCPOFFER to a DISCOVER on port 67, or a DHCPACK to a
 * REQUEST on port 4011. It leases nothing: yiaddr 0.0.0.0, no 51. It carries 60 "PXEClient", 54, 97 echoed, the
 * boot file (67 + `file`) and siaddr, and — for a non-iPXE PXE ROM — option 43 with PXE_DISCOVERY_CONTROL = 8 so the
 * ROM boots that file without boot-server discovery. iPXE needs no 43. A UEFI HTTP boot client ("HTTPClient" in its
 * 60) gets 60 "HTTPClient" and no 43: its firmware pairs this offer's URL with the DHCP server's address offer. RangeError for other message types.
 */
export function buildProxyReply(request: DhcpPacket, params: ProxyReplyParams): DhcpPacket {
  const requestType = messageTypeOf(request);
  let messageType: DhcpMessageType;
  if (requestType === DhcpMessageType.DISCOVER) messageType = DhcpMessageType.OFFER;
  else if (requestType === DhcpMessageType.REQUEST) messageType = DhcpMessageType.ACK;
  else throw new RangeError(`ProxyDHCP answers DISCOVER or REQUEST only, not message type ${requestType}`);

  const header = replyHeader(request);
  if (messageType === DhcpMessageType.ACK) header.ciaddr = request.ciaddr;
  const siaddr = params.siaddr ?? params.serverId;
  if (!isIpv4(siaddr)) throw new RangeError(`not an IPv4 address: ${JSON.stringify(siaddr)}`);
  header.siaddr = siaddr;

  const http = isHttpBootRequest(request);
  const entries: Entry[] = [
    { code: DhcpOptionCode.MESSAGE_TYPE, value: u8(messageType), drop: 0 },
    { code: DhcpOptionCode.SERVER_ID, value: ip(params.serverId), drop: 0 },
    http ? httpClientClass() : { code: DhcpOptionCode.VENDOR_CLASS, value: Buffer.from(PXE_VENDOR_CLASS_PREFIX, 'ascii'), drop: 0 },
  ];
  const uuid = request.options.get(DhcpOptionCode.CLIENT_UUID);
  if (uuid) entries.push({ code: DhcpOptionCode.CLIENT_UUID, value: Buffer.from(uuid), drop: 4 });
  addBootFile(header, entries, params.bootFile, params.tftpServerName);
  if (!http && !isIpxeRequest(request)) {
    const pxe = new Map([[PxeVendorOption.DISCOVERY_CONTROL, u8(PxeDiscoveryControl.USE_BOOTFILE)]]);
    entries.push({ code: DhcpOptionCode.VENDOR_SPECIFIC, value: encodeSubOptions(pxe, true), drop: 0 });
  }
  echoRelayInfo(request, entries);
  return fitOptions(header, entries, maxReplyLength(request));
}

/** Where to send a reply, and why (for debug logs). */
export interface ReplyDestination {
  address: string;
  port: number;
  reason: 'relay' | 'nak-broadcast' | 'ciaddr' | 'broadcast-flag' | 'broadcast-no-address';
}

/**
 * RFC 2131 §4.1 reply addressing, DLS flavour:
 * - giaddr set → the relay agent, port 67;
 * - NAK (no relay) → broadcast;
 * - ciaddr set → unicast to ciaddr:68;
 * - otherwise broadcast 255.255.255.255:68. RFC 2131 would allow unicast to yiaddr when the broadcast bit is clear,
 *   but that needs an ARP entry for an address the client hasn't configured, which a Node socket can't write — so
 *   an address-less client always gets a broadcast.
 * A ProxyDHCP ACK to a request received on port 4011 should instead go back to that datagram's source address and
 * port (PXE spec 2.1 §2.2.5); this function doesn't see the source.
 */
export function replyDestination(request: DhcpPacket, reply: DhcpPacket): ReplyDestination {
  if (request.giaddr !== ZERO_IP) return { address: request.giaddr, port: BOOTP_SERVER_PORT, reason: 'relay' };
  if (messageTypeOf(reply) === DhcpMessageType.NAK) {
    return { address: BROADCAST_IP, port: BOOTP_CLIENT_PORT, reason: 'nak-broadcast' };
  }
  if (request.ciaddr !== ZERO_IP) return { address: request.ciaddr, port: BOOTP_CLIENT_PORT, reason: 'ciaddr' };
  const flagged = (request.flags & BOOTP_FLAG_BROADCAST) !== 0;
  const reason = flagged ? 'broadcast-flag' : 'broadcast-no-address';
  return { address: BROADCAST_IP, port: BOOTP_CLIENT_PORT, reason };
}
