import { Injectable, Logger, OnApplicationShutdown, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { AppConfig } from '@config/config.loader';
import { GroupCommit } from '@common/concurrency/group-commit';
import { formatIpv4 } from '@common/net/ipv4';
import { ClientDirectory } from '../../catalog';
import { DlsMetrics } from '../../metrics';
import { LeaseState } from '../dhcp-lease.entity';
import { AddressPool, addressPool, hostAddress, inCidr, isLeasable, OfferSource, PoolRangeFacts } from './address-pool';
import { BookRow, LeaseBook } from './lease-book';

/**
 * How long an OFFER holds its address for the client's REQUEST (RFC 2131 §4.3.1 leaves it to the server). Counted
 * from the OFFER to the REQUEST's arrival (not to when it is handled): a REQUEST that arrived in time may wait up to
 * the queue's deadline (DLS_DHCP_DEADLINE) and still finds its address.
 */
export const OFFER_HOLD_SECONDS = 10;
/** How long a DECLINEd address stays out of the pool (RFC 2131 §4.3.3: "mark the network address as not available"). */
export const DECLINE_QUARANTINE_SECONDS = 600;
/** How long the first lease write of a batch waits for others (group commit window). */
export const LEASE_COMMIT_WINDOW_MS = 2;
/** Lease writes per transaction at most. */
const LEASE_COMMIT_MAX_BATCH = 500;

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
  /** When the request arrived (ms since the epoch); default now. An offer held then is honoured. */
  arrivedAt?: number;
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

function toBookRow(row: Pick<LeaseRow, 'ip' | 'mac' | 'client_id' | 'state' | 'expires_at' | 'hostname'>): BookRow {
  return {
    ip: hostAddress(row.ip)!,
    mac: row.mac,
    clientId: row.client_id,
    state: row.state,
    expiresAt: new Date(row.expires_at).getTime(),
    hostname: row.hostname,
  };
}

/** One REQUEST's lease, as the group commit writes it. */
export interface LeaseWrite {
  rangeId: string;
  ip: string;
  mac: string;
  clientId: string | null;
  hostname: string | null;
  seconds: number;
}

/** What became of one {@link LeaseWrite}: bound until `expiresAt`, or refused because `holder` has the address. */
export type LeaseWriteResult = { ok: true; expiresAt: Date } | { ok: false; holder: LeaseRow | null; error?: unknown };

interface RangeBook {
  key: string;
  book: Promise<LeaseBook>;
  /** The book once loaded. */
  ready?: LeaseBook;
}

/**
 * DHCP address allocation for full-mode ranges (RFC 2131 §4.3): answered from memory, made durable in PostgreSQL.
 *
 * - **Memory**: per range a {@link LeaseBook} holds every lease row (loaded once, at the range's first request, and
 *   kept current by this service's own writes), the offers, and a stack of never-used addresses. An OFFER costs no
 *   query and no scan of the lease table; other clients' reservations come from the {@link ClientDirectory}'s
 *   in-memory index.
 * - **Offers are not written**: an offer is a promise of a few seconds. Held in memory, it keeps the address from
 *   every other client of this process; lost in a crash, it costs the client one more DISCOVER (or, as DLS is
 *   authoritative, its REQUEST for a free address is ACKed anyway).
 * - **ACKs are durable, in groups**: a REQUEST first claims its address in the book (so no other request of this
 *   process can take it), then its write joins a {@link GroupCommit}: writes arriving within a few milliseconds — or
 *   while the previous batch commits — become one transaction of four statements (lock the rows at those addresses,
 *   delete expired holders, one multi-row upsert). The REQUEST is ACKed only after that transaction committed; a
 *   failed commit sends no ACK (the client retries).
 * - **The database arbitrates**: the unique indexes on `ip` and on (range_id, mac) hold across nodes sharing the
 *   database. An address another node holds is found in the batch's locked read: that REQUEST is NAKed and the book
 *   learns the holder. A batch that hits a constraint anyway is replayed one write per transaction.
 */
@Injectable()
export class DhcpLeasesService implements OnApplicationShutdown {
  private readonly logger = new Logger(DhcpLeasesService.name);
  private readonly books = new Map<string, RangeBook>();
  private readonly writer: GroupCommit<LeaseWrite, LeaseWriteResult>;
  private readonly graceMs: number;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly directory: ClientDirectory,
    @Optional() config?: AppConfig,
    @Optional() metrics?: DlsMetrics,
  ) {
    this.graceMs = config?.dhcp.deadlineMs ?? 3000;
    this.writer = new GroupCommit<LeaseWrite, LeaseWriteResult>({
      flush: (items) => this.writeBatch(items),
      windowMs: LEASE_COMMIT_WINDOW_MS,
      maxBatch: LEASE_COMMIT_MAX_BATCH,
    });
    metrics?.setDhcpOffersSource(() => this.offersHeld());
  }

  async onApplicationShutdown(): Promise<void> {
    await this.writer.close();
  }

  /** Group-commit counters (batches, items, largest batch), for logs and tests. */
  commitStats(): GroupCommit<LeaseWrite, LeaseWriteResult>['stats'] {
    return { ...this.writer.stats };
  }

  /** Offers held in memory per range id (the `dls_dhcp_leases{state="offered"}` gauge adds them). */
  offersHeld(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [id, b] of this.books) if (b.ready) out.set(id, b.ready.stats().offers);
    return out;
  }

  /**
   * Chooses an address for a DISCOVER and holds it in memory for {@link OFFER_HOLD_SECONDS}: the reservation when
   * inside the CIDR, else the client's current or previous lease, else the requested address when free, else a
   * never-used pool address, else the longest-expired one (network, broadcast, gateway, next-server, our own
   * addresses, other clients' reservations and quarantined addresses skipped). Null when the pool is exhausted or
   * the range has no usable pool.
   */
  async offer(range: LeaseRangeFacts, mac: string, facts: LeaseClientFacts = {}): Promise<OfferedAddress | null> {
    const book = await this.bookFor(range, facts.serverAddresses ?? []);
    if (!book) return null;
    return book.offer(mac, { reservedIp: facts.reservedIp, requestedIp: facts.requestedIp }, Date.now());
  }

  /**
   * Answers a DHCPREQUEST for `ip` (RFC 2131 §4.3.2). `serverIdMatches: false` (SELECTING, option 54 names another
   * server) forgets our offer and returns `ignored`. Otherwise ACK — bound for `leaseSeconds`, once durable — when
   * `ip` is in the range and either this client's, or free and leasable to it; NAK when it is on another network,
   * outside the pool, held by another MAC, reserved for another client, or not the client's own reservation. DLS is
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
    const book = await this.bookFor(range, opts.serverAddresses ?? []);
    if (!book) return { kind: 'nak', reason: `${ip} is not in the pool` };
    const n = hostAddress(ip)!;
    // Judged as of the REQUEST's arrival: an offer held then still holds (the book keeps it for the queue's deadline).
    const refused = book.claim(mac, n, Math.min(Date.now(), opts.arrivedAt ?? Infinity));
    if (refused) return { kind: 'nak', reason: refused };
    let result: LeaseWriteResult;
    try {
      result = await this.writer.submit({
        rangeId: range.id,
        ip,
        mac,
        clientId: opts.clientId ?? null,
        hostname: opts.hostname ?? null,
        seconds: range.leaseSeconds,
      });
    } catch (err) {
      book.abandon(mac, n);
      throw err;
    }
    if (!result.ok) {
      book.abandon(mac, n);
      if (result.error) throw result.error instanceof Error ? result.error : new Error('lease write failed', { cause: result.error });
      if (result.holder) book.learn(toBookRow(result.holder));
      return { kind: 'nak', reason: `${ip} is in use by another client` };
    }
    const own = book.rowOf(mac, Date.now());
    book.commit({
      ip: n,
      mac,
      clientId: opts.clientId ?? null,
      state: 'bound',
      expiresAt: result.expiresAt.getTime(),
      hostname: opts.hostname ?? (own && own.ip === n ? own.hostname : null),
    });
    return { kind: 'ack', ip, leaseSeconds: range.leaseSeconds, expiresAt: result.expiresAt };
  }

  /**
   * DHCPDECLINE (RFC 2131 §4.3.3): the client found `ip` in use. When the address is this MAC's lease it is
   * quarantined (state `declined`) for {@link DECLINE_QUARANTINE_SECONDS}; the client may then get another one.
   * Returns whether anything was quarantined.
   */
  async decline(mac: string, ip: string): Promise<boolean> {
    const n = hostAddress(ip);
    if (n === null) return false;
    const rows = await this.dataSource.query<[{ range_id: string; expires_at: Date }[], number]>(
      `UPDATE dhcp_leases
          SET state = 'declined', mac = $3, client_id = NULL, hostname = $4,
              expires_at = now() + make_interval(secs => $5), updated_at = now()
        WHERE ip = $1::inet AND mac = $2
        RETURNING range_id, expires_at`,
      [ip, mac, quarantineMac(ip), `declined by ${mac}`, DECLINE_QUARANTINE_SECONDS],
    );
    const quarantined = rows[1] > 0;
    if (quarantined) {
      const row = rows[0][0];
      const book = await this.loadedBook(row.range_id);
      book?.decline(mac, n, quarantineMac(ip), new Date(row.expires_at).getTime());
      this.logger.warn(`${ip} declined by ${mac}: quarantined for ${DECLINE_QUARANTINE_SECONDS} s`);
    }
    return quarantined;
  }

  /** DHCPRELEASE (RFC 2131 §4.3.4): frees this MAC's lease on `ip` at once (the row stays as its previous address). */
  async release(mac: string, ip: string): Promise<boolean> {
    const n = hostAddress(ip);
    if (n === null) return false;
    const rows = await this.dataSource.query<[{ range_id: string }[], number]>(
      `UPDATE dhcp_leases SET state = 'released', expires_at = now(), updated_at = now()
        WHERE ip = $1::inet AND mac = $2 AND state IN ('offered', 'bound') RETURNING range_id`,
      [ip, mac],
    );
    if (rows[1] === 0) return false;
    (await this.loadedBook(rows[0][0].range_id))?.release(mac, n, Date.now());
    return true;
  }

  /** Drops the hold of an unanswered OFFER (the client took another server's). */
  async forgetOffer(rangeId: string, mac: string): Promise<void> {
    (await this.loadedBook(rangeId))?.forgetOffer(mac);
  }

  /** The lease of `mac` in a range (any state; a held offer shows as `offered`), or null. From memory once loaded. */
  async findByMac(rangeId: string, mac: string): Promise<LeaseView | null> {
    const book = await this.loadedBook(rangeId);
    if (book) {
      const row = book.rowOf(mac, Date.now());
      if (!row) return null;
      return {
        rangeId,
        ip: formatIpv4(row.ip),
        mac: row.mac,
        clientId: row.clientId,
        state: row.state,
        expiresAt: new Date(row.expiresAt),
        hostname: row.hostname,
      };
    }
    const rows = await this.dataSource.query<LeaseRow[]>(`SELECT ${LEASE_COLUMNS} FROM dhcp_leases WHERE range_id = $1 AND mac = $2`, [rangeId, mac]);
    return rows[0] ? toView(rows[0]) : null;
  }

  /** Forgets a range's book: the next request loads it again from the lease table (this node took the range over). */
  forgetRange(rangeId: string): void {
    this.books.delete(rangeId);
  }

  /** Every durable lease row of a range, by address (offers live in memory only: see {@link findByMac}). */
  async list(rangeId: string): Promise<LeaseView[]> {
    const rows = await this.dataSource.query<LeaseRow[]>(`SELECT ${LEASE_COLUMNS} FROM dhcp_leases WHERE range_id = $1 ORDER BY ip`, [rangeId]);
    return rows.map(toView);
  }

  /** The range's book, loaded on first use; rebuilt when the range's pool settings changed. Null: no usable pool. */
  private async bookFor(range: LeaseRangeFacts, serverAddresses: readonly string[]): Promise<LeaseBook | null> {
    const key = JSON.stringify([range.cidr, range.gateway, range.poolStart, range.poolEnd, range.nextServer]);
    let entry = this.books.get(range.id);
    if (!entry || entry.key !== key) {
      const pool = addressPool(range);
      if (!pool) {
        this.logger.warn(`range ${range.id} (${range.cidr}) has no usable address pool`);
        return null;
      }
      const book = this.loadBook(range.id, pool);
      const fresh: RangeBook = { key, book };
      entry = fresh;
      this.books.set(range.id, fresh);
      void book.then((b) => (fresh.ready = b)).catch(() => undefined);
      // A failed load is not kept: the next request tries again.
      book.catch(() => {
        if (this.books.get(range.id) === fresh) this.books.delete(range.id);
      });
    }
    const book = await entry.book;
    for (const a of serverAddresses) {
      const n = hostAddress(a);
      if (n !== null) book.exclude(n);
    }
    return book;
  }

  /** The book of a range when it has been loaded (or is loading), else null: nothing to keep current. */
  private async loadedBook(rangeId: string): Promise<LeaseBook | null> {
    const entry = this.books.get(rangeId);
    if (!entry) return null;
    return entry.book.catch(() => null);
  }

  private async loadBook(rangeId: string, pool: AddressPool): Promise<LeaseBook> {
    const started = Date.now();
    const rows = await this.dataSource.query<LeaseRow[]>(
      `SELECT host(ip) AS ip, mac, client_id, state, expires_at, hostname FROM dhcp_leases WHERE range_id = $1`,
      [rangeId],
    );
    const book = new LeaseBook(
      {
        pool,
        reservedFor: (ip) => this.directory.reservationOwner(ip),
        offerHoldMs: OFFER_HOLD_SECONDS * 1000,
        graceMs: this.graceMs,
      },
      rows.map(toBookRow),
    );
    this.logger.debug(`range ${rangeId}: ${rows.length} lease rows loaded in ${Date.now() - started} ms`);
    return book;
  }

  /** The group commit's flush: one transaction for the batch; on a constraint error, one per write. */
  private async writeBatch(items: readonly LeaseWrite[]): Promise<LeaseWriteResult[]> {
    try {
      return await this.dataSource.transaction((em) => this.writeInTransaction(em, items));
    } catch (err) {
      if (items.length === 1) return [{ ok: false, holder: null, error: err }];
      this.logger.debug(`lease batch of ${items.length} failed (${(err as Error).message}); writing one by one`);
      const out: LeaseWriteResult[] = [];
      for (const item of items) {
        try {
          out.push((await this.dataSource.transaction((em) => this.writeInTransaction(em, [item])))[0]);
        } catch (e) {
          out.push({ ok: false, holder: null, error: e });
        }
      }
      return out;
    }
  }

  private async writeInTransaction(em: EntityManager, items: readonly LeaseWrite[]): Promise<LeaseWriteResult[]> {
    const holders = await em.query<LeaseRow[]>(`SELECT ${LEASE_COLUMNS} FROM dhcp_leases WHERE ip = ANY($1::inet[]) FOR UPDATE`, [
      items.map((i) => i.ip),
    ]);
    const byIp = new Map(holders.map((h) => [h.ip, h]));
    const results: (LeaseWriteResult | null)[] = [];
    const accepted = new Map<string, LeaseWrite>(); // by range + MAC: a retransmission's duplicate is written once
    const ipsTaken = new Map<string, string>();
    const stale: string[] = [];
    for (const item of items) {
      const holder = byIp.get(item.ip);
      if (holder && holder.mac !== item.mac && holder.active) {
        results.push({ ok: false, holder });
        continue;
      }
      const taker = ipsTaken.get(item.ip);
      const macKey = `${item.rangeId} ${item.mac}`;
      const already = accepted.get(macKey);
      if ((taker !== undefined && taker !== item.mac) || (already && already.ip !== item.ip)) {
        results.push({ ok: false, holder: null });
        continue;
      }
      if (holder && holder.mac !== item.mac) stale.push(holder.id);
      accepted.set(macKey, item);
      ipsTaken.set(item.ip, item.mac);
      results.push(null);
    }
    const written = new Map<string, Date>();
    if (stale.length > 0) await em.query(`DELETE FROM dhcp_leases WHERE id = ANY($1::uuid[])`, [stale]);
    if (accepted.size > 0) {
      const list = [...accepted.values()];
      const rows = await em.query<{ mac: string; range_id: string; expires_at: Date }[]>(
        `INSERT INTO dhcp_leases (range_id, ip, mac, client_id, state, expires_at, hostname)
         SELECT t.range_id, t.ip, t.mac, t.client_id, 'bound', now() + make_interval(secs => t.secs), t.hostname
           FROM unnest($1::uuid[], $2::inet[], $3::varchar[], $4::uuid[], $5::int[], $6::varchar[])
                AS t(range_id, ip, mac, client_id, secs, hostname)
         ON CONFLICT (range_id, mac) WHERE state <> 'declined' DO UPDATE
            SET ip = EXCLUDED.ip, state = 'bound', client_id = EXCLUDED.client_id,
                hostname = COALESCE(EXCLUDED.hostname, dhcp_leases.hostname), expires_at = EXCLUDED.expires_at, updated_at = now()
         RETURNING range_id, mac, expires_at`,
        [
          list.map((i) => i.rangeId),
          list.map((i) => i.ip),
          list.map((i) => i.mac),
          list.map((i) => i.clientId),
          list.map((i) => i.seconds),
          list.map((i) => i.hostname),
        ],
      );
      for (const r of rows) written.set(`${r.range_id} ${r.mac}`, new Date(r.expires_at));
    }
    return items.map((item, i) => {
      const r = results[i];
      if (r) return r;
      const expiresAt = written.get(`${item.rangeId} ${item.mac}`);
      return expiresAt ? { ok: true, expiresAt } : { ok: false, holder: null, error: new Error(`lease of ${item.mac} was not written`) };
    });
  }
}
