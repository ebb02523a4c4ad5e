import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { formatIpv4 } from '@common/net/ipv4';
import { LeaseState } from '../dhcp-lease.entity';
import { AddressPool, addressPool, hostAddress, inCidr, isLeasable, offerCandidates, OfferSource, PoolRangeFacts } from './address-pool';
import { isUniqueViolation } from '@common/errors/pg-errors';

/** How long an OFFER holds its address for the client's REQUEST (RFC 2131 §4.3.1 leaves it to the server). */
export const OFFER_HOLD_SECONDS = 10;
/** How long a DECLINEd address stays out of the pool (RFC 2131 §4.3.3: "mark the network address as not available"). */
export const DECLINE_QUARANTINE_SECONDS = 600;
/** Attempts when another DLS instance wins the race for an address (unique_violation). */
const MAX_ATTEMPTS = 5;

/** The range fields leasing needs (a subset of NetworkRange). */
export interface LeaseRangeFacts extends PoolRangeFacts {
  id: string;
  leaseSeconds: number;
}

/** Client facts an OFFER or REQUEST takes into account. */
export interface LeaseClientFacts {
  /** Option 50. */
  requestedIp?: string | null;
  /** The client's reservation (clients.ip_address). */
  reservedIp?: string | null;
  clientId?: string | null;
  hostname?: string | null;
  /** Our own addresses on this network; never leased. */
  serverAddresses?: readonly string[];
}

/** An address chosen for an OFFER and held for {@link OFFER_HOLD_SECONDS}. */
export interface OfferedAddress {
  ip: string;
  source: OfferSource | 'pool';
}

/** The outcome of a DHCPREQUEST (RFC 2131 §4.3.2). */
export type RequestOutcome =
  | { kind: 'ack'; ip: string; leaseSeconds: number; expiresAt: Date }
  | { kind: 'nak'; reason: string }
  /** The client chose another server: our offer is forgotten and nothing is sent. */
  | { kind: 'ignored' };

/** A lease row as the service reports it. */
export interface LeaseView {
  rangeId: string;
  ip: string;
  mac: string;
  clientId: string | null;
  state: LeaseState;
  expiresAt: Date;
  hostname: string | null;
}

interface LeaseRow {
  id: string;
  range_id: string;
  ip: string;
  mac: string;
  client_id: string | null;
  state: LeaseState;
  expires_at: Date;
  hostname: string | null;
  active: boolean;
}

const LEASE_COLUMNS = `id, range_id, host(ip) AS ip, mac, client_id, state, expires_at, hostname,
  (state <> 'released' AND expires_at > now()) AS active`;

/**
 * The MAC a quarantine row carries: `ff:ff:` + the address. dhcp_leases is unique on (range_id, mac), so a row that
 * kept the decliner's own MAC would stop that client from leasing any other address while the quarantine lasts; the
 * decliner is kept in `hostname` instead. ff:ff:… has the group bit set and is never a station address.
 */
export function quarantineMac(ip: string): string {
  const n = hostAddress(ip);
  if (n === null) throw new RangeError(`not an IPv4 address: ${JSON.stringify(ip)}`);
  const hex = n.toString(16).padStart(8, '0');
  return `ff:ff:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}:${hex.slice(6, 8)}`;
}

/** First address of `pool` from `start` on that is neither excluded nor in `taken`; null when the pool is full. */
export function firstFreeAddress(pool: AddressPool, taken: ReadonlySet<number>): string | null {
  for (let n = pool.first; n <= pool.last; n++) {
    if (!pool.excluded.has(n) && !taken.has(n)) return formatIpv4(n);
  }
  return null;
}

function toView(row: LeaseRow): LeaseView {
  return {
    rangeId: row.range_id,
    ip: row.ip,
    mac: row.mac,
    clientId: row.client_id,
    state: row.state,
    expiresAt: row.expires_at,
    hostname: row.hostname,
  };
}

/**
 * DHCP address allocation for full-mode ranges (RFC 2131 §4.3), with PostgreSQL as the truth so leases survive
 * restarts and several DLS instances can share one database.
 *
 * Concurrency: every allocation is one transaction that reads the rows it depends on `FOR UPDATE` and then writes;
 * the unique index on `dhcp_leases.ip` is the arbiter — if another transaction took the same address first, the
 * insert fails with unique_violation (23505) and the whole allocation is retried with fresh data. Within one process,
 * allocations for one range are also queued one after another, so a boot storm of N clients costs N short
 * transactions instead of N² retries, and no pool connection sits blocked on a lock. (`SELECT … FOR UPDATE SKIP
 * LOCKED` needs a row per free address to lock; our table holds only used addresses, so the index arbitrates.)
 */
@Injectable()
export class DhcpLeasesService {
  private readonly logger = new Logger(DhcpLeasesService.name);
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Chooses an address for a DISCOVER and holds it (state `offered`, {@link OFFER_HOLD_SECONDS}) so no other client
   * is offered it: the reservation when inside the CIDR, else the client's current or previous lease, else the
   * requested address when free, else the first free pool address (network, broadcast, gateway, next-server, our
   * own, other clients' reservations and quarantined addresses skipped; expired and released leases are free).
   * A bound, unexpired lease stays bound. Null when the pool is exhausted or the range has no usable pool.
   */
  async offer(range: LeaseRangeFacts, mac: string, facts: LeaseClientFacts = {}): Promise<OfferedAddress | null> {
    const pool = addressPool(range, facts.serverAddresses ?? []);
    if (!pool) {
      this.logger.warn(`range ${range.id} (${range.cidr}) has no usable address pool`);
      return null;
    }
    return this.serialized(range.id, () =>
      this.withRetry(() =>
        this.dataSource.transaction(async (em) => {
          const own = await this.ownRow(em, range.id, mac);
          const candidates = offerCandidates(pool, {
            reservedIp: facts.reservedIp,
            existingIp: own && own.state !== 'declined' ? own.ip : null,
            requestedIp: facts.requestedIp,
          });
          for (const c of candidates) {
            if (await this.claim(em, range, mac, c.ip, 'offered', own, facts)) return c;
          }
          // Pool scan: skip what is leased, held, quarantined or reserved for someone else.
          const taken = await this.takenAddresses(em, pool, range.cidr, mac);
          for (;;) {
            const ip = firstFreeAddress(pool, taken);
            if (ip === null) return null;
            if (await this.claim(em, range, mac, ip, 'offered', own, facts)) return { ip, source: 'pool' as const };
            taken.add(hostAddress(ip)!);
          }
        }),
      ),
    );
  }

  /**
   * Answers a DHCPREQUEST for `ip` (RFC 2131 §4.3.2). `serverIdMatches: false` (SELECTING, option 54 names another
   * server) forgets our offer and returns `ignored`. Otherwise ACK — bound for `leaseSeconds` — when `ip` is in the
   * range and either this client's, or free and leasable to it; NAK when it is on another network, outside the
   * pool, held by another MAC, reserved for another client, or not the client's own reservation. DLS is
   * authoritative on its ranges: an INIT-REBOOT for a free, valid address is ACKed even without a prior record.
   */
  async request(
    range: LeaseRangeFacts,
    mac: string,
    ip: string,
    opts: LeaseClientFacts & { serverIdMatches?: boolean } = {},
  ): Promise<RequestOutcome> {
    if (opts.serverIdMatches === false) {
      await this.forgetOffer(range.id, mac);
      return { kind: 'ignored' };
    }
    const pool = addressPool(range, opts.serverAddresses ?? []);
    if (!pool || !inCidr(pool, ip)) return { kind: 'nak', reason: `${ip} is not on network ${range.cidr}` };
    const reserved = opts.reservedIp ? opts.reservedIp.replace(/\/32$/, '') : null;
    if (reserved && inCidr(pool, reserved) && reserved !== ip) {
      return { kind: 'nak', reason: `client has the reservation ${reserved}` };
    }
    if (!isLeasable(pool, ip, reserved === ip)) return { kind: 'nak', reason: `${ip} is not in the pool` };

    return this.serialized(range.id, () =>
      this.withRetry(() =>
        this.dataSource.transaction(async (em): Promise<RequestOutcome> => {
          if (reserved !== ip && (await this.reservedForOther(em, ip, mac))) {
            return { kind: 'nak', reason: `${ip} is reserved for another client` };
          }
          const own = await this.ownRow(em, range.id, mac);
          if (!(await this.claim(em, range, mac, ip, 'bound', own, opts))) {
            return { kind: 'nak', reason: `${ip} is in use by another client` };
          }
          const [row] = await em.query<LeaseRow[]>(`SELECT ${LEASE_COLUMNS} FROM dhcp_leases WHERE ip = $1::inet`, [ip]);
          return { kind: 'ack', ip, leaseSeconds: range.leaseSeconds, expiresAt: row.expires_at };
        }),
      ),
    );
  }

  /**
   * DHCPDECLINE (RFC 2131 §4.3.3): the client found `ip` in use. When the address is this MAC's lease it is
   * quarantined (state `declined`) for {@link DECLINE_QUARANTINE_SECONDS}; the client may then get another one.
   * Returns whether anything was quarantined.
   */
  async decline(mac: string, ip: string): Promise<boolean> {
    if (hostAddress(ip) === null) return false;
    const rows = await this.dataSource.query<[unknown[], number]>(
      `UPDATE dhcp_leases
          SET state = 'declined', mac = $3, client_id = NULL, hostname = $4,
              expires_at = now() + make_interval(secs => $5), updated_at = now()
        WHERE ip = $1::inet AND mac = $2
        RETURNING id`,
      [ip, mac, quarantineMac(ip), `declined by ${mac}`, DECLINE_QUARANTINE_SECONDS],
    );
    const quarantined = rows[1] > 0;
    if (quarantined) this.logger.warn(`${ip} declined by ${mac}: quarantined for ${DECLINE_QUARANTINE_SECONDS} s`);
    return quarantined;
  }

  /** DHCPRELEASE (RFC 2131 §4.3.4): frees this MAC's lease on `ip` at once (the row stays as its previous address). */
  async release(mac: string, ip: string): Promise<boolean> {
    if (hostAddress(ip) === null) return false;
    const rows = await this.dataSource.query<[unknown[], number]>(
      `UPDATE dhcp_leases SET state = 'released', expires_at = now(), updated_at = now()
        WHERE ip = $1::inet AND mac = $2 AND state IN ('offered', 'bound') RETURNING id`,
      [ip, mac],
    );
    return rows[1] > 0;
  }

  /** Drops the hold of an unanswered OFFER (the client took another server's). The row stays as a previous address. */
  async forgetOffer(rangeId: string, mac: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE dhcp_leases SET expires_at = now(), updated_at = now()
        WHERE range_id = $1 AND mac = $2 AND state = 'offered'`,
      [rangeId, mac],
    );
  }

  /** The lease row of `mac` in a range (any state), or null. */
  async findByMac(rangeId: string, mac: string): Promise<LeaseView | null> {
    const row = await this.ownRow(this.dataSource.manager, rangeId, mac, false);
    return row ? toView(row) : null;
  }

  /** Every lease row of a range, by address. */
  async list(rangeId: string): Promise<LeaseView[]> {
    const rows = await this.dataSource.query<LeaseRow[]>(`SELECT ${LEASE_COLUMNS} FROM dhcp_leases WHERE range_id = $1 ORDER BY ip`, [rangeId]);
    return rows.map(toView);
  }

  private async ownRow(em: EntityManager, rangeId: string, mac: string, lock = true): Promise<LeaseRow | null> {
    const rows = await em.query<LeaseRow[]>(`SELECT ${LEASE_COLUMNS} FROM dhcp_leases WHERE range_id = $1 AND mac = $2${lock ? ' FOR UPDATE' : ''}`, [
      rangeId,
      mac,
    ]);
    return rows[0] ?? null;
  }

  private async reservedForOther(em: EntityManager, ip: string, mac: string): Promise<boolean> {
    const rows = await em.query<unknown[]>(`SELECT 1 FROM clients WHERE ip_address = $1::inet AND mac_address <> $2 LIMIT 1`, [ip, mac]);
    return rows.length > 0;
  }

  /** Addresses in the CIDR that are unavailable to `mac`: active leases of others, and others' reservations. */
  private async takenAddresses(em: EntityManager, pool: AddressPool, cidr: string, mac: string): Promise<Set<number>> {
    const rows = await em.query<{ ip: string }[]>(
      `SELECT host(ip) AS ip FROM dhcp_leases
        WHERE ip <<= $1::cidr AND mac <> $2 AND state <> 'released' AND expires_at > now()
       UNION
       SELECT host(ip_address) FROM clients WHERE ip_address <<= $1::cidr AND mac_address <> $2`,
      [cidr, mac],
    );
    const taken = new Set<number>();
    for (const r of rows) {
      const n = hostAddress(r.ip);
      if (n !== null && n >= pool.first && n <= pool.last) taken.add(n);
    }
    return taken;
  }

  /**
   * Makes `ip` this MAC's lease in `state`, inside the caller's transaction. False when another MAC holds it
   * (active lease or quarantine). An expired or released row of another MAC is removed; this MAC's own row moves to
   * the address. An OFFER never downgrades a bound, unexpired lease of the same address.
   */
  private async claim(
    em: EntityManager,
    range: LeaseRangeFacts,
    mac: string,
    ip: string,
    state: 'offered' | 'bound',
    own: LeaseRow | null,
    facts: LeaseClientFacts,
  ): Promise<boolean> {
    const [holder] = await em.query<LeaseRow[]>(`SELECT ${LEASE_COLUMNS} FROM dhcp_leases WHERE ip = $1::inet FOR UPDATE`, [ip]);
    if (holder && holder.mac !== mac) {
      if (holder.active) return false;
      await em.query(`DELETE FROM dhcp_leases WHERE id = $1`, [holder.id]);
    }
    const keepBound = state === 'offered' && own !== null && own.ip === ip && own.state === 'bound' && own.active;
    const newState: LeaseState = keepBound ? 'bound' : state;
    const seconds = state === 'bound' ? range.leaseSeconds : OFFER_HOLD_SECONDS;
    const clientId = facts.clientId ?? null;
    const hostname = facts.hostname ?? null;
    if (own) {
      await em.query(
        `UPDATE dhcp_leases
            SET ip = $2::inet, state = $3, client_id = $4, hostname = COALESCE($5, hostname), updated_at = now(),
                expires_at = CASE WHEN $6 THEN expires_at ELSE now() + make_interval(secs => $7) END
          WHERE id = $1`,
        [own.id, ip, newState, clientId, hostname, keepBound, seconds],
      );
      own.ip = ip;
      own.state = newState;
      own.active = true;
    } else {
      await em.query(
        `INSERT INTO dhcp_leases (range_id, ip, mac, client_id, state, expires_at, hostname)
         VALUES ($1, $2::inet, $3, $4, $5, now() + make_interval(secs => $6), $7)`,
        [range.id, ip, mac, clientId, newState, seconds, hostname],
      );
    }
    return true;
  }

  /** Retries `work` when it lost an address race to another transaction (unique_violation). */
  private async withRetry<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (err) {
        if (!isUniqueViolation(err) || attempt >= MAX_ATTEMPTS) throw err;
        this.logger.debug(`address race lost (attempt ${attempt}); retrying`);
      }
    }
  }

  /** Runs `work` after every earlier allocation for the same range in this process has finished. */
  private serialized<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(key, settled);
    void settled.then(() => {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    });
    return next;
  }
}
