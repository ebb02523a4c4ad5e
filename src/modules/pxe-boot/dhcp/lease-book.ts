/**
 * The in-memory state of one full-mode range's addresses: who holds which address (the `dhcp_leases` rows, loaded
 * once and kept current by every write this process makes), which addresses are offered right now (offers live only
 * here), which are being committed, and a stack of never-used pool addresses — so an OFFER is answered without a
 * query and without scanning the lease table. PostgreSQL stays the source of truth for what is durable: the unique
 * index on `dhcp_leases.ip` and on (range_id, mac) arbitrate every write (see DhcpLeasesService).
 *
 * Framework-free and synchronous: a check and the mark that follows it happen in one turn of the event loop, so two
 * requests of this process can never both get one address.
 */
import { formatIpv4 } from '@common/net/ipv4';
import type { LeaseState } from '../dhcp-lease.entity';
import { AddressPool, hostAddress, offerCandidates, OfferSource } from './address-pool';

/** One lease row as the book keeps it (addresses as integers, times in ms). */
export interface BookRow {
  ip: number;
  mac: string;
  clientId: string | null;
  state: LeaseState;
  expiresAt: number;
  hostname: string | null;
}

export interface LeaseBookOptions {
  pool: AddressPool;
  /** The MAC whose client reserves this address (clients.ip_address), or null: others never get it. */
  reservedFor: (ip: string) => string | null;
  /** How long an OFFER holds its address for the client's REQUEST. */
  offerHoldMs: number;
  /**
   * How much longer than the hold an offered address stays out of the pool: a REQUEST that arrived within the hold
   * may wait this long in the queue (the queue's deadline) before it is handled, and must still find its address.
   */
  graceMs: number;
  /** A pool scan for reusable (expired, released) addresses runs at most this often when the pool looks full. */
  rescanMs?: number;
}

/** An address chosen for an OFFER. */
export interface BookOffer {
  ip: string;
  source: OfferSource;
}

interface HeldOffer {
  mac: string;
  ip: number;
  until: number;
}

/** True when `row` keeps its address from anyone else at `now`: an unexpired lease or quarantine. */
export function isActive(row: BookRow, now: number): boolean {
  return row.state !== 'released' && row.expiresAt > now;
}

/** See the file comment. */
export class LeaseBook {
  readonly pool: AddressPool;
  /** The pool's exclusions plus every server address seen on this range since (see {@link exclude}). */
  private readonly excluded: Set<number>;
  private readonly reservedFor: (ip: string) => string | null;
  private readonly holdMs: number;
  private readonly graceMs: number;
  private readonly rescanMs: number;
  private readonly byIp = new Map<number, BookRow>();
  private readonly byMac = new Map<string, BookRow>();
  private readonly offers = new Map<string, HeldOffer>();
  private readonly offeredIps = new Map<number, HeldOffer>();
  /** Offers in the order they were made, for sweeping expired ones. */
  private offerLog: HeldOffer[] = [];
  private offerLogHead = 0;
  /** Address → MAC whose REQUEST is being committed for it. */
  private readonly pending = new Map<number, string>();
  /** Pool addresses never leased (no row), lowest on top. */
  private free: number[] = [];
  /** Reusable addresses found by the last scan (expired or released rows), oldest first. */
  private reclaim: number[] = [];
  private lastScan = -Infinity;

  constructor(options: LeaseBookOptions, rows: Iterable<BookRow> = []) {
    this.pool = options.pool;
    this.excluded = new Set(options.pool.excluded);
    this.reservedFor = options.reservedFor;
    this.holdMs = options.offerHoldMs;
    this.graceMs = options.graceMs;
    this.rescanMs = options.rescanMs ?? 1000;
    for (const row of rows) this.put(row);
    for (let n = this.pool.last; n >= this.pool.first; n--) if (!this.excluded.has(n) && !this.byIp.has(n)) this.free.push(n);
  }

  /** Never hands out `ip` (one of our own addresses on this network, learnt from a request's destination). */
  exclude(ip: number): void {
    this.excluded.add(ip);
  }

  /** Rows, offers and never-used addresses, for logs and tests. */
  stats(): { rows: number; offers: number; pending: number; neverUsed: number } {
    return { rows: this.byIp.size, offers: this.offers.size, pending: this.pending.size, neverUsed: this.free.length };
  }

  /** The MAC's row (any state), or its offer as an `offered` row, or null. */
  rowOf(mac: string, now: number): BookRow | null {
    const offer = this.offers.get(mac);
    if (offer && offer.until > now) {
      const row = this.byMac.get(mac);
      if (!(row && row.ip === offer.ip && row.state === 'bound' && isActive(row, now))) {
        return { ip: offer.ip, mac, clientId: row?.clientId ?? null, state: 'offered', expiresAt: offer.until, hostname: row?.hostname ?? null };
      }
    }
    return this.byMac.get(mac) ?? null;
  }

  /** The row holding address `ip`, or null. */
  rowAt(ip: number): BookRow | null {
    return this.byIp.get(ip) ?? null;
  }

  /**
   * Chooses and holds an address for `mac` (RFC 2131 §4.3.1 order): its held offer, its reservation when in the
   * CIDR, its current or previous lease, the address it asked for, else a never-used pool address, else the
   * longest-expired one. Null when nothing is free.
   */
  offer(mac: string, facts: { reservedIp?: string | null; requestedIp?: string | null }, now: number): BookOffer | null {
    this.sweepOffers(now);
    const own = this.byMac.get(mac);
    const held = this.offers.get(mac);
    const candidates = offerCandidates(this.pool, {
      reservedIp: facts.reservedIp,
      existingIp: own && own.state !== 'declined' ? formatIpv4(own.ip) : null,
      requestedIp: facts.requestedIp,
    });
    // A retransmitted DISCOVER keeps its offer, unless a reservation now says otherwise.
    if (held && held.until + this.graceMs > now && (candidates[0]?.source !== 'reservation' || candidates[0].ip === formatIpv4(held.ip))) {
      if (this.available(held.ip, mac, now))
        return this.hold(mac, held.ip, now, candidates.find((c) => c.ip === formatIpv4(held.ip))?.source ?? 'pool');
    }
    for (const c of candidates) {
      const n = hostAddress(c.ip)!;
      if (this.available(n, mac, now)) return this.hold(mac, n, now, c.source);
    }
    const n = this.nextFree(mac, now);
    return n === null ? null : this.hold(mac, n, now, 'pool');
  }

  /**
   * Reserves `ip` for `mac`'s REQUEST while its write commits: null when it may have it, else why not. The caller
   * then calls {@link commit} or {@link abandon}.
   */
  claim(mac: string, ip: number, now: number): string | null {
    if (this.available(ip, mac, now)) {
      this.pending.set(ip, mac);
      return null;
    }
    const reservedBy = this.reservedFor(formatIpv4(ip));
    if (reservedBy !== null && reservedBy !== mac) return `${formatIpv4(ip)} is reserved for another client`;
    return `${formatIpv4(ip)} is in use by another client`;
  }

  /** The REQUEST's write committed: `row` is now the MAC's lease (its previous address, if any, is free again). */
  commit(row: BookRow): void {
    if (this.pending.get(row.ip) === row.mac) this.pending.delete(row.ip);
    this.dropOffer(row.mac);
    this.put(row);
  }

  /** The REQUEST's write failed: the address is no longer being committed. */
  abandon(mac: string, ip: number): void {
    if (this.pending.get(ip) === mac) this.pending.delete(ip);
  }

  /** Records a row found in the database (written by another node): it wins over what the book believed. */
  learn(row: BookRow): void {
    this.put(row);
  }

  /** The MAC's lease on `ip` was quarantined until `until` (DHCPDECLINE); the row now carries `quarantineMac`. */
  decline(mac: string, ip: number, quarantineMac: string, until: number): void {
    const row = this.byIp.get(ip);
    if (!row || row.mac !== mac) return;
    this.dropOffer(mac);
    this.put({ ...row, mac: quarantineMac, clientId: null, state: 'declined', expiresAt: until, hostname: `declined by ${mac}` });
  }

  /** The MAC released `ip` (DHCPRELEASE): the row stays as its previous address, free for others. */
  release(mac: string, ip: number, now: number): void {
    const row = this.byIp.get(ip);
    if (!row || row.mac !== mac) return;
    this.dropOffer(mac);
    row.state = 'released';
    row.expiresAt = now;
  }

  /** Drops the MAC's offer (it chose another server). */
  forgetOffer(mac: string): void {
    this.dropOffer(mac, true);
  }

  /** True when `ip` may go to `mac` now: not excluded, not reserved or offered to, committed for or held by another. */
  available(ip: number, mac: string, now: number): boolean {
    if (this.excluded.has(ip)) return false;
    const reservedBy = this.reservedFor(formatIpv4(ip));
    if (reservedBy !== null && reservedBy !== mac) return false;
    const pending = this.pending.get(ip);
    if (pending !== undefined && pending !== mac) return false;
    const offer = this.offeredIps.get(ip);
    if (offer && offer.mac !== mac && offer.until + this.graceMs > now) return false;
    const row = this.byIp.get(ip);
    return !(row && row.mac !== mac && isActive(row, now));
  }

  private hold(mac: string, ip: number, now: number, source: OfferSource | 'pool'): BookOffer {
    const previous = this.offers.get(mac);
    if (previous && previous.ip !== ip) this.dropOffer(mac, true);
    const offer: HeldOffer = { mac, ip, until: now + this.holdMs };
    this.offers.set(mac, offer);
    this.offeredIps.set(ip, offer);
    this.offerLog.push(offer);
    return { ip: formatIpv4(ip), source };
  }

  private dropOffer(mac: string, backToPool = false): void {
    const offer = this.offers.get(mac);
    if (!offer) return;
    this.offers.delete(mac);
    if (this.offeredIps.get(offer.ip) === offer) this.offeredIps.delete(offer.ip);
    if (backToPool && !this.byIp.has(offer.ip) && !this.pending.has(offer.ip)) this.free.push(offer.ip);
  }

  /** Ends offers whose hold and grace have passed; their never-used addresses go back on the free stack. */
  private sweepOffers(now: number): void {
    while (this.offerLogHead < this.offerLog.length) {
      const o = this.offerLog[this.offerLogHead];
      if (o.until + this.graceMs > now) break;
      this.offerLogHead++;
      if (this.offers.get(o.mac) === o) this.dropOffer(o.mac, true);
    }
    if (this.offerLogHead > 1024 && this.offerLogHead * 2 > this.offerLog.length) {
      this.offerLog = this.offerLog.slice(this.offerLogHead);
      this.offerLogHead = 0;
    }
  }

  /** A never-used address, else a reusable one (longest expired first); null when the pool is exhausted. */
  private nextFree(mac: string, now: number): number | null {
    for (;;) {
      while (this.free.length > 0) {
        const n = this.free.pop()!;
        if (!this.byIp.has(n) && this.available(n, mac, now)) return n;
      }
      while (this.reclaim.length > 0) {
        const n = this.reclaim.shift()!;
        if (this.available(n, mac, now)) return n;
      }
      if (now - this.lastScan < this.rescanMs) return null;
      this.scan(now);
      if (this.free.length === 0 && this.reclaim.length === 0) return null;
    }
  }

  /** Rebuilds the free stack and the reclaim list from the whole pool (only when both ran dry). */
  private scan(now: number): void {
    this.lastScan = now;
    const reusable: BookRow[] = [];
    for (let n = this.pool.last; n >= this.pool.first; n--) {
      if (this.excluded.has(n) || this.pending.has(n)) continue;
      const offer = this.offeredIps.get(n);
      if (offer && offer.until + this.graceMs > now) continue;
      const row = this.byIp.get(n);
      if (!row) this.free.push(n);
      else if (!isActive(row, now)) reusable.push(row);
    }
    reusable.sort((a, b) => a.expiresAt - b.expiresAt);
    this.reclaim = reusable.map((r) => r.ip);
  }

  private put(row: BookRow): void {
    const atIp = this.byIp.get(row.ip);
    if (atIp && atIp.mac !== row.mac && this.byMac.get(atIp.mac) === atIp) this.byMac.delete(atIp.mac);
    const own = this.byMac.get(row.mac);
    if (own && own.ip !== row.ip && this.byIp.get(own.ip) === own) {
      this.byIp.delete(own.ip);
      if (own.ip >= this.pool.first && own.ip <= this.pool.last && !this.excluded.has(own.ip)) this.free.push(own.ip);
    }
    this.byIp.set(row.ip, row);
    if (row.state === 'declined') {
      if (this.byMac.get(row.mac) === atIp) this.byMac.delete(row.mac);
    } else this.byMac.set(row.mac, row);
  }
}
