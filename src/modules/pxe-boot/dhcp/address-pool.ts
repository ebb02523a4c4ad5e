/**
 * The address arithmetic of a full-mode range, kept pure so the lease service's SQL only has to answer
 * "is this address taken?": which addresses a range may hand out, which it must never hand out, and in which order
 * an OFFER considers them (RFC 2131 §4.3.1).
 */
import { cidrContains, formatIpv4, Ipv4Cidr, parseCidr, parseIpv4 } from '@common/net/ipv4';

/** The range fields the pool arithmetic needs (a subset of NetworkRange). */
export interface PoolRangeFacts {
  cidr: string;
  gateway: string | null;
  poolStart: string | null;
  poolEnd: string | null;
  nextServer: string | null;
}

/** A range's dynamic pool as integers, with the addresses inside it that are never leased. */
export interface AddressPool {
  cidr: Ipv4Cidr;
  /** First and last address handed out dynamically (inclusive). */
  first: number;
  last: number;
  /** Network, broadcast, gateway, next-server and our own addresses: never offered, never ACKed. */
  excluded: ReadonlySet<number>;
}

/** Strips a `/32` that PostgreSQL `inet` may carry, and validates; null for anything that is not an address. */
export function hostAddress(value: string | null | undefined): number | null {
  if (!value) return null;
  return parseIpv4(value.replace(/\/32$/, ''));
}

function hostMaskBits(prefix: number): number {
  return prefix === 32 ? 0 : 0xffffffff >>> prefix;
}

/**
 * Builds the pool of a range. Without pool_start/pool_end the whole CIDR minus network and broadcast is the pool.
 * `serverAddresses` are our own addresses on that network (the interface address), never offered.
 * Returns null when the range has no usable pool (bad CIDR, or pool outside the CIDR).
 */
export function addressPool(range: PoolRangeFacts, serverAddresses: readonly string[] = []): AddressPool | null {
  const cidr = parseCidr(range.cidr);
  if (!cidr) return null;
  const network = cidr.network;
  const broadcast = (network | hostMaskBits(cidr.prefix)) >>> 0;
  // /31 and /32 have no network/broadcast to skip (RFC 3021), but DLS never leases from such tiny ranges anyway.
  const lowest = cidr.prefix >= 31 ? network : network + 1;
  const highest = cidr.prefix >= 31 ? broadcast : broadcast - 1;
  const first = hostAddress(range.poolStart) ?? lowest;
  const last = hostAddress(range.poolEnd) ?? highest;
  if (first < lowest || last > highest || first > last) return null;
  const excluded = new Set<number>([network, broadcast]);
  for (const a of [range.gateway, range.nextServer, ...serverAddresses]) {
    const n = hostAddress(a);
    if (n !== null) excluded.add(n);
  }
  return { cidr, first, last, excluded };
}

/** True when `ip` lies in the range's CIDR (any address, pool or not). */
export function inCidr(pool: AddressPool, ip: string): boolean {
  const n = hostAddress(ip);
  return n !== null && cidrContains(pool.cidr, n);
}

/** True when `ip` may be leased dynamically: inside [first, last] and not excluded. */
export function inPool(pool: AddressPool, ip: string): boolean {
  const n = hostAddress(ip);
  return n !== null && n >= pool.first && n <= pool.last && !pool.excluded.has(n);
}

/**
 * True when `ip` may be leased to a client holding it as its reservation: anywhere in the CIDR (reservations may lie
 * outside the dynamic pool) except network, broadcast, gateway and our own addresses.
 */
export function isLeasable(pool: AddressPool, ip: string, reservedForClient: boolean): boolean {
  if (reservedForClient) {
    const n = hostAddress(ip);
    return n !== null && cidrContains(pool.cidr, n) && !pool.excluded.has(n);
  }
  return inPool(pool, ip);
}

/** Why an address was chosen, for logs and tests. */
export type OfferSource = 'reservation' | 'existing' | 'requested' | 'pool';

/** One address an OFFER may use, in order of preference. */
export interface OfferCandidate {
  ip: string;
  source: OfferSource;
}

/**
 * The fixed candidates of an OFFER in RFC 2131 §4.3.1 order (before "first free pool address", which needs the
 * database): the client's reservation when it lies in the CIDR, then its current lease, then the address it asked
 * for (option 50) when that is in the pool. Duplicates and unusable addresses are dropped. A reservation that another
 * client still holds falls through to the next candidate rather than leaving the client without an address.
 */
export function offerCandidates(
  pool: AddressPool,
  facts: { reservedIp?: string | null; existingIp?: string | null; requestedIp?: string | null },
): OfferCandidate[] {
  const out: OfferCandidate[] = [];
  const push = (ip: string | null | undefined, source: OfferSource, ok: (ip: string) => boolean): void => {
    const n = hostAddress(ip);
    if (n === null) return;
    const text = formatIpv4(n);
    if (ok(text) && !out.some((c) => c.ip === text)) out.push({ ip: text, source });
  };
  push(facts.reservedIp, 'reservation', (ip) => isLeasable(pool, ip, true));
  push(facts.existingIp, 'existing', (ip) => inPool(pool, ip));
  push(facts.requestedIp, 'requested', (ip) => inPool(pool, ip));
  return out;
}

/** The pool as the integer bounds and exclusion list the "first free address" query takes. */
export function poolQueryBounds(pool: AddressPool): { first: number; last: number; excluded: number[] } {
  return { first: pool.first, last: pool.last, excluded: [...pool.excluded].sort((a, b) => a - b) };
}
