import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntitySubscriberInterface, InsertEvent, RemoveEvent, UpdateEvent } from 'typeorm';
import { AppConfig } from '@config/config.loader';
import { DomainError } from '@common/errors/domain-error';
import { STORAGE_DRIVER } from '../../storage';
import type { StorageDriver } from '../../storage';
import { touchesBootFacts } from '../boot-policy/client-directory';
import { Client } from '../clients/client.entity';
import { ClientGroup } from '../groups/client-group.entity';
import { ImageSnapshot } from '../versions/image-snapshot.entity';
import { ClientDisk } from './client-disk.entity';
import { ClientDisksService } from './client-disks.service';

/** Tuning and seams; the defaults suit a room (DLS_DISKS_AHEAD turns the whole thing off). */
export interface DisksAheadOptions {
  /** Quiet time after a change before the scan runs (a bulk import is one scan). Default 1000 ms. */
  debounceMs?: number;
  /** Disks made at once. Default 4. */
  concurrency?: number;
}

/** Optional provider token for {@link DisksAheadOptions}. */
export const DISKS_AHEAD_OPTIONS = Symbol('DisksAheadOptions');

/**
 * Enabled clients with something to boot — a pinned version (their own or their group's), or an image (their own or
 * their group's) with a published version — and no disk yet. The boot policy decides the version when the disk is
 * made; a client it still refuses is skipped until it changes.
 */
const CANDIDATES = `
  SELECT c.id FROM clients c LEFT JOIN client_groups g ON g.id = c.group_id
   WHERE c.enabled AND NOT c.pending
     AND NOT EXISTS (SELECT 1 FROM client_disks d WHERE d.client_id = c.id)
     AND (COALESCE(c.pinned_snapshot_id, g.pinned_snapshot_id) IS NOT NULL
          OR EXISTS (SELECT 1 FROM image_snapshots s WHERE s.image_id = COALESCE(c.assigned_image_id, g.image_id) AND s.is_published))
   ORDER BY c.created_at`;

/**
 * Makes client disks ahead of the first boot where a disk costs O(1) (zfs clone, reflink, qcow2 overlay): at start,
 * and shortly after a client is created, enabled or assigned an image (its own or its group's), a version is
 * published, or a disk went (deleted through the API, or with its version): every enabled client with something to
 * boot keeps a disk. A room switched on in the morning then finds every disk made — as the reference stacks do, which copy
 * one disk per MAC beforehand — and a boot only exports it. `reset` clients already get their next disk right after
 * shutdown; this covers the first boot. Full copies (`DLS_DIR_CLONE=copy`, or `auto` without reflink or FUSE) are
 * not made ahead: that would cost the version's size per client before anyone boots.
 *
 * Making a disk is {@link ClientDisksService.ensure} (per-client lock, idempotent): a boot that arrives meanwhile
 * waits for it and finds the disk ready. A refusal for lack of space (507, the zfs-fuse mount limit) ends the scan
 * with one warning; booting clients then get their disks at boot as before, where they are refused the same way.
 */
@Injectable()
export class DisksAhead implements OnApplicationBootstrap, OnModuleDestroy, EntitySubscriberInterface {
  private readonly logger = new Logger('DisksAhead');
  private readonly debounceMs: number;
  private readonly concurrency: number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  /** A change arrived during a scan: scan again after it. */
  private again = false;
  private stopped = true;
  /** Clients the last scans could not make a disk for (no published version…): skipped until they change. */
  private readonly refused = new Set<string>();
  private lastRefusal = '';
  private made = 0;

  constructor(
    private readonly config: AppConfig,
    private readonly disks: ClientDisksService,
    @Inject(STORAGE_DRIVER) private readonly driver: StorageDriver,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Optional() @Inject(DISKS_AHEAD_OPTIONS) options: DisksAheadOptions | null = null,
  ) {
    this.debounceMs = options?.debounceMs ?? 1000;
    this.concurrency = options?.concurrency ?? 4;
    if (config.storage.disksAhead) dataSource.subscribers.push(this);
  }

  onApplicationBootstrap(): void {
    if (!this.config.storage.disksAhead) return;
    this.stopped = false;
    this.schedule();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** Disks made ahead since start (for tests and logs). */
  get madeCount(): number {
    return this.made;
  }

  /**
   * Runs a scheduled scan now instead of after its quiet time, and resolves once none is scheduled or running
   * (tests, which must know what a request made DLS do).
   */
  async flush(): Promise<void> {
    for (;;) {
      if (this.running) await this.running.catch(() => undefined);
      else if (this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
        this.start();
      } else return;
    }
  }

  afterInsert(e: InsertEvent<unknown>): void {
    this.changed(e, 'insert');
  }

  afterUpdate(e: UpdateEvent<unknown>): void {
    this.changed(e, 'update');
  }

  afterRemove(e: RemoveEvent<unknown>): void {
    this.changed(e, 'remove');
  }

  private changed(e: InsertEvent<unknown> | UpdateEvent<unknown> | RemoveEvent<unknown>, kind: 'insert' | 'update' | 'remove'): void {
    const target = e.metadata.target;
    if (target === Client) {
      if (kind === 'remove') return;
      if (kind === 'update') {
        const u = e as UpdateEvent<unknown>;
        const columns = u.updatedColumns?.length ? u.updatedColumns.map((c) => c.propertyName) : Object.keys(u.entity ?? {});
        if (!touchesBootFacts(columns)) return; // a boot-count bump
      }
      const id = (e.entity as Partial<Client> | undefined)?.id;
      if (typeof id === 'string') this.refused.delete(id);
      else this.refused.clear();
      this.schedule();
    } else if (target === ClientGroup || target === ImageSnapshot) {
      this.refused.clear();
      this.schedule();
    } else if (target === ClientDisk && kind === 'remove') {
      // A disk that went (DELETE …/disk, its version deleted) is made again, fresh: an enabled client keeps one.
      this.schedule();
    }
  }

  /** Runs a scan after {@link DisksAheadOptions.debounceMs} of quiet (or after the running one). */
  schedule(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.start();
    }, this.debounceMs);
    this.timer.unref();
  }

  private start(): void {
    this.running = this.scan().finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        this.schedule();
      }
    });
  }

  private async scan(): Promise<void> {
    try {
      const { cloneMethod } = await this.driver.status();
      if (cloneMethod === 'copy') return;
      const rows = await this.dataSource.query<{ id: string }[]>(CANDIDATES);
      const queue = rows.map((r) => r.id).filter((id) => !this.refused.has(id));
      if (queue.length === 0) return;
      const started = Date.now();
      let made = 0;
      let full: string | null = null;
      const worker = async (): Promise<void> => {
        for (let id = queue.shift(); id !== undefined && !this.stopped && full === null; id = queue.shift()) {
          try {
            await this.disks.ensure(id);
            made++;
          } catch (err) {
            if (err instanceof DomainError && err.kind === 'insufficient_storage') full = err.message;
            else this.refuse(id, err);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.concurrency, queue.length) }, worker));
      this.made += made;
      if (made > 0) this.logger.log(`made ${made} client disk(s) ahead of their first boot (${cloneMethod}) in ${Date.now() - started} ms`);
      if (full !== null) {
        this.logger.warn(`stopped making client disks ahead: ${full as string}; the others are made at their boot`);
      }
    } catch (err) {
      this.logger.warn(`making client disks ahead failed: ${(err as Error).message}`);
    }
  }

  /** A client whose disk could not be made: skipped until it (or its group, image, versions) changes; logged once. */
  private refuse(clientId: string, err: unknown): void {
    this.refused.add(clientId);
    const why = (err as Error).message;
    if (why === this.lastRefusal) return;
    this.lastRefusal = why;
    this.logger.log(`no disk ahead for client ${clientId} (made at its boot, or refused there too): ${why}`);
  }
}
