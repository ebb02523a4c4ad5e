import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { normalizeMac } from '@common/mac';
import { AuditService } from '../../audit';
import { BootLoader, Client } from '../clients/client.entity';
import { isUniqueViolation } from '@common/errors/pg-errors';
import { ClientGroupDirectory } from '../groups/client-group-directory';

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
}

/** Cache tuning; the defaults suit a boot storm of a few hundred PCs. */
export interface ClientDirectoryOptions {
  /** How long a lookup result (found or not found) is trusted. Default 5000 ms. */
  ttlMs?: number;
  /** Most MACs kept; the oldest entry is evicted first. Default 4096. */
  maxEntries?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** Optional provider token for {@link ClientDirectoryOptions}. */
export const CLIENT_DIRECTORY_OPTIONS = Symbol('ClientDirectoryOptions');

interface CacheEntry {
  facts: ClientBootFacts | null;
  expiresAt: number;
}

/** Hostname given to a client the DHCP server registers: `pending-525400123456`. */
export function pendingHostname(mac: string): string {
  return `pending-${mac.replace(/:/g, '')}`;
}

/** Boot facts from a client whose inheritable fields already hold their effective values. */
function toFacts(c: Client): ClientBootFacts {
  return {
    id: c.id,
    mac: c.macAddress,
    hostname: c.hostname,
    enabled: c.enabled,
    pending: c.pending,
    ipAddress: c.ipAddress ? c.ipAddress.replace(/\/32$/, '') : null,
    assignedImageId: c.assignedImageId,
    bootLoader: c.bootLoader,
  };
}

/**
 * MAC → client boot facts for the DHCP server, with an explicit cache so that a boot storm (every PC retrying
 * DISCOVER each second) costs one query per MAC per TTL rather than one per packet. Both hits and misses are cached
 * for a short TTL (5 s): an admin who enables a client sees the effect within one DHCP retry cycle; call
 * {@link invalidate} to make it immediate. Concurrent lookups of one MAC share one query.
 */
@Injectable()
export class ClientDirectory {
  private readonly logger = new Logger(ClientDirectory.name);
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<ClientBootFacts | null>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private hits = 0;
  private misses = 0;

  constructor(
    @InjectRepository(Client) private readonly clients: Repository<Client>,
    @Optional() @Inject(CLIENT_DIRECTORY_OPTIONS) options: ClientDirectoryOptions | null = null,
    @Optional() @Inject(AuditService) private readonly audit: AuditService | null = null,
    // Explicit token: a `T | null` parameter type is emitted as Object in decorator metadata.
    @Optional() @Inject(ClientGroupDirectory) private readonly groups: ClientGroupDirectory | null = null,
  ) {
    options ??= {};
    this.ttlMs = options.ttlMs ?? 5000;
    this.maxEntries = options.maxEntries ?? 4096;
    this.now = options.now ?? Date.now;
  }

  /** The client with this MAC (any notation), or null. Cached; never throws for a bad MAC (returns null). */
  async lookup(mac: string): Promise<ClientBootFacts | null> {
    const key = normalizeMac(mac);
    if (key === null) return null;
    const cached = this.cache.get(key);
    if (cached && cached.expiresAt > this.now()) {
      this.hits++;
      return cached.facts;
    }
    const running = this.inflight.get(key);
    if (running) return running;
    this.misses++;
    const query = this.clients
      .findOne({ where: { macAddress: key } })
      .then(async (row) => {
        const facts = row ? toFacts(await this.effective(row)) : null;
        this.remember(key, facts);
        return facts;
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, query);
    return query;
  }

  /**
   * Registers an unknown MAC seen by DHCP on range `rangeId` (policy `register`): a disabled, pending client named
   * `pending-<mac hex>`, for an admin to adopt. Idempotent and safe under concurrency: when the MAC already exists
   * (or another request registers it at the same moment, unique_violation 23505) the existing client is returned.
   */
  async register(mac: string, rangeId: string): Promise<ClientBootFacts> {
    const key = normalizeMac(mac);
    if (key === null) throw new RangeError(`not a MAC address: ${JSON.stringify(mac)}`);
    const existing = await this.clients.findOne({ where: { macAddress: key } });
    if (existing) return this.remember(key, toFacts(await this.effective(existing)))!;
    const group = (await this.groups?.defaultForRange(rangeId)) ?? null;
    try {
      const created = await this.clients.save(
        this.clients.create({
          macAddress: key,
          hostname: pendingHostname(key),
          enabled: false,
          pending: true,
          groupId: group?.id ?? null,
        }),
      );
      this.logger.log(`registered unknown client ${key} as pending (range ${rangeId})`);
      void this.audit?.record({
        action: 'dhcp.client-registered',
        entityType: 'clients',
        entityId: created.id,
        details: { mac: key, rangeId, groupId: group?.id ?? null },
      });
      return this.remember(key, toFacts(await this.effective(created)))!;
    } catch (err) {
      if (!isUniqueViolation(err)) {
        throw err;
      }
      // Someone else registered (or created) it between our read and our insert: theirs wins.
      const row = await this.clients.findOne({ where: { macAddress: key } });
      if (!row) throw err;
      return this.remember(key, toFacts(await this.effective(row)))!;
    }
  }

  /** The client with its group's settings applied (groups are cached in memory: no query after the first). */
  private async effective(c: Client): Promise<Client> {
    return this.groups ? this.groups.resolve(c) : c;
  }

  /** Forgets one MAC (or everything), e.g. after the client was edited through the API. */
  invalidate(mac?: string): void {
    if (mac === undefined) {
      this.cache.clear();
      return;
    }
    const key = normalizeMac(mac);
    if (key !== null) this.cache.delete(key);
  }

  /** Cache counters for logs and tests. */
  cacheStats(): { size: number; hits: number; misses: number } {
    return { size: this.cache.size, hits: this.hits, misses: this.misses };
  }

  private remember(key: string, facts: ClientBootFacts | null): ClientBootFacts | null {
    this.cache.delete(key); // re-insert so Map order is age order
    this.cache.set(key, { facts, expiresAt: this.now() + this.ttlMs });
    while (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next().value as string;
      this.cache.delete(oldest);
    }
    return facts;
  }
}
