/**
 * Wake-on-LAN magic packet, as AMD's "Magic Packet Technology" white paper (publication 20213, 1995) defines it: a
 * synchronisation stream of six 0xFF bytes, then the target's 48-bit MAC address sixteen times in a row — 102 bytes.
 * The NIC of a sleeping PC scans every frame it receives for that sequence, anywhere in the frame, so the payload
 * travels in a UDP datagram; by convention to port 9 (discard, RFC 863) or 7 (echo, RFC 862). A "SecureOn" password
 * of 4 or 6 bytes may follow the sixteenth copy (NICs that support it ignore packets without the right one).
 *
 * Framework-free: encode/decode only. Who sends it, where and how often is the wake module's business.
 */
import { MalformedPacketError } from '../malformed-packet.error';

/** Bytes of the synchronisation stream (all 0xFF). */
export const WOL_SYNC_LENGTH = 6;
/** Bytes of one MAC address (EUI-48). */
export const WOL_MAC_LENGTH = 6;
/** How many times the MAC follows the synchronisation stream. */
export const WOL_MAC_REPEATS = 16;
/** 6 + 16 × 6: a magic packet without a SecureOn password. */
export const MAGIC_PACKET_LENGTH = WOL_SYNC_LENGTH + WOL_MAC_REPEATS * WOL_MAC_LENGTH;
/** SecureOn password lengths a NIC accepts after the sixteenth copy. */
export const SECURE_ON_LENGTHS: readonly number[] = [4, 6];
/** UDP discard port (RFC 863): the usual destination of a magic packet. */
export const WOL_DISCARD_PORT = 9;
/** UDP echo port (RFC 862): the other destination in use. */
export const WOL_ECHO_PORT = 7;

/** A decoded magic packet. */
export interface MagicPacket {
  /** Target MAC, lower-case, colon-separated (`52:54:00:12:34:56`). */
  mac: string;
  /** SecureOn password bytes, or null when the packet carries none. */
  password: Buffer | null;
}

const CANONICAL_MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

function macBytes(mac: string): Buffer {
  if (!CANONICAL_MAC.test(mac)) throw new RangeError(`not a canonical MAC address (aa:bb:cc:dd:ee:ff): ${JSON.stringify(mac).slice(0, 40)}`);
  return Buffer.from(mac.replace(/:/g, ''), 'hex');
}

/**
 * The magic packet that wakes `mac` (canonical form, lower-case with colons): 102 bytes, or 106/108 with a SecureOn
 * `password` of 4 or 6 bytes. Throws RangeError for anything else.
 */
export function encodeMagicPacket(mac: string, password?: Buffer): Buffer {
  const target = macBytes(mac);
  if (password !== undefined && !SECURE_ON_LENGTHS.includes(password.length)) {
    throw new RangeError(`a SecureOn password has 4 or 6 bytes, not ${password.length}`);
  }
  const buf = Buffer.alloc(MAGIC_PACKET_LENGTH + (password?.length ?? 0));
  buf.fill(0xff, 0, WOL_SYNC_LENGTH);
  for (let i = 0; i < WOL_MAC_REPEATS; i++) target.copy(buf, WOL_SYNC_LENGTH + i * WOL_MAC_LENGTH);
  password?.copy(buf, MAGIC_PACKET_LENGTH);
  return buf;
}

/**
 * Decodes a datagram that should be exactly a magic packet (what DLS sends; what a test listener receives): the
 * synchronisation stream, sixteen identical MAC copies, and nothing after them but an optional 4- or 6-byte
 * SecureOn password. Throws {@link MalformedPacketError} (protocol `wol`) naming the first problem.
 */
export function decodeMagicPacket(buf: Buffer): MagicPacket {
  if (buf.length < MAGIC_PACKET_LENGTH) throw new MalformedPacketError('wol', `${buf.length} bytes, a magic packet has ${MAGIC_PACKET_LENGTH}`);
  const extra = buf.length - MAGIC_PACKET_LENGTH;
  if (extra !== 0 && !SECURE_ON_LENGTHS.includes(extra)) {
    throw new MalformedPacketError('wol', `${extra} bytes after the sixteenth MAC copy (a SecureOn password has 4 or 6)`);
  }
  for (let i = 0; i < WOL_SYNC_LENGTH; i++) {
    if (buf[i] !== 0xff) throw new MalformedPacketError('wol', `synchronisation byte ${i} is 0x${buf[i].toString(16).padStart(2, '0')}, not 0xff`);
  }
  const first = buf.subarray(WOL_SYNC_LENGTH, WOL_SYNC_LENGTH + WOL_MAC_LENGTH);
  for (let i = 1; i < WOL_MAC_REPEATS; i++) {
    const at = WOL_SYNC_LENGTH + i * WOL_MAC_LENGTH;
    if (!first.equals(buf.subarray(at, at + WOL_MAC_LENGTH))) throw new MalformedPacketError('wol', `MAC copy ${i + 1} differs from the first`);
  }
  const mac = [...first].map((b) => b.toString(16).padStart(2, '0')).join(':');
  return { mac, password: extra ? Buffer.from(buf.subarray(MAGIC_PACKET_LENGTH)) : null };
}
