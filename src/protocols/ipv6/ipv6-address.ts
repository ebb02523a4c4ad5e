/**
 * Pure IPv6 / MAC text ↔ byte helpers for the Neighbor Discovery encoders (no Node networking, no framework).
 */

/** Length of an IPv6 address in bytes (RFC 8200 §3). */
export const IPV6_ADDRESS_LENGTH = 16;

/** An IPv6 prefix in binary form: `address` has every bit after `length` cleared. */
export interface Ipv6Prefix {
  address: Buffer;
  length: number;
}

const HEXTET = /^[0-9a-fA-F]{1,4}$/;
const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * Parses IPv6 text (RFC 4291 §2.2: hextets, one `::`, optional trailing dotted quad) into 16 bytes.
 * A zone suffix (`%eth0`) is not accepted. Throws `TypeError` for anything else.
 */
export function parseIpv6Address(text: string): Buffer {
  if (typeof text !== 'string' || text.length === 0 || text.length > 45) {
    throw new TypeError(`not an IPv6 address: ${String(text)}`);
  }
  const halves = text.split('::');
  if (halves.length > 2) throw new TypeError(`not an IPv6 address (two "::"): ${text}`);
  const head = halves[0] === '' ? [] : halves[0].split(':');
  const tail = halves.length === 2 && halves[1] !== '' ? halves[1].split(':') : [];
  const bytesOf = (groups: string[], isLast: boolean): number[] => {
    const out: number[] = [];
    groups.forEach((group, i) => {
      const quad = isLast && i === groups.length - 1 ? DOTTED_QUAD.exec(group) : null;
      if (quad) {
        const octets = quad.slice(1).map(Number);
        if (octets.some((o) => o > 255)) throw new TypeError(`not an IPv6 address (bad IPv4 tail): ${text}`);
        out.push(...octets);
      } else if (HEXTET.test(group)) {
        const value = parseInt(group, 16);
        out.push(value >> 8, value & 0xff);
      } else {
        throw new TypeError(`not an IPv6 address (bad group "${group}"): ${text}`);
      }
    });
    return out;
  };
  const headBytes = bytesOf(head, halves.length === 1);
  const tailBytes = bytesOf(tail, true);
  const fill = IPV6_ADDRESS_LENGTH - headBytes.length - tailBytes.length;
  if (halves.length === 1 ? fill !== 0 : fill < 2) {
    throw new TypeError(`not an IPv6 address (wrong length): ${text}`);
  }
  return Buffer.from([...headBytes, ...new Array<number>(fill).fill(0), ...tailBytes]);
}

/**
 * Parses `fd00:213::/64` into the prefix bytes (bits after the length cleared, as RFC 4861 §4.6.2 requires of
 * senders) and the length. Throws `TypeError` / `RangeError` on bad input.
 */
export function parseIpv6Prefix(text: string): Ipv6Prefix {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(typeof text === 'string' ? text : '');
  if (!match) throw new TypeError(`not an IPv6 prefix (address/length): ${String(text)}`);
  const length = Number(match[2]);
  if (length > 128) throw new RangeError(`IPv6 prefix length must be 0-128: ${text}`);
  const address = parseIpv6Address(match[1]);
  for (let bit = length; bit < 128; bit++) address[bit >> 3] &= ~(0x80 >> (bit & 7));
  return { address, length };
}

/** Formats 16 bytes as IPv6 text: lower-case, longest zero run (≥ 2 groups) compressed (RFC 5952 §4). */
export function formatIpv6Address(bytes: Buffer): string {
  if (bytes.length !== IPV6_ADDRESS_LENGTH) throw new RangeError('an IPv6 address has 16 bytes');
  const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Parses a MAC address `aa:bb:cc:dd:ee:ff` (or `-` separated) into 6 bytes. Throws `TypeError`. */
export function parseMacAddress(text: string): Buffer {
  const parts = typeof text === 'string' ? text.split(/[:-]/) : [];
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) {
    throw new TypeError(`not a MAC address: ${String(text)}`);
  }
  return Buffer.from(parts.map((h) => parseInt(h, 16)));
}

/** Formats 6 bytes as `aa:bb:cc:dd:ee:ff`. */
export function formatMacAddress(bytes: Buffer): string {
  if (bytes.length !== 6) throw new RangeError('a MAC address has 6 bytes');
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':');
}
