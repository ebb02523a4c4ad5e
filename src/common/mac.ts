/**
 * MAC address helpers shared by the REST API and the DHCP server. Pure: no Nest, no TypeORM.
 *
 * DLS stores every MAC in one canonical form — lower-case, colon-separated (`52:54:00:12:34:56`) — so lookups by
 * MAC are a single equality match on the indexed `clients.mac_address` column whatever notation the caller used.
 */

const COLON_OR_DASH = /^([0-9a-f]{2})([:-])([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i;
const CISCO_DOTTED = /^([0-9a-f]{4})\.([0-9a-f]{4})\.([0-9a-f]{4})$/i;
const BARE_HEX = /^[0-9a-f]{12}$/i;

/**
 * Returns the canonical form of an EUI-48 MAC address, or `null` when `input` is not one.
 *
 * Accepted notations (case-insensitive, no surrounding whitespace):
 * `aa:bb:cc:dd:ee:ff`, `AA-BB-CC-DD-EE-FF` (one separator throughout), `aabb.ccdd.eeff`, `aabbccddeeff`.
 */
export function normalizeMac(input: string): string | null {
  if (typeof input !== 'string' || input.length > 17) return null;
  let hex: string;
  const sep = COLON_OR_DASH.exec(input);
  if (sep) {
    hex = sep[1] + sep[3] + sep[4] + sep[5] + sep[6] + sep[7];
  } else {
    const dotted = CISCO_DOTTED.exec(input);
    if (dotted) hex = dotted[1] + dotted[2] + dotted[3];
    else if (BARE_HEX.test(input)) hex = input;
    else return null;
  }
  hex = hex.toLowerCase();
  return `${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}:${hex.slice(6, 8)}:${hex.slice(8, 10)}:${hex.slice(10, 12)}`;
}

/**
 * Canonical MAC from 6 raw bytes, e.g. a DHCP `chaddr` (RFC 2131 §2: `chaddr` holds `hlen` = 6 bytes for
 * Ethernet, htype 1). Throws RangeError when fewer than 6 bytes are given.
 */
export function macFromBytes(bytes: Uint8Array): string {
  if (bytes.length < 6) throw new RangeError(`a MAC address needs 6 bytes, got ${bytes.length}`);
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push(bytes[i].toString(16).padStart(2, '0'));
  return parts.join(':');
}

/**
 * Why a canonical MAC can't be a client's own address, or null when it can: the all-zero address, and any group
 * address — the I/G bit (least significant bit of the first octet, IEEE 802 §8.2) set, which covers multicast
 * (01:00:5e:…, 33:33:…) and the broadcast ff:ff:ff:ff:ff:ff. A PC's NIC never sends from one of these.
 */
export function nonUnicastMacReason(canonical: string): string | null {
  if (canonical === '00:00:00:00:00:00') return 'the all-zero address';
  if (canonical === 'ff:ff:ff:ff:ff:ff') return 'the broadcast address';
  const first = parseInt(canonical.slice(0, 2), 16);
  if (Number.isNaN(first)) return null;
  return first & 1 ? 'a multicast (group) address: the first octet is odd' : null;
}
