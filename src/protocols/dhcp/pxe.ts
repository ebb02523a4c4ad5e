import { MalformedPacketError } from '../malformed-packet.error';
import { DhcpPacket } from './dhcp.codec';
import {
  DhcpMessageType,
  DhcpOptionCode,
  HTTP_VENDOR_CLASS_PREFIX,
  IPXE_USER_CLASS,
  PXE_UUID_TYPE_GUID,
  PXE_VENDOR_CLASS_PREFIX,
  PxeArch,
} from './dhcp.constants';
import { getBytes, getIp, getString, getU16, getU16s, getU8, getU8s } from './dhcp.options';

/** What a DHCP request tells us about the client, for boot policy and logs. */
export interface DhcpClientInfo {
  /** `aa:bb:cc:dd:ee:ff` from chaddr when htype=1 (Ethernet) and hlen=6; otherwise null. */
  mac: string | null;
  xid: number;
  /** Option 53, or null for plain BOOTP / unknown values. */
  messageType: DhcpMessageType | null;
  /** Option 60 starts with "PXEClient". */
  isPxe: boolean;
  /** Option 60 starts with "HTTPClient": UEFI HTTP boot, which wants its boot file as a URL (UEFI 2.5+ §24.7). */
  isHttpClient: boolean;
  /** First entry of option 93 (RFC 4578 §2.1), or null. */
  arch: number | null;
  /** Option 77 is "iPXE" (bare or RFC 3004 length-prefixed), or option 175 is present. */
  isIpxe: boolean;
  /** Option 97 as a canonical lower-case UUID string, or null when absent or not type 0 + 16 bytes. */
  uuid: string | null;
  requestedIp: string | null;
  serverId: string | null;
  hostname: string | null;
  vendorClass: string | null;
  /** Option 77 as a list of classes (bare string → one entry; RFC 3004 format → each entry), or null. */
  userClass: string[] | null;
  /** giaddr != 0.0.0.0: the request came through a relay agent. */
  relayed: boolean;
  clientId: Buffer | null;
  /** Option 57 as sent (may be below the 576 minimum; the reply builder clamps it). */
  maxMessageSize: number | null;
  paramRequestList: number[] | null;
  /** Option 82 raw, to echo back (RFC 3046 §2.2). */
  relayAgentInfo: Buffer | null;
}

const ZERO_IP = '0.0.0.0';

/** Formats a 6-byte hardware address as lower-case colon-separated hex. */
export function formatMac(bytes: Buffer): string {
  return bytes.toString('hex', 0, 6).replace(/(..)(?!$)/g, '$1:');
}

/**
 * Converts the 16 bytes of option 97 (SMBIOS byte order: the first three fields little-endian, the rest as is) into
 * the canonical UUID string. `00 50 d1 00 00 00 00 40 80 00 …` → `00d15000-0000-4000-8000-…`.
 */
export function uuidFromSmbiosBytes(bytes: Buffer): string {
  if (bytes.length !== 16) throw new RangeError('UUID must be 16 bytes');
  const b = bytes;
  const h = Buffer.from([b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6]]).toString('hex');
  const tail = b.toString('hex', 8, 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${tail.slice(0, 4)}-${tail.slice(4)}`;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The inverse of {@link uuidFromSmbiosBytes}: canonical string → 16 bytes in SMBIOS order. */
export function uuidToSmbiosBytes(uuid: string): Buffer {
  if (!UUID_RE.test(uuid)) throw new RangeError(`not a UUID: ${JSON.stringify(uuid)}`);
  const b = Buffer.from(uuid.replace(/-/g, ''), 'hex');
  b.subarray(0, 4).reverse();
  b.subarray(4, 6).reverse();
  b.subarray(6, 8).reverse();
  return b;
}

/**
 * Splits option 77. RFC 3004 §4 encodes each class as length + data; iPXE sends the bare string "iPXE". If the value
 * parses exactly as RFC 3004 it is taken as such, otherwise as one bare class.
 */
export function parseUserClass(value: Buffer): string[] {
  const classes: string[] = [];
  let i = 0;
  while (i < value.length) {
    const len = value[i];
    if (len === 0 || i + 1 + len > value.length) return [value.toString('utf8')];
    classes.push(value.toString('utf8', i + 1, i + 1 + len));
    i += 1 + len;
  }
  return classes.length > 0 ? classes : [value.toString('utf8')];
}

function messageTypeOf(pkt: DhcpPacket): DhcpMessageType | null {
  const t = getU8(pkt.options, DhcpOptionCode.MESSAGE_TYPE);
  return t !== null && t >= DhcpMessageType.DISCOVER && t <= DhcpMessageType.INFORM ? t : null;
}

/**
 * Classifies a decoded request. Throws only MalformedPacketError, and only when an option that drives the server's
 * decision (53, 50, 54, 57 or 93) is malformed; descriptive options (97, 77, 12, 60) that do not have
 * the expected shape come back as null rather than losing the client.
 */
export function classifyClient(pkt: DhcpPacket): DhcpClientInfo {
  const o = pkt.options;
  const messageType = messageTypeOf(pkt);
  const archList = getU16s(o, DhcpOptionCode.CLIENT_ARCH);
  const vendorClass = safe(() => getString(o, DhcpOptionCode.VENDOR_CLASS));
  const userClassRaw = o.get(DhcpOptionCode.USER_CLASS);
  const userClass = userClassRaw && userClassRaw.length > 0 ? parseUserClass(userClassRaw) : null;
  const uuidRaw = o.get(DhcpOptionCode.CLIENT_UUID);
  const uuid = uuidRaw && uuidRaw.length === 17 && uuidRaw[0] === PXE_UUID_TYPE_GUID ? uuidFromSmbiosBytes(uuidRaw.subarray(1)) : null;
  return {
    mac: pkt.htype === 1 && pkt.hlen === 6 ? formatMac(pkt.chaddr) : null,
    xid: pkt.xid,
    messageType,
    isPxe: vendorClass !== null && vendorClass.startsWith(PXE_VENDOR_CLASS_PREFIX),
    isHttpClient: vendorClass !== null && vendorClass.startsWith(HTTP_VENDOR_CLASS_PREFIX),
    arch: archList ? archList[0] : null,
    isIpxe: isIpxeRequest(pkt),
    uuid,
    requestedIp: getIp(o, DhcpOptionCode.REQUESTED_IP),
    serverId: getIp(o, DhcpOptionCode.SERVER_ID),
    hostname: safe(() => getString(o, DhcpOptionCode.HOSTNAME)),
    vendorClass,
    userClass,
    relayed: pkt.giaddr !== ZERO_IP,
    clientId: getBytes(o, DhcpOptionCode.CLIENT_ID),
    maxMessageSize: getU16(o, DhcpOptionCode.MAX_MESSAGE_SIZE),
    paramRequestList: getU8s(o, DhcpOptionCode.PARAM_REQUEST_LIST),
    relayAgentInfo: getBytes(o, DhcpOptionCode.RELAY_AGENT_INFO),
  };
}

function safe<T>(read: () => T): T | null {
  try {
    return read();
  } catch (err) {
    if (err instanceof MalformedPacketError) return null;
    throw err;
  }
}

/** Where the boot files live; what {@link pickBootFile} chooses between. */
export interface BootFileChoices {
  /** BIOS PXE loader served by TFTP, e.g. `undionly.kpxe`. */
  biosLoader: string;
  /** UEFI loader served by TFTP, e.g. `ipxe.efi` or `snponly.efi`. */
  efiLoader: string;
  /** The iPXE script URL, e.g. `http://10.0.0.1:8080/boot.ipxe`. */
  scriptUrl: string;
}

/** Which kind of loader a client architecture (option 93) runs, or null when DLS has none for it. */
export type LoaderKind = 'bios' | 'efi';

/**
 * The loader kind of an architecture: 0 (BIOS) → BIOS; 6/7/9 (EFI IA32, EFI BC, EFI x64 over PXE) and 15/16 (EFI
 * IA32, x64 over HTTP) → EFI. Anything else (ARM, Itanium, BIOS over HTTP, none) → null: DLS has no loader for it
 * unless the client names one. Arch 6 and 15 are 32-bit UEFI: give such clients a loader that runs there.
 */
export function loaderKindOf(arch: number | null): LoaderKind | null {
  switch (arch) {
    case PxeArch.BIOS_X86:
      return 'bios';
    case PxeArch.EFI_IA32:
    case PxeArch.EFI_BC:
    case PxeArch.EFI_X64:
    case PxeArch.EFI_IA32_HTTP:
    case PxeArch.EFI_X64_HTTP:
      return 'efi';
    default:
      return null;
  }
}

/** The CPU of a UEFI client by option 93 (PXE or HTTP boot): what a Secure Boot loader must be built for; null for BIOS and others. */
export function efiPlatformOf(arch: number | null): 'x64' | 'arm64' | 'ia32' | null {
  switch (arch) {
    case PxeArch.EFI_IA32:
    case PxeArch.EFI_IA32_HTTP:
      return 'ia32';
    case PxeArch.EFI_BC:
    case PxeArch.EFI_X64:
    case PxeArch.EFI_BC_HTTP:
    case PxeArch.EFI_X64_HTTP:
      return 'x64';
    case PxeArch.EFI_ARM64:
    case PxeArch.EFI_ARM64_HTTP:
      return 'arm64';
    default:
      return null;
  }
}

/**
 * How a client's firmware network-boots, read from one request: option 60 "HTTPClient" → `uefi-http`; otherwise the
 * loader kind of option 93 → `bios-pxe` / `uefi-pxe` (iPXE ROMs count as the PXE of their firmware); null when the
 * architecture says neither.
 */
export function firmwarePathOf(info: Pick<DhcpClientInfo, 'arch' | 'isHttpClient'>): 'bios-pxe' | 'uefi-pxe' | 'uefi-http' | null {
  if (info.isHttpClient) return 'uefi-http';
  const kind = loaderKindOf(info.arch);
  return kind === 'bios' ? 'bios-pxe' : kind === 'efi' ? 'uefi-pxe' : null;
}

/**
 * Chooses the boot file for a client (the dnsmasq chain measured in the lab): an iPXE client gets the script URL;
 * otherwise option 93 decides through {@link loaderKindOf} — BIOS → BIOS loader, EFI (PXE or HTTP) → EFI loader.
 * Any other or missing architecture → null (do not offer a boot file).
 */
export function pickBootFile(arch: number | null, isIpxe: boolean, choices: BootFileChoices): string | null {
  if (isIpxe) return choices.scriptUrl;
  const kind = loaderKindOf(arch);
  return kind === 'bios' ? choices.biosLoader : kind === 'efi' ? choices.efiLoader : null;
}

/** True when the request comes from iPXE (option 77 says "iPXE" in either encoding, or option 175 is present). */
export function isIpxeRequest(pkt: DhcpPacket): boolean {
  if (pkt.options.has(DhcpOptionCode.IPXE_ENCAP)) return true;
  const userClass = pkt.options.get(DhcpOptionCode.USER_CLASS);
  return userClass !== undefined && userClass.length > 0 && parseUserClass(userClass).includes(IPXE_USER_CLASS);
}
