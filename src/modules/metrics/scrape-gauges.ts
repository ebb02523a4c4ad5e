import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
import { ReadinessRegistry } from '../health';
import { IscsiExportsService } from '../iscsi';
import { STORAGE_DRIVER, StorageDriver } from '../storage';
import type { SpaceUsage } from '../storage/storage-driver';
import { DlsMetrics } from './dls-metrics';

/** How long one snapshot of the database, storage and tgt answers serves scrapes. */
export const SCRAPE_CACHE_MS = 5000;
/**
 * How long one reading of per-version and per-client-disk space serves scrapes: it walks every disk (a recursive
 * `zfs get`, or a stat per file), and disk sizes move slowly next to leases and sessions.
 */
export const SPACE_USAGE_CACHE_MS = 60_000;

interface RangeRow {
  id: string;
  name: string;
  mode: string;
  pool: string | null;
  bound: string;
  offered: string;
}

interface Snapshot {
  ranges: RangeRow[];
  counts: Map<string, number>;
  storage: { freeBytes: number; usedBytes: number; totalBytes: number; healthy: boolean } | null;
  iscsiConnections: number | null;
  components: Record<string, boolean>;
}

/**
 * Gauges computed when Prometheus scrapes: leases and pool size per range, open boot sessions by status, clients,
 * iSCSI exports and live connections, storage space, readiness of each part (tgtd, dhcp, tftp, storage…) and the
 * database pool. The database answers two queries per snapshot (one per range, one of counts — both index-backed);
 * storage, tgt and the readiness checks one call each. A snapshot is kept {@link SCRAPE_CACHE_MS} and shared by
 * concurrent scrapes, so a scrape storm costs no more than one scrape.
 */
@Injectable()
export class ScrapeGauges {
  private readonly logger = new Logger(ScrapeGauges.name);
  private cached: { atMs: number; snapshot: Promise<Snapshot> } | null = null;
  private cachedUsage: { atMs: number; usage: Promise<SpaceUsage | null> } | null = null;

  constructor(
    metrics: DlsMetrics,
    @InjectDataSource() private readonly ds: DataSource,
    @Optional() @Inject(STORAGE_DRIVER) private readonly storage?: StorageDriver,
    @Optional() private readonly iscsi?: IscsiExportsService,
    @Optional() private readonly readiness?: ReadinessRegistry,
  ) {
    const r = [metrics.registry];
    const offersHeld = (): Map<string, number> => metrics.dhcpOffersHeld();
    const self = { snapshot: () => this.snapshot(), pool: () => this.pool(), usage: () => this.spaceUsage() };
    new Gauge({
      name: 'dls_dhcp_leases',
      help: 'Unexpired DHCP leases per network range, by state (bound, offered)',
      labelNames: ['range', 'state'] as const,
      registers: r,
      async collect() {
        this.reset();
        // Offers live in the DHCP server's memory (never written); rows in state offered are from older versions.
        const held = offersHeld();
        for (const row of (await self.snapshot()).ranges) {
          this.set({ range: row.name, state: 'bound' }, Number(row.bound));
          this.set({ range: row.name, state: 'offered' }, Number(row.offered) + (held.get(row.id) ?? 0));
        }
      },
    });
    new Gauge({
      name: 'dls_dhcp_pool_size',
      help: 'Addresses DLS may hand out per network range (full DHCP mode; 0 for proxy ranges)',
      labelNames: ['range', 'mode'] as const,
      registers: r,
      async collect() {
        this.reset();
        for (const row of (await self.snapshot()).ranges) this.set({ range: row.name, mode: row.mode }, Number(row.pool ?? 0));
      },
    });
    new Gauge({
      name: 'dls_boot_sessions',
      help: 'Open boot sessions by status',
      labelNames: ['status'] as const,
      registers: r,
      async collect() {
        const counts = (await self.snapshot()).counts;
        for (const status of ['starting', 'booting', 'running']) this.set({ status }, counts.get(`session:${status}`) ?? 0);
      },
    });
    new Gauge({
      name: 'dls_clients',
      help: 'Registered clients',
      registers: r,
      async collect() {
        this.set((await self.snapshot()).counts.get('clients') ?? 0);
      },
    });
    new Gauge({
      name: 'dls_iscsi_exports',
      help: 'Client disks exported over iSCSI (rows of iscsi_exports)',
      registers: r,
      async collect() {
        this.set((await self.snapshot()).counts.get('exports') ?? 0);
      },
    });
    new Gauge({
      name: 'dls_iscsi_connections',
      help: 'Clients with a live iSCSI login, as tgt shows them (absent when iSCSI is off or tgtd cannot be asked)',
      registers: r,
      async collect() {
        this.reset();
        const n = (await self.snapshot()).iscsiConnections;
        if (n !== null) this.set(n);
      },
    });
    new Gauge({
      name: 'dls_storage_bytes',
      help: 'Storage backend space by kind (free, used, total)',
      labelNames: ['kind'] as const,
      registers: r,
      async collect() {
        this.reset();
        const s = (await self.snapshot()).storage;
        if (!s) return;
        this.set({ kind: 'free' }, s.freeBytes);
        this.set({ kind: 'used' }, s.usedBytes);
        this.set({ kind: 'total' }, s.totalBytes);
      },
    });
    new Gauge({
      name: 'dls_storage_version_bytes',
      help: `Bytes each image version holds (zfs: the snapshot's used; dir: the file's allocated blocks), read every ${SPACE_USAGE_CACHE_MS / 1000} s`,
      labelNames: ['image_id', 'version_id'] as const,
      registers: r,
      async collect() {
        this.reset();
        for (const v of (await self.usage())?.versions ?? []) this.set({ image_id: v.imageId, version_id: v.versionId }, v.bytes);
      },
    });
    new Gauge({
      name: 'dls_storage_client_disk_bytes',
      help: `Bytes each client disk holds (zfs: what the client wrote to its clone; dir: the file's allocated blocks), read every ${SPACE_USAGE_CACHE_MS / 1000} s`,
      labelNames: ['client_id'] as const,
      registers: r,
      async collect() {
        this.reset();
        for (const c of (await self.usage())?.clientDisks ?? []) this.set({ client_id: c.clientId }, c.bytes);
      },
    });
    new Gauge({
      name: 'dls_component_up',
      help: 'Readiness of each part /health/ready reports (1 up, 0 down): tgtd, dhcp, tftp, storage, router-advertisements…',
      labelNames: ['component'] as const,
      registers: r,
      async collect() {
        this.reset();
        for (const [component, up] of Object.entries((await self.snapshot()).components)) this.set({ component }, up ? 1 : 0);
      },
    });
    new Gauge({
      name: 'dls_db_pool_connections',
      help: 'Database pool connections by state (total, idle, waiting clients, max)',
      labelNames: ['state'] as const,
      registers: r,
      collect() {
        const pool = self.pool();
        if (!pool) return;
        this.set({ state: 'total' }, pool.totalCount);
        this.set({ state: 'idle' }, pool.idleCount);
        this.set({ state: 'waiting' }, pool.waitingCount);
        if (typeof pool.options?.max === 'number') this.set({ state: 'max' }, pool.options.max);
      },
    });
  }

  /** The current snapshot (cached {@link SCRAPE_CACHE_MS}; one refresh at a time). */
  snapshot(nowMs = Date.now()): Promise<Snapshot> {
    if (!this.cached || nowMs - this.cached.atMs >= SCRAPE_CACHE_MS) {
      const snapshot = this.read();
      this.cached = { atMs: nowMs, snapshot };
      // A failed read is not kept: the next scrape tries again.
      snapshot.catch(() => {
        if (this.cached?.snapshot === snapshot) this.cached = null;
      });
    }
    return this.cached.snapshot;
  }

  private async read(): Promise<Snapshot> {
    const [ranges, counts, storage, iscsiConnections, components] = await Promise.all([
      this.ds.query<RangeRow[]>(
        `SELECT r.id, r.name, r.dhcp_mode AS mode,
                CASE WHEN r.dhcp_mode <> 'full' THEN 0
                     WHEN r.pool_start IS NOT NULL AND r.pool_end IS NOT NULL THEN GREATEST(0, r.pool_end - r.pool_start + 1)
                     ELSE GREATEST(0, 2 ^ (32 - masklen(r.cidr)) - 2) END AS pool,
                count(l.id) FILTER (WHERE l.state = 'bound' AND l.expires_at > now()) AS bound,
                count(l.id) FILTER (WHERE l.state = 'offered' AND l.expires_at > now()) AS offered
           FROM network_ranges r LEFT JOIN dhcp_leases l ON l.range_id = r.id
          WHERE r.enabled
          GROUP BY r.id`,
      ),
      this.ds.query<{ k: string; n: number }[]>(
        `SELECT 'session:' || status AS k, count(*)::int AS n FROM boot_sessions WHERE status IN ('starting', 'booting', 'running') GROUP BY status
         UNION ALL SELECT 'exports', count(*)::int FROM iscsi_exports
         UNION ALL SELECT 'clients', count(*)::int FROM clients`,
      ),
      this.storage?.status().catch((err: unknown) => this.failed('storage status', err)) ?? null,
      this.iscsi
        ?.activeSessions()
        .then((m) => m.size)
        .catch((err: unknown) => this.failed('iSCSI sessions', err)) ?? null,
      this.readiness?.states() ?? {},
    ]);
    return { ranges, counts: new Map(counts.map((c) => [c.k, Number(c.n)])), storage: storage ?? null, iscsiConnections, components };
  }

  /** Per-version and per-client-disk space (cached {@link SPACE_USAGE_CACHE_MS}; null while storage can't answer). */
  spaceUsage(nowMs = Date.now()): Promise<SpaceUsage | null> {
    if (!this.cachedUsage || nowMs - this.cachedUsage.atMs >= SPACE_USAGE_CACHE_MS) {
      const usage = this.storage
        ? Promise.resolve()
            .then(() => this.storage!.spaceUsage())
            .catch((err: unknown) => this.failed('storage space usage', err))
        : Promise.resolve(null);
      this.cachedUsage = { atMs: nowMs, usage };
      // An unanswered reading is not kept: the next scrape asks again.
      void usage.then((u) => {
        if (u === null && this.cachedUsage?.usage === usage) this.cachedUsage = null;
      });
    }
    return this.cachedUsage.usage;
  }

  private failed(what: string, err: unknown): null {
    this.logger.debug(`metrics: ${what} unavailable: ${err instanceof Error ? err.message : String(err)}`);
    return null;
  }

  private pool(): { totalCount: number; idleCount: number; waitingCount: number; options?: { max?: number } } | null {
    const master = (this.ds.driver as unknown as { master?: { totalCount?: number } }).master;
    return typeof master?.totalCount === 'number' ? (master as ReturnType<ScrapeGauges['pool']>) : null;
  }
}
