import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { normalizeMac } from '@common/mac';
import { AuditService } from '../../audit';
import { BootLoader, Client } from '../clients/client.entity';
import { GroupCommit } from '@common/concurrency/group-commit';
import { ClientGroupDirectory } from '../groups/client-group-directory';
import { effectiveSettings } from '../groups/effective-settings';

/** What the DHCP server needs to know about a client, by MAC. */
export interface ClientBootFacts {
  id: string;
  /** Canonical lower-case `aa:bb:cc:dd:ee:ff`. */
  mac: string;
  hostname: string;
  enabled: boolean;
  pending: boolean;
  /** Reserved address (clients.ip_address), or null. */
  ipAddress: string | null;
  assignedImageId: string | null;
  bootLoader: BootLoader | null;
  /** Boots Debian's signed chain (shim → GRUB → signed kernel) instead of iPXE on UEFI. */
  secureBoot: boolean;
}

/** Tuning of the index; the defaults suit a room of a few hundred PCs up to tens of thousands of clients. */
export interface ClientDirectoryOptions {
  /**
   * How often the whole index is re-read as a safety net for writes no change event reports (another DLS node
   * sharing the database, SQL typed by hand). Default 60000 ms; 0 = never.
   */
  resyncMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** Optional provider token for {@link ClientDirectoryOptions}. */
export const CLIENT_DIRECTORY_OPTIONS = Symbol('ClientDirectoryOptions');

/** Client columns whose change alters {@link ClientBootFacts}; an update touching none of them (boot count) is ignored. */
const FACT_COLUMNS = new Set([
  'id',
  'macAddress',
  'hostname',
  'enabled',
  'pending',
  'ipAddress',
  'assignedImageId',
  'bootLoader',
  'secureBoot',
  'groupId',
]);

/** True when an update that set `columns` may change a client's boot facts. */
export function touchesBootFacts(columns: readonly string[]): boolean {
  return columns.length === 0 || columns.some((c) => FACT_COLUMNS.has(c));
}

/** Hostname given to a client the DHCP server registers: `pending-525400123456`. */
export function pendingHostname(mac: string): string {
  return `pending-${mac.replace(/:/g, '')}`;
}

interface FactsRow {
  id: string;
  mac_address: string;
  hostname: string;
  enabled: boolean;
  pending: boolean;
  ip: string | null;
  assigned_image_id: string | null;
  boot_loader: BootLoader | null;
  secure_boot: boolean;
  group_id: string | null;
}

/** One unknown MAC to register, from the range it was seen on. */
interface Registration {
  mac: string;
  rangeId: string;
  groupId: string | null;
}

const FACTS_SELECT = `SELECT id, mac_address, hostname, enabled, pending, host(ip_address) AS ip, assigned_image_id, boot_loader, secure_boot, group_id FROM clients`;

/**
 * MAC → client boot facts for the DHCP server (and the boot policy): a complete in-memory index of every client,
 * loaded at start and kept current by client change events, so a boot storm costs no query per packet — neither for
 * known clients nor for unknown MACs, nor for the reservation check of an address.
 *
 * Currency: {@link ClientChangeSubscriber} reports every client write made through TypeORM in this process. The
 * changed MAC is marked dirty at once — until its row is re-read after the write committed, a lookup of that MAC
 * asks the database (the old per-MAC query) — and a change that names no MAC (a bulk update) marks the whole index
 * dirty until a full reload finished. Updates that touch no boot fact (boot count, last boot) are ignored. Writes no
 * event reports (another DLS node on the same database, hand-typed SQL) are picked up by a full re-read every
 * `resyncMs` (60 s). Until the first load finished (or while it fails), lookups ask the database.
 */
@Injectable()
export class ClientDirectory implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ClientDirectory.name);
  private byMac = new Map<string, ClientBootFacts>();
  private byIp = new Map<string, string>();
  private loaded = false;
  /** A load was started once (a failed one is retried by its timer, not by every lookup). */
  private attempted = false;
  private loading: Promise<void> | null = null;
  /** A reload asked for while one runs: runs once after it, however many asked. */
  private again: Promise<void> | null = null;
  /** Bumped by every invalidation; a reload or refresh that started before a newer one does not clear its marks. */
  private generation = 0;
  private allDirtyGen: number | null = null;
  private readonly dirty = new Map<string, number>();
  /**
   * MAC → generation of the last single-row re-read put into the index, kept until a full reload that started after
   * that generation finished: a reload whose read began before the change must not put its older row back.
   */
  private readonly refreshedAt = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<ClientBootFacts | null>>();
  private readonly resyncMs: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;
  private retry: NodeJS.Timeout | null = null;
  private hits = 0;
  private misses = 0;
  private readonly registrations = new GroupCommit<Registration, { row: FactsRow; created: boolean }>({
    flush: (items) => this.insertPending(items),
    windowMs: 2,
    maxBatch: 500,
  });

  constructor(
    @InjectRepository(Client) private readonly clients: Repository<Client>,
    @Optional() @Inject(CLIENT_DIRECTORY_OPTIONS) options: ClientDirectoryOptions | null = null,
    @Optional() @Inject(AuditService) private readonly audit: AuditService | null = null,
    // Explicit token: a `T | null` parameter type is emitted as Object in decorator metadata.
    @Optional() @Inject(ClientGroupDirectory) private readonly groups: ClientGroupDirectory | null = null,
  ) {
    options ??= {};
    this.resyncMs = options.resyncMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.reload().catch(() => undefined);
    if (this.resyncMs > 0) {
      this.timer = setInterval(() => void this.reload().catch(() => undefined), this.resyncMs);
      this.timer.unref();
    }
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.retry) clearTimeout(this.retry);
    this.timer = this.retry = null;
  }

  /** The client with this MAC (any notation), or null. From memory; never throws for a bad MAC (returns null). */
  async lookup(mac: string): Promise<ClientBootFacts | null> {
    const key = normalizeMac(mac);
    if (key === null) return null;
    if (!this.loaded && !this.loading && !this.attempted) this.startLoad();
    if (!this.loaded && this.loading) await this.loading.catch(() => undefined);
    if (this.loaded && this.allDirtyGen === null && !this.dirty.has(key)) {
      this.hits++;
      return this.byMac.get(key) ?? null;
    }
    return this.fetch(key);
  }

  /** The MAC of the client that reserves `ip` (clients.ip_address), or null. From memory once loaded. */
  reservationOwner(ip: string): string | null {
    return this.byIp.get(ip) ?? null;
  }

  /**
   * Registers an unknown MAC seen by DHCP on range `rangeId` (policy `register`): a disabled, pending client named
   * `pending-<mac hex>`, for an admin to adopt. Idempotent and safe under concurrency: when the MAC already exists
   * (or another request registers it at the same moment, unique_violation 23505) the existing client is returned.
   */
  async register(mac: string, rangeId: string): Promise<ClientBootFacts> {
    const key = normalizeMac(mac);
    if (key === null) throw new RangeError(`not a MAC address: ${JSON.stringify(mac)}`);
    const known = await this.lookup(key);
    if (known) return known;
    const group = (await this.groups?.defaultForRange(rangeId)) ?? null;
    const { row, created } = await this.registrations.submit({ mac: key, rangeId, groupId: group?.id ?? null });
    const facts = this.remember(this.rowFacts(row, this.groups ? await this.groups.all() : null));
    if (created) this.logger.log(`registered unknown client ${key} as pending (range ${rangeId})`);
    return facts;
  }

  /**
   * One statement for a batch of registrations (group commit: a storm of new MACs costs one round trip per few
   * milliseconds, not one transaction each). A MAC that exists already — another node or an admin created it, or a
   * retransmission of the same DISCOVER is in the batch — is not inserted again: its row is returned.
   */
  private async insertPending(items: readonly Registration[]): Promise<{ row: FactsRow; created: boolean }[]> {
    // Asynchronous commit: a pending client is no promise to anyone (a lost one is registered again at the MAC's
    // next DISCOVER), so the OFFER need not wait for a disk flush. What is promised — the lease an ACK names — is
    // committed synchronously later, and its WAL flush covers this earlier record too (WAL is flushed in order).
    const inserted = await this.clients.manager.transaction(async (em) => {
      await em.query('SET LOCAL synchronous_commit = off');
      return em.query<FactsRow[]>(
        `INSERT INTO clients (mac_address, hostname, enabled, pending, group_id)
       SELECT t.mac, t.hostname, false, true, t.group_id FROM unnest($1::varchar[], $2::varchar[], $3::uuid[]) AS t(mac, hostname, group_id)
       ON CONFLICT (mac_address) DO NOTHING
       RETURNING id, mac_address, hostname, enabled, pending, host(ip_address) AS ip, assigned_image_id, boot_loader, group_id`,
        [items.map((i) => i.mac), items.map((i) => pendingHostname(i.mac)), items.map((i) => i.groupId)],
      );
    });
    const byMac = new Map(inserted.map((r) => [r.mac_address, r]));
    const missing = items.filter((i) => !byMac.has(i.mac)).map((i) => i.mac);
    const existing = missing.length ? await this.clients.query<FactsRow[]>(`${FACTS_SELECT} WHERE mac_address = ANY($1::varchar[])`, [missing]) : [];
    const other = new Map(existing.map((r) => [r.mac_address, r]));
    const told = new Set<string>();
    const results = items.map((i) => {
      const mine = byMac.get(i.mac);
      if (mine) {
        const created = !told.has(i.mac);
        told.add(i.mac);
        return { row: mine, created };
      }
      const row = other.get(i.mac);
      if (!row) throw new Error(`client ${i.mac} was neither inserted nor found`);
      return { row, created: false };
    });
    // The batch's audit entries in one statement too, off the OFFER's path (never throws).
    const audited = items.flatMap((i, n) =>
      results[n].created
        ? [
            {
              action: 'dhcp.client-registered',
              entityType: 'clients',
              entityId: results[n].row.id,
              details: { mac: i.mac, rangeId: i.rangeId, groupId: i.groupId },
            },
          ]
        : [],
    );
    if (audited.length) void this.audit?.recordMany(audited);
    return results;
  }

  /**
   * A client changed: `mac` (its old and new MAC on a MAC change), or — without one — possibly any client. Lookups of
   * what changed ask the database until the row (or the whole index) was re-read.
   */
  invalidate(mac?: string): void {
    const gen = ++this.generation;
    if (mac === undefined) {
      this.allDirtyGen = gen;
      void this.reload().catch(() => undefined);
      return;
    }
    const key = normalizeMac(mac);
    if (key === null) return;
    this.dirty.set(key, gen);
    void this.refresh(key, gen);
  }

  /** Index counters for logs and tests: clients held, lookups answered from memory (hits) and from the database. */
  cacheStats(): { size: number; hits: number; misses: number; loaded: boolean } {
    return { size: this.byMac.size, hits: this.hits, misses: this.misses, loaded: this.loaded };
  }

  /** Re-reads every client. Concurrent calls share one read; a call during a read runs another one after it. */
  reload(): Promise<void> {
    if (!this.loading) {
      this.startLoad();
      return this.loading!;
    }
    this.again ??= this.loading
      .catch(() => undefined)
      .then(() => {
        this.again = null;
        return this.reload();
      });
    return this.again;
  }

  private startLoad(): void {
    this.attempted = true;
    const gen = this.generation;
    const started = this.now();
    const run = (async () => {
      const rows = await this.clients.query<FactsRow[]>(FACTS_SELECT);
      const groups = this.groups ? await this.groups.all() : null;
      const byMac = new Map<string, ClientBootFacts>();
      const byIp = new Map<string, string>();
      for (const r of rows) {
        const f = this.rowFacts(r, groups);
        byMac.set(f.mac, f);
        if (f.ipAddress) byIp.set(f.ipAddress, f.mac);
      }
      // Rows changed since this read started stay dirty (their own refresh, or the next reload, settles them), and
      // rows a refresh re-read after this read started keep that newer reading.
      const keepCurrent = (mac: string) => {
        const current = this.byMac.get(mac);
        if (current) byMac.set(mac, current);
        else byMac.delete(mac);
      };
      for (const [mac, g] of this.dirty) {
        if (g > gen) keepCurrent(mac);
        else this.dirty.delete(mac);
      }
      for (const [mac, g] of this.refreshedAt) {
        if (g > gen) keepCurrent(mac);
        else this.refreshedAt.delete(mac);
      }
      this.byMac = byMac;
      this.byIp = new Map();
      for (const f of byMac.values()) if (f.ipAddress) this.byIp.set(f.ipAddress, f.mac);
      if (this.allDirtyGen !== null && this.allDirtyGen <= gen) this.allDirtyGen = null;
      if (!this.loaded) this.logger.log(`client index loaded: ${byMac.size} clients in ${this.now() - started} ms`);
      this.loaded = true;
    })();
    this.loading = run;
    void run
      .catch((err: unknown) => {
        this.logger.warn(`client index load failed (lookups ask the database meanwhile): ${(err as Error).message}`);
        if (!this.retry && !this.loaded) {
          this.retry = setTimeout(() => {
            this.retry = null;
            void this.reload().catch(() => undefined);
          }, 5000);
          this.retry.unref();
        }
      })
      .finally(() => {
        if (this.loading === run) this.loading = null;
      });
  }

  /**
   * Re-reads one MAC after a change; puts the row and clears the dirty mark only when no newer change of that MAC was
   * reported meanwhile. Two re-reads of one MAC run on different connections and may finish in either order: one
   * started inside the writing transaction (before the commit, so it may see no row) must not overwrite the one
   * started after the commit, whichever finishes last.
   */
  private async refresh(key: string, gen: number): Promise<void> {
    try {
      const facts = await this.query(key);
      if (this.dirty.get(key) !== gen) return; // a newer change's re-read settles it (or already did)
      this.dirty.delete(key);
      this.refreshedAt.set(key, gen);
      this.put(key, facts);
    } catch (err) {
      this.logger.warn(`re-reading client ${key} failed (its lookups ask the database): ${(err as Error).message}`);
    }
  }

  /** One MAC from the database (dirty or not yet loaded); concurrent lookups of one MAC share one query. */
  private fetch(key: string): Promise<ClientBootFacts | null> {
    const running = this.inflight.get(key);
    if (running) return running;
    this.misses++;
    const q = this.query(key).finally(() => this.inflight.delete(key));
    this.inflight.set(key, q);
    return q;
  }

  private async query(key: string): Promise<ClientBootFacts | null> {
    const c = await this.clients.findOne({ where: { macAddress: key } });
    if (!c) return null;
    const row: FactsRow = {
      id: c.id,
      mac_address: c.macAddress,
      hostname: c.hostname,
      enabled: c.enabled,
      pending: c.pending,
      ip: c.ipAddress ?? null,
      assigned_image_id: c.assignedImageId ?? null,
      boot_loader: c.bootLoader ?? null,
      secure_boot: c.secureBoot ?? false,
      group_id: c.groupId ?? null,
    };
    return this.rowFacts(row, this.groups ? await this.groups.all() : null);
  }

  private rowFacts(r: FactsRow, groups: ReadonlyMap<string, { imageId: string | null; bootLoader: BootLoader | null }> | null): ClientBootFacts {
    const group = r.group_id ? (groups?.get(r.group_id) ?? null) : null;
    const eff = effectiveSettings(
      { assignedImageId: r.assigned_image_id, bootLoader: r.boot_loader, pinnedSnapshotId: null, diskPolicy: null, customBootParams: null },
      group && { imageId: group.imageId, bootLoader: group.bootLoader, pinnedSnapshotId: null, diskPolicy: null, bootParams: null },
    );
    return {
      id: r.id,
      mac: r.mac_address,
      hostname: r.hostname,
      enabled: r.enabled,
      pending: r.pending,
      ipAddress: r.ip ? r.ip.replace(/\/32$/, '') : null,
      assignedImageId: eff.imageId.value,
      bootLoader: eff.bootLoader.value,
      secureBoot: r.secure_boot === true,
    };
  }

  /** Puts what this process just wrote (a registration) into the index. */
  private remember(facts: ClientBootFacts): ClientBootFacts {
    this.put(facts.mac, facts);
    return facts;
  }

  private put(key: string, facts: ClientBootFacts | null): void {
    const old = this.byMac.get(key);
    if (old?.ipAddress && this.byIp.get(old.ipAddress) === key) this.byIp.delete(old.ipAddress);
    if (facts) {
      this.byMac.set(key, facts);
      if (facts.ipAddress) this.byIp.set(facts.ipAddress, key);
    } else this.byMac.delete(key);
  }
}
