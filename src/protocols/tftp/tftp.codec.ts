import { isUtf8 } from 'node:buffer';
import { MalformedPacketError } from '../malformed-packet.error';
import {
  TFTP_ACK_LENGTH,
  TFTP_BLOCK_MODULO,
  TFTP_DATA_HEADER_LENGTH,
  TFTP_MAX_BLKSIZE,
  TFTP_OPCODE_LENGTH,
  TftpErrorCode,
  TftpOpcode,
} from './tftp.constants';

/**
 * Options as decoded from a request or OACK: keys lower-cased (RFC 2347: case-insensitive), values as sent, in the
 * order the peer sent them. The first occurrence of a duplicated option wins.
 */
export type TftpOptions = ReadonlyMap<string, string>;

/** RRQ or WRQ (RFC 1350 §5, options RFC 2347). `mode` is lower-cased; the server decides which modes it serves. */
export interface TftpRequestPacket {
  readonly opcode: TftpOpcode.RRQ | TftpOpcode.WRQ;
  readonly filename: string;
  readonly mode: string;
  readonly options: TftpOptions;
}

/** DATA (RFC 1350 §5). `data` is a view into the decoded buffer, not a copy. */
export interface TftpDataPacket {
  readonly opcode: TftpOpcode.DATA;
  readonly block: number;
  readonly data: Buffer;
}

/** ACK (RFC 1350 §5). Block 0 acknowledges a WRQ or an OACK (RFC 2347). */
export interface TftpAckPacket {
  readonly opcode: TftpOpcode.ACK;
  readonly block: number;
}

/** ERROR (RFC 1350 §5). `code` is kept as a number: peers send codes outside the table. */
export interface TftpErrorPacket {
  readonly opcode: TftpOpcode.ERROR;
  readonly code: number;
  readonly message: string;
}

/** OACK (RFC 2347). */
export interface TftpOackPacket {
  readonly opcode: TftpOpcode.OACK;
  readonly options: TftpOptions;
}

/** Every TFTP packet, discriminated by `opcode`. */
export type TftpPacket = TftpRequestPacket | TftpDataPacket | TftpAckPacket | TftpErrorPacket | TftpOackPacket;

function fail(message: string): never {
  throw new MalformedPacketError('tftp', message);
}

/** Decodes `buf[start, end)` as UTF-8, refusing invalid sequences (no silent U+FFFD substitution). */
function utf8(buf: Buffer, start: number, end: number, what: string): string {
  const view = buf.subarray(start, end);
  if (!isUtf8(view)) fail(`${what} is not valid UTF-8`);
  return view.toString('utf8');
}

/** Reads a NUL-terminated string starting at `offset`; returns the string and the offset after the NUL. */
function readCString(buf: Buffer, offset: number, what: string): { value: string; next: number } {
  const end = buf.indexOf(0, offset);
  if (end < 0) fail(`${what} is not NUL-terminated`);
  return { value: utf8(buf, offset, end, what), next: end + 1 };
}

/**
 * Decodes option name/value pairs (RFC 2347) from `offset` to the end of `buf`. Lenient towards what real clients
 * put after the last complete pair (NUL padding, a name without a value, an unterminated string): that tail is
 * ignored, as tftpd-hpa and dnsmasq do. Empty option names are skipped.
 */
function readOptions(buf: Buffer, offset: number): Map<string, string> {
  const options = new Map<string, string>();
  let pos = offset;
  while (pos < buf.length) {
    const nameEnd = buf.indexOf(0, pos);
    if (nameEnd < 0) break;
    const valueEnd = buf.indexOf(0, nameEnd + 1);
    if (valueEnd < 0) break;
    const name = readCString(buf, pos, 'option name').value.toLowerCase();
    const value = readCString(buf, nameEnd + 1, 'option value').value;
    pos = valueEnd + 1;
    if (name.length > 0 && !options.has(name)) options.set(name, value);
  }
  return options;
}

/**
 * Decodes one TFTP datagram. Bounds-checked: any byte string either decodes or throws {@link MalformedPacketError};
 * nothing else escapes.
 */
export function decodeTftp(buf: Buffer): TftpPacket {
  if (!Buffer.isBuffer(buf)) fail('not a buffer');
  if (buf.length < TFTP_OPCODE_LENGTH) fail(`packet too short (${buf.length} bytes)`);
  const opcode = buf.readUInt16BE(0);
  switch (opcode) {
    case TftpOpcode.RRQ:
    case TftpOpcode.WRQ: {
      const filename = readCString(buf, TFTP_OPCODE_LENGTH, 'filename');
      const mode = readCString(buf, filename.next, 'mode');
      if (mode.value.length === 0) fail('empty mode');
      return {
        opcode,
        filename: filename.value,
        mode: mode.value.toLowerCase(),
        options: readOptions(buf, mode.next),
      };
    }
    case TftpOpcode.DATA: {
      if (buf.length < TFTP_DATA_HEADER_LENGTH) fail('DATA shorter than its header');
      if (buf.length > TFTP_DATA_HEADER_LENGTH + TFTP_MAX_BLKSIZE) fail('DATA larger than the largest blksize');
      return { opcode, block: buf.readUInt16BE(2), data: buf.subarray(TFTP_DATA_HEADER_LENGTH) };
    }
    case TftpOpcode.ACK: {
      // Trailing bytes after the block number are tolerated (some stacks pad short datagrams).
      if (buf.length < TFTP_ACK_LENGTH) fail('ACK shorter than 4 bytes');
      return { opcode, block: buf.readUInt16BE(2) };
    }
    case TftpOpcode.ERROR: {
      if (buf.length < 4) fail('ERROR shorter than 4 bytes');
      const code = buf.readUInt16BE(2);
      // Some clients omit the terminating NUL; take the message up to NUL or end of packet.
      const end = buf.indexOf(0, 4);
      return { opcode, code, message: utf8(buf, 4, end < 0 ? buf.length : end, 'ERROR message') };
    }
    case TftpOpcode.OACK:
      return { opcode, options: readOptions(buf, TFTP_OPCODE_LENGTH) };
    default:
      return fail(`unknown opcode ${opcode}`);
  }
}

function checkBlock(block: number): void {
  if (!Number.isInteger(block) || block < 0 || block > 0xffff) throw new RangeError(`TFTP block ${block} out of range`);
}

function cstringLength(value: string, what: string): number {
  if (value.includes('\0')) throw new RangeError(`TFTP ${what} must not contain NUL`);
  return Buffer.byteLength(value, 'utf8') + 1;
}

function writeCString(buf: Buffer, offset: number, value: string): number {
  const written = buf.write(value, offset, 'utf8');
  buf[offset + written] = 0;
  return offset + written + 1;
}

type OptionInput = TftpOptions | Iterable<readonly [string, string]> | Readonly<Record<string, string>>;

function optionEntries(options: OptionInput | undefined): Array<readonly [string, string]> {
  if (!options) return [];
  if (options instanceof Map || Symbol.iterator in Object(options)) {
    return [...(options as Iterable<readonly [string, string]>)];
  }
  return Object.entries(options as Record<string, string>);
}

function encodeWithOptions(opcode: TftpOpcode, head: string[], options: OptionInput | undefined): Buffer {
  const entries = optionEntries(options);
  let length = TFTP_OPCODE_LENGTH;
  for (const s of head) length += cstringLength(s, 'string');
  for (const [name, value] of entries) {
    length += cstringLength(name, 'option name') + cstringLength(value, 'option value');
  }
  const buf = Buffer.alloc(length);
  buf.writeUInt16BE(opcode, 0);
  let pos = TFTP_OPCODE_LENGTH;
  for (const s of head) pos = writeCString(buf, pos, s);
  for (const [name, value] of entries) {
    pos = writeCString(buf, pos, name);
    pos = writeCString(buf, pos, value);
  }
  return buf;
}

/** Encodes an RRQ (RFC 1350 §5) with optional RFC 2347 options. */
export function encodeRrq(filename: string, mode: string = 'octet', options?: OptionInput): Buffer {
  return encodeWithOptions(TftpOpcode.RRQ, [filename, mode], options);
}

/** Encodes a WRQ (RFC 1350 §5) with optional RFC 2347 options. */
export function encodeWrq(filename: string, mode: string = 'octet', options?: OptionInput): Buffer {
  return encodeWithOptions(TftpOpcode.WRQ, [filename, mode], options);
}

/** Encodes a DATA packet (RFC 1350 §5); copies `data` after the 4-byte header. */
export function encodeData(block: number, data: Uint8Array): Buffer {
  checkBlock(block);
  if (data.length > TFTP_MAX_BLKSIZE) throw new RangeError(`TFTP DATA payload of ${data.length} bytes too large`);
  const buf = Buffer.alloc(TFTP_DATA_HEADER_LENGTH + data.length);
  buf.writeUInt16BE(TftpOpcode.DATA, 0);
  buf.writeUInt16BE(block, 2);
  buf.set(data, TFTP_DATA_HEADER_LENGTH);
  return buf;
}

let dataHeaders: Buffer | undefined;

/**
 * The 4-byte DATA header (RFC 1350 §5: opcode 3, then the block number) of every 16-bit block number, entry `n` at
 * byte `n * 4`. Built once (256 KiB) so a sender can gather header and payload into one datagram without encoding
 * or copying per block. Must not be written to.
 */
export function dataHeaderTable(): Buffer {
  if (!dataHeaders) {
    const table = Buffer.alloc(TFTP_BLOCK_MODULO * TFTP_DATA_HEADER_LENGTH);
    for (let block = 0; block < TFTP_BLOCK_MODULO; block++) {
      table.writeUInt16BE(TftpOpcode.DATA, block * TFTP_DATA_HEADER_LENGTH);
      table.writeUInt16BE(block, block * TFTP_DATA_HEADER_LENGTH + 2);
    }
    dataHeaders = table;
  }
  return dataHeaders;
}

/** The 4 bytes of an ACK for `block` as one big-endian 32-bit number (what {@link encodeAck} writes). */
export function ackWord(block: number): number {
  checkBlock(block);
  return ((TftpOpcode.ACK << 16) | block) >>> 0;
}

/** Encodes an ACK (RFC 1350 §5). */
export function encodeAck(block: number): Buffer {
  checkBlock(block);
  const buf = Buffer.alloc(TFTP_ACK_LENGTH);
  buf.writeUInt16BE(TftpOpcode.ACK, 0);
  buf.writeUInt16BE(block, 2);
  return buf;
}

/** Encodes an ERROR (RFC 1350 §5). */
export function encodeError(code: TftpErrorCode | number, message: string): Buffer {
  if (!Number.isInteger(code) || code < 0 || code > 0xffff) {
    throw new RangeError(`TFTP error code ${code} out of range`);
  }
  const buf = Buffer.alloc(4 + cstringLength(message, 'error message'));
  buf.writeUInt16BE(TftpOpcode.ERROR, 0);
  buf.writeUInt16BE(code, 2);
  writeCString(buf, 4, message);
  return buf;
}

/** Encodes an OACK (RFC 2347) listing the accepted options in the given order. */
export function encodeOack(options: OptionInput): Buffer {
  return encodeWithOptions(TftpOpcode.OACK, [], options);
}

/** Encodes any decoded packet again (round trips in tests, fixtures). */
export function encodeTftp(packet: TftpPacket): Buffer {
  switch (packet.opcode) {
    case TftpOpcode.RRQ:
      return encodeRrq(packet.filename, packet.mode, packet.options);
    case TftpOpcode.WRQ:
      return encodeWrq(packet.filename, packet.mode, packet.options);
    case TftpOpcode.DATA:
      return encodeData(packet.block, packet.data);
    case TftpOpcode.ACK:
      return encodeAck(packet.block);
    case TftpOpcode.ERROR:
      return encodeError(packet.code, packet.message);
    case TftpOpcode.OACK:
      return encodeOack(packet.options);
  }
}

/**
 * Converts file bytes to netascii (RFC 764 via RFC 1350 §1): LF → CR LF, bare CR → CR NUL. Used for RRQs in
 * mode "netascii"; the result is what tsize must report for such a transfer.
 */
export function toNetascii(data: Uint8Array): Buffer {
  let extra = 0;
  for (let i = 0; i < data.length; i++) if (data[i] === 0x0a || data[i] === 0x0d) extra++;
  if (extra === 0) return Buffer.from(data.buffer, data.byteOffset, data.length);
  const out = Buffer.alloc(data.length + extra);
  let j = 0;
  for (let i = 0; i < data.length; i++) {
    const b = data[i];
    if (b === 0x0a) {
      out[j++] = 0x0d;
      out[j++] = 0x0a;
    } else if (b === 0x0d) {
      out[j++] = 0x0d;
      out[j++] = 0x00;
    } else {
      out[j++] = b;
    }
  }
  return out;
}
