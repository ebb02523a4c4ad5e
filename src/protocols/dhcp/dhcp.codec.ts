import { MalformedPacketError } from '../malformed-packet.error';
import {
  BOOTP_HEADER_LENGTH,
  BOOTP_MIN_PACKET_LENGTH,
  BootpOp,
  CHADDR_LENGTH,
  DHCP_MAGIC_COOKIE,
  DHCP_MIN_LENGTH,
  DhcpOptionCode,
  DhcpOverload,
  FILE_LENGTH,
  FILE_OFFSET,
  OPTIONS_OFFSET,
  SNAME_LENGTH,
  SNAME_OFFSET,
} from './dhcp.constants';

/**
 * A decoded BOOTP/DHCP message (RFC 2131 §2, Figure 1).
 *
 * - Addresses are dotted-quad strings (`'0.0.0.0'` when unset).
 * - `sname` and `file` are the fixed fields up to their first NUL, mapped byte-for-byte (latin1) so that every
 *   decoded packet re-encodes identically; write only ASCII into them. When option 52 overloads a field, the field
 *   held options and decodes as `''`.
 * - `options` holds every option except PAD, END and OVERLOAD (framing, owned by the codec), in order of first
 *   appearance, with repeated occurrences already concatenated (RFC 3396 §7).
 */
export interface DhcpPacket {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  /** Transaction id, uint32. */
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** Always 16 bytes; the hardware address is the first `hlen` of them. */
  chaddr: Buffer;
  sname: string;
  file: string;
  options: Map<number, Buffer>;
}

/** Options the codec owns and never exposes in (or takes from) `DhcpPacket.options`. */
const FRAMING_OPTIONS: ReadonlySet<number> = new Set([DhcpOptionCode.PAD, DhcpOptionCode.END, DhcpOptionCode.OVERLOAD]);

const fail = (message: string): never => {
  throw new MalformedPacketError('dhcp', message);
};

/** Reads a 4-byte IPv4 address at `offset` as a dotted quad. The caller has bounds-checked. */
export function readIp(buf: Buffer, offset: number): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

/**
 * Parses a canonical dotted quad (no leading zeros, no spaces) into its 4 octets, or null. Hand-rolled because it
 * runs four times per encoded packet.
 */
function parseIpv4(ip: string): number[] | null {
  if (typeof ip !== 'string' || ip.length < 7 || ip.length > 15) return null;
  const out = [0, 0, 0, 0];
  let part = 0;
  let digits = 0;
  let value = 0;
  for (let i = 0; i <= ip.length; i++) {
    const c = i < ip.length ? ip.charCodeAt(i) : 46; // virtual '.' at the end
    if (c === 46) {
      if (digits === 0 || part > 3) return null;
      out[part++] = value;
      digits = 0;
      value = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) return null; // leading zero
      value = value * 10 + (c - 48);
      if (++digits > 3 || value > 255) return null;
    } else {
      return null;
    }
  }
  return part === 4 ? out : null;
}

/** True when `ip` is a canonical dotted-quad IPv4 address. */
export function isIpv4(ip: string): boolean {
  return parseIpv4(ip) !== null;
}

/** Writes a dotted-quad address at `offset`; throws RangeError for anything that is not one (a programming error). */
export function writeIp(buf: Buffer, ip: string, offset: number): void {
  const octets = parseIpv4(ip);
  if (octets === null) throw new RangeError(`not an IPv4 address: ${JSON.stringify(ip)}`);
  buf[offset] = octets[0];
  buf[offset + 1] = octets[1];
  buf[offset + 2] = octets[2];
  buf[offset + 3] = octets[3];
}

/** Reads a NUL-terminated fixed field (RFC 2131 §2: sname, file). */
function readCString(buf: Buffer, offset: number, length: number): string {
  const field = buf.subarray(offset, offset + length);
  const nul = field.indexOf(0);
  return field.toString('latin1', 0, nul === -1 ? length : nul);
}

/**
 * Parses one option area (the options field, or an overloaded `file`/`sname`) into `out`, concatenating repeats
 * (RFC 3396 §7). PAD is skipped; END stops the area and anything after it is ignored padding (RFC 2131 §4.1 allows
 * trailing pad). An area that runs out without END is accepted — many stacks stop exactly at the end — but an option
 * whose length runs past the area is not.
 */
function parseOptionArea(buf: Buffer, start: number, end: number, area: string, out: Map<number, Buffer[]>): void {
  let i = start;
  while (i < end) {
    const code = buf[i];
    if (code === DhcpOptionCode.END) return;
    if (code === DhcpOptionCode.PAD) {
      i++;
      continue;
    }
    if (i + 1 >= end) fail(`option ${code} in ${area} has no length byte`);
    const len = buf[i + 1];
    const dataStart = i + 2;
    if (dataStart + len > end) fail(`option ${code} in ${area} overruns the field (${len} bytes at ${dataStart})`);
    const parts = out.get(code);
    const data = buf.subarray(dataStart, dataStart + len);
    if (parts) parts.push(data);
    else out.set(code, [data]);
    i = dataStart + len;
  }
}

/**
 * Decodes a UDP payload into a {@link DhcpPacket}.
 *
 * Strict and total: any byte string either decodes or throws {@link MalformedPacketError} — nothing else.
 * Checks the 240-byte minimum, `op`, the magic cookie (RFC 2131 §3), option TLV bounds, and option overload
 * (RFC 2132 §9.3: options field first, then `file`, then `sname`). The returned buffers never alias `input`.
 */
export function decodeDhcp(input: Buffer): DhcpPacket {
  if (!Buffer.isBuffer(input)) fail('input is not a Buffer');
  if (input.length < DHCP_MIN_LENGTH) fail(`packet too short: ${input.length} < ${DHCP_MIN_LENGTH} bytes`);
  // One private copy; chaddr and option values are views into it, so the caller's buffer can be reused.
  const buf = Buffer.from(input);
  const op = buf[0];
  if (op !== BootpOp.REQUEST && op !== BootpOp.REPLY) fail(`bad op ${op}`);
  if (buf.readUInt32BE(BOOTP_HEADER_LENGTH) !== DHCP_MAGIC_COOKIE) fail('bad magic cookie');

  const raw = new Map<number, Buffer[]>();
  parseOptionArea(buf, OPTIONS_OFFSET, buf.length, 'options', raw);

  let overload = 0;
  const overloadParts = raw.get(DhcpOptionCode.OVERLOAD);
  if (overloadParts) {
    raw.delete(DhcpOptionCode.OVERLOAD);
    const value = Buffer.concat(overloadParts);
    if (value.length !== 1 || value[0] < DhcpOverload.FILE || value[0] > DhcpOverload.BOTH) {
      fail(`bad option overload value ${value.toString('hex')}`);
    }
    overload = value[0];
  }
  const fileHoldsOptions = (overload & DhcpOverload.FILE) !== 0;
  const snameHoldsOptions = (overload & DhcpOverload.SNAME) !== 0;
  // RFC 2131 §4.1: options field, then `file`, then `sname`. Option 52 is only meaningful in the options field.
  if (fileHoldsOptions) parseOptionArea(buf, FILE_OFFSET, FILE_OFFSET + FILE_LENGTH, 'file', raw);
  if (snameHoldsOptions) parseOptionArea(buf, SNAME_OFFSET, SNAME_OFFSET + SNAME_LENGTH, 'sname', raw);
  if (overload && raw.has(DhcpOptionCode.OVERLOAD)) fail('option overload inside an overloaded field');

  const options = new Map<number, Buffer>();
  for (const [code, parts] of raw) options.set(code, parts.length === 1 ? parts[0] : Buffer.concat(parts));

  return {
    op,
    htype: buf[1],
    hlen: buf[2],
    hops: buf[3],
    xid: buf.readUInt32BE(4),
    secs: buf.readUInt16BE(8),
    flags: buf.readUInt16BE(10),
    ciaddr: readIp(buf, 12),
    yiaddr: readIp(buf, 16),
    siaddr: readIp(buf, 20),
    giaddr: readIp(buf, 24),
    chaddr: buf.subarray(28, 28 + CHADDR_LENGTH),
    sname: snameHoldsOptions ? '' : readCString(buf, SNAME_OFFSET, SNAME_LENGTH),
    file: fileHoldsOptions ? '' : readCString(buf, FILE_OFFSET, FILE_LENGTH),
    options,
  };
}

/** Bytes needed to carry one option value, split into 255-byte pieces (RFC 3396 §5). */
function optionWireLength(value: Buffer): number {
  if (value.length === 0) return 2;
  return value.length + 2 * Math.ceil(value.length / 255);
}

function checkUint(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new RangeError(`${name} out of range: ${value}`);
}

function writeField(buf: Buffer, name: string, value: string, offset: number, length: number): void {
  if (value.includes('\0')) throw new RangeError(`${name} contains NUL`);
  const bytes = Buffer.from(value, 'latin1');
  if (bytes.toString('latin1') !== value) throw new RangeError(`${name} has characters outside latin1`);
  if (bytes.length > length) throw new RangeError(`${name} longer than ${length} bytes`);
  bytes.copy(buf, offset);
}

function validateOption(code: number, value: Buffer): void {
  checkUint('option code', code, 255);
  if (FRAMING_OPTIONS.has(code)) throw new RangeError(`option ${code} is framing and is written by the codec`);
  if (!Buffer.isBuffer(value)) throw new RangeError(`option ${code} value is not a Buffer`);
}

/**
 * Length in bytes of `encodeDhcp(pkt)` without building it: header, cookie, options (split per RFC 3396), END,
 * padded to the 300-byte BOOTP minimum. Used to fit replies to the client's maximum message size.
 */
export function encodedDhcpLength(pkt: Pick<DhcpPacket, 'options'>): number {
  let len = OPTIONS_OFFSET + 1;
  for (const value of pkt.options.values()) len += optionWireLength(value);
  return Math.max(len, BOOTP_MIN_PACKET_LENGTH);
}

/**
 * Encodes a {@link DhcpPacket}. Options go out in map order; values over 255 bytes are split into consecutive
 * options with the same code (RFC 3396 §5); END follows, then zero padding up to 300 bytes (RFC 1542 §2.1).
 * Overload is never used. Values that cannot be represented (bad address, too-long `file`, option 52 in the map,
 * chaddr not 16 bytes) are programming errors and throw RangeError.
 */
export function encodeDhcp(pkt: DhcpPacket): Buffer {
  checkUint('op', pkt.op, 0xff);
  checkUint('htype', pkt.htype, 0xff);
  checkUint('hlen', pkt.hlen, 0xff);
  checkUint('hops', pkt.hops, 0xff);
  checkUint('xid', pkt.xid, 0xffffffff);
  checkUint('secs', pkt.secs, 0xffff);
  checkUint('flags', pkt.flags, 0xffff);
  if (!Buffer.isBuffer(pkt.chaddr) || pkt.chaddr.length !== CHADDR_LENGTH) {
    throw new RangeError(`chaddr must be a ${CHADDR_LENGTH}-byte Buffer`);
  }
  for (const [code, value] of pkt.options) validateOption(code, value);

  const buf = Buffer.alloc(encodedDhcpLength(pkt));
  buf.writeUInt8(pkt.op, 0);
  buf.writeUInt8(pkt.htype, 1);
  buf.writeUInt8(pkt.hlen, 2);
  buf.writeUInt8(pkt.hops, 3);
  buf.writeUInt32BE(pkt.xid, 4);
  buf.writeUInt16BE(pkt.secs, 8);
  buf.writeUInt16BE(pkt.flags, 10);
  writeIp(buf, pkt.ciaddr, 12);
  writeIp(buf, pkt.yiaddr, 16);
  writeIp(buf, pkt.siaddr, 20);
  writeIp(buf, pkt.giaddr, 24);
  pkt.chaddr.copy(buf, 28);
  writeField(buf, 'sname', pkt.sname, SNAME_OFFSET, SNAME_LENGTH);
  writeField(buf, 'file', pkt.file, FILE_OFFSET, FILE_LENGTH);
  buf.writeUInt32BE(DHCP_MAGIC_COOKIE, BOOTP_HEADER_LENGTH);

  let at = OPTIONS_OFFSET;
  for (const [code, value] of pkt.options) {
    let offset = 0;
    do {
      const chunk = Math.min(255, value.length - offset);
      buf.writeUInt8(code, at);
      buf.writeUInt8(chunk, at + 1);
      value.copy(buf, at + 2, offset, offset + chunk);
      at += 2 + chunk;
      offset += chunk;
    } while (offset < value.length);
  }
  buf.writeUInt8(DhcpOptionCode.END, at);
  return buf;
}
