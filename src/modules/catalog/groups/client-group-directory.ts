import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { ClientGroup } from './client-group.entity';
import { applyEffective, ClientSettings, EffectiveSettings, effectiveSettings } from './effective-settings';

/** A client together with its effective settings (and, applied, the values the boot rules read). */
export type Resolved<C> = C & { effective: EffectiveSettings };

/**
 * Every client group, held in memory: groups are few (rooms, labs) and read on every boot decision, so the boot
 * policy resolves a client's inherited settings with no database round trip. Loaded on first use and dropped
 * whole by {@link ClientGroupChangeSubscriber} on any change to `client_groups`; a load that raced a change is not
 * kept.
 */
@Injectable()
export class ClientGroupDirectory {
  private groups: Map<string, ClientGroup> | null = null;
  private loading: Promise<Map<string, ClientGroup>> | null = null;
  private generation = 0;

  constructor(@InjectRepository(ClientGroup) private readonly repo: Repository<ClientGroup>) {}

  /** All groups by id. */
  async all(): Promise<ReadonlyMap<string, ClientGroup>> {
    if (this.groups) return this.groups;
    if (this.loading) return this.loading;
    const gen = this.generation;
    const p = this.repo
      .find()
      .then((rows) => {
        const m = new Map(rows.map((g) => [g.id, g]));
        if (gen === this.generation) this.groups = m;
        return m;
      })
      .finally(() => {
        if (this.loading === p) this.loading = null;
      });
    this.loading = p;
    return p;
  }

  async get(id: string | null | undefined): Promise<ClientGroup | null> {
    if (!id) return null;
    return (await this.all()).get(id) ?? null;
  }

  /** The group DHCP puts unknown MACs registered on this range into, or null. */
  async defaultForRange(rangeId: string): Promise<ClientGroup | null> {
    for (const g of (await this.all()).values()) if (g.defaultForRangeId === rangeId) return g;
    return null;
  }

  /** The client's effective settings (see `effective-settings.ts`). */
  async effectiveOf(client: ClientSettings & { groupId: string | null }): Promise<EffectiveSettings> {
    return effectiveSettings(client, await this.get(client.groupId));
  }

  /** A copy of the client whose inheritable fields hold their effective values, with `effective` attached. */
  async resolve<C extends ClientSettings & { groupId: string | null }>(client: C): Promise<Resolved<C>> {
    const effective = await this.effectiveOf(client);
    return Object.assign(applyEffective(client, effective), { effective });
  }

  /** The client as stored, with its `effective` settings attached (for API responses). */
  async describe<C extends ClientSettings & { groupId: string | null }>(client: C): Promise<Resolved<C>> {
    return Object.assign(client, { effective: await this.effectiveOf(client) });
  }

  invalidate(): void {
    this.generation++;
    this.groups = null;
    this.loading = null;
  }
}
