/**
 * Group inheritance as pure rules: a client takes each boot setting from itself when it sets one, else from its group,
 * else the built-in default. Pure: no Nest, no database; the boot policy, the disk service and `GET /clients/:id` all
 * resolve a client through {@link effectiveSettings}, so the answer is decided in one place.
 */
import type { DiskPolicy } from '../images/image.entity';
import type { BootLoader } from '../clients/client.entity';

/** Where an effective value comes from. */
export type SettingSource = 'client' | 'group' | 'default';
export const SETTING_SOURCES: readonly SettingSource[] = ['client', 'group', 'default'];

export interface Effective<T> {
  value: T;
  source: SettingSource;
}

/** The inheritable settings as a client stores them (null = not set: inherit). */
export interface ClientSettings {
  assignedImageId: string | null;
  pinnedSnapshotId: string | null;
  diskPolicy: DiskPolicy | null;
  bootLoader: BootLoader | null;
  customBootParams: string | null;
}

/** The same settings as a group stores them. */
export interface GroupSettings {
  imageId: string | null;
  pinnedSnapshotId: string | null;
  diskPolicy: DiskPolicy | null;
  bootLoader: BootLoader | null;
  bootParams: string | null;
}

/**
 * What a client boots with, field by field. `diskPolicy` null means "the image's default disk policy"; `bootLoader`
 * null means "chosen from the client's architecture". (`bootMode` is not inherited: the schema contract keeps
 * `clients.boot_mode` NOT NULL DEFAULT 'pxe', so every client has its own.)
 */
export interface EffectiveSettings {
  imageId: Effective<string | null>;
  pinnedSnapshotId: Effective<string | null>;
  diskPolicy: Effective<DiskPolicy | null>;
  bootLoader: Effective<BootLoader | null>;
  customBootParams: Effective<string | null>;
}

function pick<T>(own: T | null, inherited: T | null | undefined, fallback: T): Effective<T> {
  if (own !== null) return { value: own, source: 'client' };
  if (inherited !== null && inherited !== undefined) return { value: inherited, source: 'group' };
  return { value: fallback, source: 'default' };
}

/**
 * Resolves a client against its group (null: no group). A group's pinned version applies only while the client
 * boots the group's image: a client that sets its own, different image does not inherit a pin of another image.
 */
export function effectiveSettings(client: ClientSettings, group: GroupSettings | null): EffectiveSettings {
  const imageId = pick<string | null>(client.assignedImageId, group?.imageId, null);
  let pinnedSnapshotId: Effective<string | null>;
  if (client.pinnedSnapshotId !== null) pinnedSnapshotId = { value: client.pinnedSnapshotId, source: 'client' };
  else if (group?.pinnedSnapshotId && group.imageId !== null && imageId.value === group.imageId) {
    pinnedSnapshotId = { value: group.pinnedSnapshotId, source: 'group' };
  } else pinnedSnapshotId = { value: null, source: 'default' };
  return {
    imageId,
    pinnedSnapshotId,
    diskPolicy: pick<DiskPolicy | null>(client.diskPolicy, group?.diskPolicy, null),
    bootLoader: pick<BootLoader | null>(client.bootLoader, group?.bootLoader, null),
    customBootParams: pick<string | null>(client.customBootParams, group?.bootParams, null),
  };
}

/** The client's stored fields replaced by their effective values (what the boot rules read). */
export function applyEffective<C extends ClientSettings>(client: C, eff: EffectiveSettings): C {
  return Object.assign(Object.create(Object.getPrototypeOf(client) as object) as C, client, {
    assignedImageId: eff.imageId.value,
    pinnedSnapshotId: eff.pinnedSnapshotId.value,
    diskPolicy: eff.diskPolicy.value,
    bootLoader: eff.bootLoader.value,
    customBootParams: eff.customBootParams.value,
  });
}
