/**
 * IPv4 and CIDR helpers for network ranges (pure; usable by the DHCP server too).
 * Addresses are handled as unsigned 32-bit integers.
 */

const DOTTED_QUAD =
  /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Dotted-quad → integer, or null. Leading zeros are rejected (they would read as octal elsewhere). */
export function parseIpv4(s: string): number | null {
  if (typeof s !== 'string') return null;
  const m = DOTTED_QUAD.exec(s);
  if (!m) return null;
  return ((Number(m[1]) << 24) >>> 0) + (Number(m[2]) << 16) + (Number(m[3]) << 8) + Number(m[4]);
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

export interface Ipv4Cidr {
  /** Network address (host bits zero). */
  network: number;
  prefix: number;
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** `a.b.c.d/p` (p 1..32) → network and prefix, host bits cleared; null when malformed. */
export function parseCidr(s: string): Ipv4Cidr | null {
  if (typeof s !== 'string') return null;
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(s);
  if (!m) return null;
  const addr = parseIpv4(m[1]);
  const prefix = Number(m[2]);
  if (addr === null || prefix < 1 || prefix > 32 || String(prefix) !== m[2]) return null;
  return { network: (addr & mask(prefix)) >>> 0, prefix };
}

/** Canonical `network/prefix` text (e.g. `10.0.0.5/24` → `10.0.0.0/24`), or null when malformed. */
export function normalizeCidr(s: string): string | null {
  const c = parseCidr(s);
  return c ? `${formatIpv4(c.network)}/${c.prefix}` : null;
}

/** Whether the address lies inside the CIDR. */
export function cidrContains(cidr: Ipv4Cidr, addr: number): boolean {
  return (addr & mask(cidr.prefix)) >>> 0 === cidr.network;
}

/** Broadcast address of the CIDR (all host bits set). */
export function cidrBroadcast(cidr: Ipv4Cidr): number {
  return (cidr.network | ~mask(cidr.prefix)) >>> 0;
}

/** Whether two CIDRs share any address (one contains the other). */
export function cidrsOverlap(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  const prefix = Math.min(a.prefix, b.prefix);
  return (a.network & mask(prefix)) >>> 0 === (b.network & mask(prefix)) >>> 0;
}

/**
 * Blocks that can never be a boot network nor a client's address (RFC 6890 special-purpose registry): "this
 * network", loopback, link-local, multicast and the reserved class E block (which holds 255.255.255.255).
 */
export const NON_UNICAST_BLOCKS: readonly { cidr: string; name: string }[] = [
  { cidr: '0.0.0.0/8', name: '"this network" (RFC 1122)' },
  { cidr: '127.0.0.0/8', name: 'loopback' },
  { cidr: '169.254.0.0/16', name: 'link-local (RFC 3927)' },
  { cidr: '224.0.0.0/4', name: 'multicast' },
  { cidr: '240.0.0.0/4', name: 'reserved (class E, with the limited broadcast address)' },
];

/** The special-purpose block `cidr` (a CIDR or a single address) overlaps, or null when it is ordinary unicast space. */
export function nonUnicastBlockOf(cidrOrAddress: string): { cidr: string; name: string } | null {
  const c = cidrOrAddress.includes('/') ? parseCidr(cidrOrAddress) : mapAddress(parseIpv4(cidrOrAddress));
  if (!c) return null;
  return NON_UNICAST_BLOCKS.find((b) => cidrsOverlap(c, parseCidr(b.cidr)!)) ?? null;
}

function mapAddress(addr: number | null): Ipv4Cidr | null {
  return addr === null ? null : { network: addr, prefix: 32 };
}
