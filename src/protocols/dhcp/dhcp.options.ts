import { MalformedPacketError } from '../malformed-packet.error';
import { readIp, writeIp } from './dhcp.codec';
import { DhcpOptionCode } from './dhcp.constants';

/**
 * How an option's value is laid out on the wire.
 * - `ip` 4 bytes; `ips` a non-empty multiple of 4; `u8`/`u16`/`u32` big-endian unsigned (RFC 2132 §2);
 * - `string` text (UTF-8, a superset of the NVT ASCII of RFC 2132 §2; trailing NULs dropped on read);
 * - `u8s` / `u16s` lists (options 55, 93); `flag` zero length;
 * - `encapsulated` sub-option TLVs (43, 82, 175); `domains` RFC 1035 §3.1 names (RFC 3397); `bytes` opaque.
 */
export type DhcpOptionType = 'ip' | 'ips' | 'u8' | 'u16' | 'u32' | 'string' | 'bytes' | 'u8s' | 'u16s' | 'encapsulated' | 'domains';

/** One row of the option table. */
export interface DhcpOptionSpec {
  readonly code: number;
  readonly name: string;
  readonly type: DhcpOptionType;
  /** Where the option is defined. */
  readonly ref: string;
}

const rows: readonly DhcpOptionSpec[] = [
  { code: DhcpOptionCode.SUBNET_MASK, name: 'subnet-mask', type: 'ip', ref: 'RFC 2132 §3.3' },
  { code: DhcpOptionCode.ROUTER, name: 'router', type: 'ips', ref: 'RFC 2132 §3.5' },
  { code: DhcpOptionCode.DNS_SERVERS, name: 'dns-servers', type: 'ips', ref: 'RFC 2132 §3.8' },
  { code: DhcpOptionCode.HOSTNAME, name: 'hostname', type: 'string', ref: 'RFC 2132 §3.14' },
  { code: DhcpOptionCode.DOMAIN_NAME, name: 'domain-name', type: 'string', ref: 'RFC 2132 §3.17' },
  { code: DhcpOptionCode.BROADCAST_ADDRESS, name: 'broadcast-address', type: 'ip', ref: 'RFC 2132 §5.3' },
  { code: DhcpOptionCode.VENDOR_SPECIFIC, name: 'vendor-specific', type: 'encapsulated', ref: 'RFC 2132 §8.4' },
  { code: DhcpOptionCode.REQUESTED_IP, name: 'requested-ip', type: 'ip', ref: 'RFC 2132 §9.1' },
  { code: DhcpOptionCode.LEASE_TIME, name: 'lease-time', type: 'u32', ref: 'RFC 2132 §9.2' },
  { code: DhcpOptionCode.OVERLOAD, name: 'overload', type: 'u8', ref: 'RFC 2132 §9.3' },
  { code: DhcpOptionCode.MESSAGE_TYPE, name: 'message-type', type: 'u8', ref: 'RFC 2132 §9.6' },
  { code: DhcpOptionCode.SERVER_ID, name: 'server-id', type: 'ip', ref: 'RFC 2132 §9.7' },
  { code: DhcpOptionCode.PARAM_REQUEST_LIST, name: 'param-request-list', type: 'u8s', ref: 'RFC 2132 §9.8' },
  { code: DhcpOptionCode.MESSAGE, name: 'message', type: 'string', ref: 'RFC 2132 §9.9' },
  { code: DhcpOptionCode.MAX_MESSAGE_SIZE, name: 'max-message-size', type: 'u16', ref: 'RFC 2132 §9.10' },
  { code: DhcpOptionCode.RENEWAL_TIME, name: 'renewal-time', type: 'u32', ref: 'RFC 2132 §9.11' },
  { code: DhcpOptionCode.REBINDING_TIME, name: 'rebinding-time', type: 'u32', ref: 'RFC 2132 §9.12' },
  { code: DhcpOptionCode.VENDOR_CLASS, name: 'vendor-class', type: 'string', ref: 'RFC 2132 §9.13' },
  { code: DhcpOptionCode.CLIENT_ID, name: 'client-id', type: 'bytes', ref: 'RFC 2132 §9.14' },
  { code: DhcpOptionCode.TFTP_SERVER_NAME, name: 'tftp-server-name', type: 'string', ref: 'RFC 2132 §9.4' },
  { code: DhcpOptionCode.BOOTFILE_NAME, name: 'bootfile-name', type: 'string', ref: 'RFC 2132 §9.5' },
  { code: DhcpOptionCode.USER_CLASS, name: 'user-class', type: 'bytes', ref: 'RFC 3004 §4' },
  { code: DhcpOptionCode.RELAY_AGENT_INFO, name: 'relay-agent-info', type: 'encapsulated', ref: 'RFC 3046 §2' },
  { code: DhcpOptionCode.CLIENT_ARCH, name: 'client-arch', type: 'u16s', ref: 'RFC 4578 §2.1' },
  { code: DhcpOptionCode.CLIENT_NDI, name: 'client-ndi', type: 'bytes', ref: 'RFC 4578 §2.2' },
  { code: DhcpOptionCode.CLIENT_UUID, name: 'client-uuid', type: 'bytes', ref: 'RFC 4578 §2.3' },
  { code: DhcpOptionCode.DOMAIN_SEARCH, name: 'domain-search', type: 'domains', ref: 'RFC 3397 §2' },
  { code: DhcpOptionCode.IPXE_ENCAP, name: 'ipxe-encap', type: 'encapsulated', ref: 'iPXE include/ipxe/dhcp.h' },
  {
    code: DhcpOptionCode.ISCSI_INITIATOR_IQN,
    name: 'iscsi-initiator-iqn',
    type: 'string',
    ref: 'iPXE include/ipxe/dhcp.h',
  },
];

/** The option table: code → name, wire type, reference. Unknown codes are treated as `bytes`. */
export const DHCP_OPTIONS: ReadonlyMap<number, DhcpOptionSpec> = new Map(rows.map((row) => [row.code, row]));

/** Fixed lengths per type; `undefined` means variable. */
const FIXED_LENGTH: Partial<Record<DhcpOptionType, number>> = { ip: 4, u8: 1, u16: 2, u32: 4 };

/** The option's table name, or `option-<code>`. */
export function optionName(code: number): string {
  return DHCP_OPTIONS.get(code)?.name ?? `option-${code}`;
}

function bad(code: number, what: string): never {
  throw new MalformedPacketError('dhcp', `option ${code} (${optionName(code)}): ${what}`);
}

/** Throws MalformedPacketError when `value` does not have a legal length for the table type of `code`. */
export function validateOptionLength(code: number, value: Buffer): void {
  const type = DHCP_OPTIONS.get(code)?.type ?? 'bytes';
  const fixed = FIXED_LENGTH[type];
  if (fixed !== undefined && value.length !== fixed) bad(code, `length ${value.length}, expected ${fixed}`);
  if (type === 'ips' && (value.length === 0 || value.length % 4 !== 0)) bad(code, `length ${value.length} not 4n`);
  if (type === 'u16s' && (value.length === 0 || value.length % 2 !== 0)) bad(code, `length ${value.length} not 2n`);
}

function present(options: Map<number, Buffer>, code: number): Buffer | null {
  const value = options.get(code);
  if (value === undefined) return null;
  validateOptionLength(code, value);
  return value;
}

// ---- readers: null when absent, MalformedPacketError when present with an illegal length ----

/** Reads a 4-byte address option. */
export function getIp(options: Map<number, Buffer>, code: number): string | null {
  const v = present(options, code);
  if (v === null) return null;
  if (v.length !== 4) bad(code, `length ${v.length}, expected 4`);
  return readIp(v, 0);
}

/** Reads an address-list option (non-empty multiple of 4 bytes). */
export function getIps(options: Map<number, Buffer>, code: number): string[] | null {
  const v = present(options, code);
  if (v === null) return null;
  if (v.length === 0 || v.length % 4 !== 0) bad(code, `length ${v.length} not 4n`);
  const out: string[] = [];
  for (let i = 0; i < v.length; i += 4) out.push(readIp(v, i));
  return out;
}

/** Reads a 1-byte unsigned option. */
export function getU8(options: Map<number, Buffer>, code: number): number | null {
  const v = present(options, code);
  if (v === null) return null;
  if (v.length !== 1) bad(code, `length ${v.length}, expected 1`);
  return v[0];
}

/** Reads a 2-byte big-endian unsigned option. */
export function getU16(options: Map<number, Buffer>, code: number): number | null {
  const v = present(options, code);
  if (v === null) return null;
  if (v.length !== 2) bad(code, `length ${v.length}, expected 2`);
  return v.readUInt16BE(0);
}

/** Reads a 4-byte big-endian unsigned option. */
export function getU32(options: Map<number, Buffer>, code: number): number | null {
  const v = present(options, code);
  if (v === null) return null;
  if (v.length !== 4) bad(code, `length ${v.length}, expected 4`);
  return v.readUInt32BE(0);
}

/** Reads a list of 16-bit values (option 93, RFC 4578 §2.1). */
export function getU16s(options: Map<number, Buffer>, code: number): number[] | null {
  const v = present(options, code);
  if (v === null) return null;
  if (v.length === 0 || v.length % 2 !== 0) bad(code, `length ${v.length} not 2n`);
  const out: number[] = [];
  for (let i = 0; i < v.length; i += 2) out.push(v.readUInt16BE(i));
  return out;
}

/** Reads a list of bytes (option 55). */
export function getU8s(options: Map<number, Buffer>, code: number): number[] | null {
  const v = present(options, code);
  return v === null ? null : [...v];
}

/** Reads a text option as UTF-8, dropping trailing NULs that some clients include (RFC 2132 §2 says they shouldn't). */
export function getString(options: Map<number, Buffer>, code: number): string | null {
  const v = present(options, code);
  if (v === null) return null;
  let end = v.length;
  while (end > 0 && v[end - 1] === 0) end--;
  return v.toString('utf8', 0, end);
}

/** Reads an option's raw bytes (a copy). */
export function getBytes(options: Map<number, Buffer>, code: number): Buffer | null {
  const v = options.get(code);
  return v === undefined ? null : Buffer.from(v);
}

// ---- writers: RangeError for values that cannot be represented (programming errors) ----

function checkType(code: number, allowed: readonly DhcpOptionType[]): void {
  const type = DHCP_OPTIONS.get(code)?.type;
  if (type !== undefined && !allowed.includes(type)) {
    throw new TypeError(`option ${code} (${optionName(code)}) is ${type}, not ${allowed.join('/')}`);
  }
}

function checkInt(code: number, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`option ${code} (${optionName(code)}) value out of range: ${value}`);
  }
}

/** Sets a 4-byte address option. */
export function setIp(options: Map<number, Buffer>, code: number, ip: string): void {
  checkType(code, ['ip', 'ips']);
  const buf = Buffer.alloc(4);
  writeIp(buf, ip, 0);
  options.set(code, buf);
}

/** Sets an address-list option; the list must not be empty. */
export function setIps(options: Map<number, Buffer>, code: number, ips: readonly string[]): void {
  checkType(code, ['ips']);
  if (ips.length === 0) throw new RangeError(`option ${code} (${optionName(code)}) needs at least one address`);
  const buf = Buffer.alloc(4 * ips.length);
  ips.forEach((ip, i) => writeIp(buf, ip, 4 * i));
  options.set(code, buf);
}

/** Sets a 1-byte unsigned option. */
export function setU8(options: Map<number, Buffer>, code: number, value: number): void {
  checkType(code, ['u8']);
  checkInt(code, value, 0xff);
  options.set(code, Buffer.from([value]));
}

/** Sets a 2-byte big-endian unsigned option. */
export function setU16(options: Map<number, Buffer>, code: number, value: number): void {
  checkType(code, ['u16', 'u16s']);
  checkInt(code, value, 0xffff);
  const buf = Buffer.alloc(2);
  buf.writeUInt16BE(value, 0);
  options.set(code, buf);
}

/** Sets a 4-byte big-endian unsigned option. */
export function setU32(options: Map<number, Buffer>, code: number, value: number): void {
  checkType(code, ['u32']);
  checkInt(code, value, 0xffffffff);
  const buf = Buffer.alloc(4);
  buf.writeUInt32BE(value, 0);
  options.set(code, buf);
}

/** Sets a list-of-bytes option (option 55). */
export function setU8s(options: Map<number, Buffer>, code: number, values: readonly number[]): void {
  checkType(code, ['u8s']);
  values.forEach((v) => checkInt(code, v, 0xff));
  options.set(code, Buffer.from(values));
}

/** Sets a text option (UTF-8, no NUL terminator; RFC 2132 §2 requires at least one byte). */
export function setString(options: Map<number, Buffer>, code: number, value: string): void {
  checkType(code, ['string']);
  if (value.length === 0) throw new RangeError(`option ${code} (${optionName(code)}) must not be empty`);
  if (value.includes('\0')) throw new RangeError(`option ${code} (${optionName(code)}) contains NUL`);
  options.set(code, Buffer.from(value, 'utf8'));
}

/** Sets an option's raw bytes (copied). */
export function setBytes(options: Map<number, Buffer>, code: number, value: Buffer): void {
  checkType(code, ['bytes', 'encapsulated', 'domains', 'string', 'u8s', 'u16s']);
  options.set(code, Buffer.from(value));
}

// ---- encapsulated sub-options (43: PXE spec §2.4.7; 82: RFC 3046 §2.0; 175: iPXE) ----

/**
 * Decodes sub-option TLVs (1-byte code, 1-byte length). PAD (0) is skipped and END (255) stops, as in the outer
 * encoding; repeated sub-options are concatenated. Throws MalformedPacketError if a TLV overruns the value.
 */
export function decodeSubOptions(value: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let i = 0;
  while (i < value.length) {
    const code = value[i];
    if (code === 255) break;
    if (code === 0) {
      i++;
      continue;
    }
    if (i + 1 >= value.length) throw new MalformedPacketError('dhcp', `sub-option ${code} has no length byte`);
    const len = value[i + 1];
    if (i + 2 + len > value.length) throw new MalformedPacketError('dhcp', `sub-option ${code} overruns its option`);
    const data = value.subarray(i + 2, i + 2 + len);
    const prev = out.get(code);
    out.set(code, prev ? Buffer.concat([prev, data]) : Buffer.from(data));
    i += 2 + len;
  }
  return out;
}

/**
 * Encodes sub-option TLVs in map order. `withEnd` appends END (255), which the PXE spec (§2.4.7) asks for in
 * option 43; RFC 3046 option 82 has none. Values over 255 bytes are a RangeError.
 */
export function encodeSubOptions(subs: ReadonlyMap<number, Buffer>, withEnd = false): Buffer {
  const parts: Buffer[] = [];
  for (const [code, value] of subs) {
    if (!Number.isInteger(code) || code < 1 || code > 254) throw new RangeError(`bad sub-option code ${code}`);
    if (value.length > 255) throw new RangeError(`sub-option ${code} longer than 255 bytes`);
    parts.push(Buffer.from([code, value.length]), value);
  }
  if (withEnd) parts.push(Buffer.from([255]));
  return Buffer.concat(parts);
}

// ---- domain search (RFC 3397 §2, RFC 1035 §3.1 names, written uncompressed) ----

/** Encodes domain names for option 119, uncompressed (compression is optional, RFC 3397 §2). */
export function encodeDomainSearch(domains: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const domain of domains) {
    const labels = domain.replace(/\.$/, '').split('.');
    for (const label of labels) {
      const bytes = Buffer.from(label, 'utf8');
      if (bytes.length === 0 || bytes.length > 63) throw new RangeError(`bad DNS label in ${JSON.stringify(domain)}`);
      parts.push(Buffer.from([bytes.length]), bytes);
    }
    parts.push(Buffer.from([0]));
  }
  return Buffer.concat(parts);
}

/** Sets option 119 (domain search list). */
export function setDomainSearch(options: Map<number, Buffer>, domains: readonly string[]): void {
  if (domains.length === 0) throw new RangeError('domain search list must not be empty');
  options.set(DhcpOptionCode.DOMAIN_SEARCH, encodeDomainSearch(domains));
}

/**
 * A log-friendly view of an option map: table name → typed value (hex for opaque or malformed values).
 * Never throws; meant for debug logs built lazily.
 */
export function describeOptions(options: Map<number, Buffer>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [code, value] of options) {
    const name = optionName(code);
    const type = DHCP_OPTIONS.get(code)?.type ?? 'bytes';
    try {
      switch (type) {
        case 'ip':
          out[name] = getIp(options, code);
          break;
        case 'ips':
          out[name] = getIps(options, code);
          break;
        case 'u8':
          out[name] = getU8(options, code);
          break;
        case 'u16':
          out[name] = getU16(options, code);
          break;
        case 'u32':
          out[name] = getU32(options, code);
          break;
        case 'u8s':
          out[name] = getU8s(options, code);
          break;
        case 'u16s':
          out[name] = getU16s(options, code);
          break;
        case 'string':
          out[name] = getString(options, code);
          break;
        default:
          out[name] = value.toString('hex');
      }
    } catch {
      out[name] = `malformed:${value.toString('hex')}`;
    }
  }
  return out;
}
