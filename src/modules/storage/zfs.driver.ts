import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { removeStagingEntry, sha256File, sparseCopyFile, stagingItems, syncDir } from './file-copy';
import { KeyedLock } from '@common/concurrency/keyed-lock';
import { DiskInfo, IncomingVersion, ManagedItem, OutgoingVersion, SpaceUsage, StorageDriver, StorageStatus, VersionInfo } from './storage-driver';
import { StorageError, StorageErrorCode, isStorageError } from './storage.errors';
import { UUID_RE, assertUuid } from './storage-ids';
import { StorageLogger, ZfsAdapter, ZfsPropertyTable, assertDatasetName, zfsPropNumber, zfsPropValue } from './zfs.adapter';

export interface ZfsStorageDriverOptions {
  /** Root dataset, e.g. `tank/dls`; `<root>/images` and `<root>/clients` live below it. */
  root: string;
  /** Extra properties for image datasets, e.g. `{ compression: 'off' }` (lzjb costs 2.4x CPU on zfs-fuse). */
  imageDatasetProps?: Record<string, string>;
  logger?: StorageLogger;
  /**
   * Refuse new client disks (NO_SPACE, reason `mount-limit`) once this many `fuse.zfs` mounts exist on the host.
   * zfs-fuse serves at most {@link ZFS_FUSE_MAX_MOUNTS} filesystems per daemon; past that it silently unmounts the
   * new one and leaves the dataset stuck "busy" until the daemon restarts. Unset = no check (kernel OpenZFS).
   */
  mountLimit?: number;
  /** Where mounts are counted (default `/proc/self/mounts`). */
  mountsFile?: string;
}

/** zfs-fuse's compiled-in limit (`MAX_FILESYSTEMS` in its fuse_listener.c): mounted filesystems per daemon. */
export const ZFS_FUSE_MAX_MOUNTS = 1000;

/** User properties DLS sets (lower case; values are UUIDs or `1`). Clones do not inherit them, so they are set on each. */
export const DLS_PROPS = {
  managed: 'dls:managed',
  imageId: 'dls:image-id',
  versionId: 'dls:version-id',
  clientId: 'dls:client-id',
} as const;

/** Hold tag protecting a published version snapshot from `zfs destroy`. */
export const VERSION_HOLD_TAG = 'dls-version';

/** `<root>/images/<imageId>-sha256-<hex>`: the short-lived clone {@link ZfsStorageDriver.versionSha256} reads. */
const HASH_CLONE_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-sha256-[0-9a-f]+$/;

const CLIENT_PROPS = ['origin', 'mounted', 'mountpoint', 'usedbydataset', DLS_PROPS.imageId, DLS_PROPS.versionId];

/**
 * A client clone the driver made or inspected, kept so that a boot's {@link ZfsStorageDriver.clientDisk} costs a `stat`
 * instead of a `zfs get` (a process, answered by zfs-fuse one at a time: ~5 s p50 waits in a 1,000-client storm).
 */
interface KnownClone {
  imageId: string;
  versionId: string;
  /** `<mountpoint>/disk.raw`. */
  path: string;
  /** `usedbydataset` as zfs last reported it (0 for a clone this driver just made); see clientDisk. */
  writtenBytes: number;
}

/** At most 10 ids for a message (details carry the full list). */
function listIds(ids: string[]): string {
  return ids.length > 10 ? `${ids.slice(0, 10).join(', ')}, ...` : ids.join(', ');
}

async function fileSize(p: string): Promise<number> {
  try {
    return (await fsp.stat(p)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
}

/**
 * Storage driver on ZFS (zfs-fuse 0.7 here; kernel OpenZFS on real servers) using file-on-dataset disks.
 *
 * Layout: image = dataset `<root>/images/<imageId>` holding `disk.raw` (props `dls:managed=1`, `dls:image-id`);
 * version = snapshot `@v-<versionId>` with a `dls-version` user hold; client disk = clone `<root>/clients/<clientId>`
 * with `dls:managed`, `dls:client-id`, `dls:image-id`, `dls:version-id` set explicitly (clones do not inherit user
 * properties). The disk path is `<mountpoint>/disk.raw`. Creating a disk is O(1) (one `zfs clone` + one `zfs get`).
 * zfs-fuse lacks the `clones` property, so a version's dependents are found through the clients' `origin`.
 * Every clone is a FUSE mount: destroying one unmounts it first, then destroys with busy-retry (the adapter's).
 *
 * Client clones are also kept in memory ({@link KnownClone}: filled when this driver makes, inspects or lists a clone,
 * dropped when it destroys one or finds it gone), so a boot's `clientDisk` / `ensureClientDisk` of a known clone runs
 * no `zfs` process: one `stat` of its `disk.raw` checks it is still there (a clone destroyed or unmounted behind DLS's
 * back fails it, and the driver asks zfs again). init() fills the record in one pass, so a restart does not cost
 * one `zfs get` per client at the next boot storm either.
 */
export class ZfsStorageDriver implements StorageDriver {
  readonly kind = 'zfs' as const;
  private readonly root: string;
  private readonly pool: string;
  private readonly imageProps: Record<string, string>;
  private readonly logger?: StorageLogger;
  private readonly clientLocks = new KeyedLock();
  private readonly imageLocks = new KeyedLock();
  private imagesMount?: string;
  private clientsMount?: string;
  private readonly mountLimit?: number;
  private readonly mountsFile: string;
  private readonly imageMounts = new Map<string, string>();
  private initialized = false;
  /** Client clones this driver knows of, by client id (see {@link KnownClone}). */
  private readonly clones = new Map<string, KnownClone>();
  /**
   * `clones` change counter, and per client the value at its last authoritative change (made under its client lock:
   * ensure, destroy, a locked look-up). A pass that read zfs without the lock (a listing) only applies what it saw to
   * clients left unchanged since it started, so a slow listing never brings back a clone destroyed meanwhile.
   */
  private cloneEpoch = 0;
  private readonly cloneChangedAt = new Map<string, number>();

  constructor(
    private readonly zfs: ZfsAdapter,
    options: ZfsStorageDriverOptions,
  ) {
    assertDatasetName(options.root);
    this.root = options.root;
    this.pool = options.root.split('/')[0];
    this.imageProps = { ...(options.imageDatasetProps ?? {}) };
    this.logger = options.logger;
    this.mountLimit = options.mountLimit;
    this.mountsFile = options.mountsFile ?? '/proc/self/mounts';
  }

  async init(): Promise<void> {
    const health = await this.zfs.poolHealth(this.pool);
    if (health !== 'ONLINE') {
      throw new StorageError(StorageErrorCode.POOL_UNAVAILABLE, `pool ${this.pool} is ${health}`, {
        pool: this.pool,
        health,
      });
    }
    await this.mountOwnDatasets();
    for (const ds of [this.root, this.imagesDataset, this.clientsDataset]) {
      try {
        await this.zfs.create(ds, {}, { parents: true });
      } catch (e) {
        if (!isStorageError(e, StorageErrorCode.ALREADY_EXISTS)) throw e;
      }
    }
    const table = await this.zfs.get([this.imagesDataset, this.clientsDataset], ['mountpoint', 'mounted']);
    for (const ds of [this.imagesDataset, this.clientsDataset]) {
      const mp = zfsPropValue(table, ds, 'mountpoint');
      if (!mp || !path.isAbsolute(mp)) {
        throw new StorageError(StorageErrorCode.POOL_UNAVAILABLE, `${ds} has no usable mountpoint (${mp ?? '-'})`);
      }
      if (zfsPropValue(table, ds, 'mounted') !== 'yes') await this.zfs.mount(ds);
    }
    this.imagesMount = zfsPropValue(table, this.imagesDataset, 'mountpoint');
    this.clientsMount = zfsPropValue(table, this.clientsDataset, 'mountpoint');
    // Only at the first start: a second init() (the catalogue's reconcile) must not destroy a clone a hash is reading.
    if (!this.initialized) await this.sweepHashClones();
    this.initialized = true;
    // One `zfs get` for every clone now rather than one per client at its first boot. Only a cache: not fatal.
    await this.listClientDisks().catch((e: Error) => this.logger?.warn(`listing the client disks at start failed: ${e.message}`));
  }

  /** Destroys the hash clones a crash left behind (each one would keep its version from being destroyed). */
  private async sweepHashClones(): Promise<void> {
    const prefix = `${this.imagesDataset}/`;
    for (const { name } of await this.zfs.list(this.imagesDataset, ['filesystem'], { depth: 1 })) {
      if (name.startsWith(prefix) && HASH_CLONE_RE.test(name.slice(prefix.length))) {
        this.logger?.warn(`destroying ${name}, a hash clone left by an interrupted versionSha256`);
        await this.unmountAndDestroy(name);
      }
    }
  }

  /**
   * zfs-fuse mounts nothing when its daemon starts, so init mounts: `zfs mount -a`, one call. That also mounts every
   * other pool's datasets, and one of theirs failing (a non-empty mountpoint, say) must not stop DLS: then only the
   * datasets under DLS's root are mounted, one by one, parents first (an already mounted one is success).
   */
  private async mountOwnDatasets(): Promise<void> {
    try {
      await this.zfs.mountAll();
      return;
    } catch (e) {
      if (!(e instanceof StorageError) || e.details?.infrastructure) throw e;
      this.logger?.warn(`zfs mount -a failed (${e.message.trim()}); mounting the datasets under ${this.root} one by one`);
    }
    let own: { name: string }[];
    try {
      own = await this.zfs.list(this.root, ['filesystem']);
    } catch (e) {
      if (isStorageError(e, StorageErrorCode.NOT_FOUND)) return; // a first start: init creates the root next
      throw e;
    }
    own.sort((a, b) => a.name.split('/').length - b.name.split('/').length);
    for (const ds of own) await this.zfs.mount(ds.name);
  }

  async status(): Promise<StorageStatus> {
    const base = { driver: 'zfs' as const, root: this.root, cloneMethod: 'zfs-clone' as const };
    try {
      const health = await this.zfs.poolHealth(this.pool);
      const table = await this.zfs.get([this.pool], ['used', 'available']);
      const used = zfsPropNumber(table, this.pool, 'used');
      const free = zfsPropNumber(table, this.pool, 'available');
      return {
        ...base,
        totalBytes: used + free,
        freeBytes: free,
        usedBytes: used,
        healthy: health === 'ONLINE',
        detail: `pool ${this.pool} ${health}`,
      };
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      return { ...base, totalBytes: 0, freeBytes: 0, usedBytes: 0, healthy: false, detail: `${e.code}: ${e.message}` };
    }
  }

  async ensureImage(imageId: string): Promise<string> {
    const id = assertUuid(imageId, 'imageId');
    const ds = this.imageDataset(id);
    await this.imageLocks.run(id, async () => {
      try {
        await this.zfs.create(ds, { ...this.imageProps, [DLS_PROPS.managed]: '1', [DLS_PROPS.imageId]: id });
      } catch (e) {
        if (!isStorageError(e, StorageErrorCode.ALREADY_EXISTS)) throw e;
      }
      const row = await this.zfs.get([ds], ['mountpoint', 'mounted', DLS_PROPS.imageId]);
      if (zfsPropValue(row, ds, DLS_PROPS.imageId) !== id) {
        throw new StorageError(StorageErrorCode.ALREADY_EXISTS, `${ds} exists but is not DLS image ${id}`, { dataset: ds });
      }
      if (zfsPropValue(row, ds, 'mounted') !== 'yes') await this.zfs.mount(ds);
      const mp = zfsPropValue(row, ds, 'mountpoint');
      if (mp && path.isAbsolute(mp)) this.imageMounts.set(id, mp);
    });
    return this.imageDiskPath(id);
  }

  imageDiskPath(imageId: string): string {
    return path.join(this.imageMount(assertUuid(imageId, 'imageId')), 'disk.raw');
  }

  async stagingDir(imageId: string): Promise<string> {
    const id = assertUuid(imageId, 'imageId');
    if (!(await this.zfs.getOne(this.imageDataset(id), ['mounted']))) {
      throw new StorageError(StorageErrorCode.NOT_FOUND, `image ${id} not found`, { imageId: id });
    }
    const dir = path.join(this.imageMount(id), '.staging');
    await fsp.mkdir(dir, { recursive: true });
    return dir;
  }

  async imageSizeBytes(imageId: string): Promise<number> {
    return fileSize(this.imageDiskPath(imageId));
  }

  async destroyImage(imageId: string): Promise<void> {
    const id = assertUuid(imageId, 'imageId');
    const ds = this.imageDataset(id);
    await this.imageLocks.run(id, async () => {
      let snapshots: string[];
      try {
        snapshots = (await this.zfs.list(ds, ['snapshot'], { depth: 1 })).map((e) => e.name);
      } catch (e) {
        if (isStorageError(e, StorageErrorCode.NOT_FOUND)) return;
        throw e;
      }
      if (snapshots.length > 0) {
        throw new StorageError(StorageErrorCode.HAS_DEPENDENTS, `image ${id} still has versions`, {
          imageId: id,
          versionIds: snapshots.map((s) => s.split('@')[1].replace(/^v-/, '')),
          snapshots,
        });
      }
      await this.unmountAndDestroy(ds);
      this.imageMounts.delete(id);
    });
  }

  async createVersion(imageId: string, versionId: string): Promise<VersionInfo> {
    const id = assertUuid(imageId, 'imageId');
    const vid = assertUuid(versionId, 'versionId');
    const snap = this.snapshotName(id, vid);
    return this.imageLocks.run(id, async () => {
      const existing = await this.versionInfo(id, vid);
      if (!existing) {
        if (!(await this.zfs.getOne(this.imageDataset(id), ['mounted']))) {
          throw new StorageError(StorageErrorCode.NOT_FOUND, `image ${id} not found`, { imageId: id });
        }
        try {
          await fsp.access(this.imageDiskPath(id));
        } catch {
          throw new StorageError(StorageErrorCode.NOT_FOUND, `image ${id} has no disk.raw`, { imageId: id });
        }
        await this.zfs.snapshot(snap, {
          [DLS_PROPS.managed]: '1',
          [DLS_PROPS.imageId]: id,
          [DLS_PROPS.versionId]: vid,
        });
      }
      if ((await this.zfs.userrefs(snap)) === 0) {
        try {
          await this.zfs.hold(snap, VERSION_HOLD_TAG);
        } catch (e) {
          if (!isStorageError(e, StorageErrorCode.ALREADY_EXISTS)) throw e;
        }
      }
      const info = existing ?? (await this.versionInfo(id, vid));
      if (!info) throw new StorageError(StorageErrorCode.NOT_FOUND, `snapshot ${snap} vanished`, { snapshot: snap });
      return info;
    });
  }

  async versionInfo(imageId: string, versionId: string): Promise<VersionInfo | null> {
    const snap = this.snapshotName(assertUuid(imageId, 'imageId'), assertUuid(versionId, 'versionId'));
    const table = await this.zfs.get([snap], ['referenced', 'used'], { allowMissing: true });
    if (!table.has(snap)) return null;
    return {
      ref: snap,
      referencedBytes: zfsPropNumber(table, snap, 'referenced'),
      usedBytes: zfsPropNumber(table, snap, 'used'),
    };
  }

  async sendVersion(imageId: string, versionId: string, baseVersionId?: string | null): Promise<OutgoingVersion> {
    const id = assertUuid(imageId, 'imageId');
    const vid = assertUuid(versionId, 'versionId');
    const base = baseVersionId === undefined || baseVersionId === null ? null : assertUuid(baseVersionId, 'baseVersionId');
    const snap = this.snapshotName(id, vid);
    const baseSnap = base !== null && base !== vid ? this.snapshotName(id, base) : null;
    const table = await this.zfs.get(baseSnap ? [snap, baseSnap] : [snap], ['createtxg'], { allowMissing: true });
    if (!table.has(snap)) {
      throw new StorageError(StorageErrorCode.NOT_FOUND, `version ${vid} of image ${id} not found`, { imageId: id, versionId: vid });
    }
    // Incremental only from a base that is here and older than the version; otherwise a full stream.
    const from =
      baseSnap !== null && table.has(baseSnap) && zfsPropNumber(table, baseSnap, 'createtxg') < zfsPropNumber(table, snap, 'createtxg')
        ? baseSnap
        : null;
    const incremental = from !== null;
    const stream = this.zfs.sendStream(snap, from !== null ? { base: from } : {});
    return {
      format: incremental ? 'zfs-incremental' : 'zfs-full',
      baseVersionId: incremental ? base : null,
      sizeBytes: null,
      stream,
    };
  }

  /**
   * `zfs receive -F` into the image dataset (made by the receive when missing, then given the properties ensureImage
   * gives it), then the snapshot gets what createVersion gives it: the `dls:*` properties (set locally) and the version hold.
   * A full stream needs an image without versions here; an incremental one needs its base to be this image's newest
   * version here (zfs applies it on top of that). `-F` rolls the image's `disk.raw` back to that newest version first:
   * after a receive the image holds the received version's content, as on the sending node. The image is locked for
   * the whole transfer. On failure zfs discards the partial receive and this removes a dataset it created.
   */
  async receiveVersion(imageId: string, versionId: string, incoming: IncomingVersion): Promise<VersionInfo> {
    // The stream may fail while this waits (locks, checks): that must not be an unhandled 'error' (it is seen later).
    incoming?.stream?.on?.('error', () => undefined);
    try {
      const id = assertUuid(imageId, 'imageId');
      const vid = assertUuid(versionId, 'versionId');
      if (incoming?.format !== 'zfs-full' && incoming?.format !== 'zfs-incremental') {
        throw new StorageError(StorageErrorCode.INVALID_NAME, `the zfs driver receives zfs send streams, not ${String(incoming?.format)}`, {
          reason: 'format',
          format: incoming?.format,
        });
      }
      const base = incoming.format === 'zfs-incremental' ? assertUuid(incoming.baseVersionId, 'baseVersionId') : null;
      return await this.imageLocks.run(id, () => this.receiveLocked(id, vid, base, incoming));
    } catch (e) {
      incoming?.stream?.destroy();
      throw e;
    }
  }

  private async receiveLocked(id: string, vid: string, base: string | null, incoming: IncomingVersion): Promise<VersionInfo> {
    const ds = this.imageDataset(id);
    const snap = this.snapshotName(id, vid);
    if (await this.versionInfo(id, vid)) {
      throw new StorageError(StorageErrorCode.ALREADY_EXISTS, `version ${vid} of image ${id} already exists`, { imageId: id, versionId: vid });
    }
    const existing = await this.zfs.getOne(ds, [DLS_PROPS.imageId]);
    if (existing && existing.get(DLS_PROPS.imageId)?.value !== id) {
      throw new StorageError(StorageErrorCode.ALREADY_EXISTS, `${ds} exists but is not DLS image ${id}`, { dataset: ds });
    }
    const snapshots = existing ? await this.snapshotsByAge(ds) : [];
    const newest = snapshots[snapshots.length - 1];
    if (base !== null) {
      const baseSnap = this.snapshotName(id, base);
      if (!snapshots.includes(baseSnap)) {
        throw new StorageError(StorageErrorCode.NOT_FOUND, `base version ${base} of image ${id} is not here (an incremental stream needs it)`, {
          imageId: id,
          versionId: vid,
          baseVersionId: base,
          reason: 'base-missing',
        });
      }
      if (newest !== baseSnap) {
        throw new StorageError(StorageErrorCode.HAS_DEPENDENTS, `base version ${base} of image ${id} is not its newest version here (${newest})`, {
          imageId: id,
          versionId: vid,
          baseVersionId: base,
          newest,
          reason: 'base-not-newest',
        });
      }
    } else if (newest) {
      throw new StorageError(
        StorageErrorCode.HAS_DEPENDENTS,
        `image ${id} already has versions here: send version ${vid} incrementally from ${newest}`,
        {
          imageId: id,
          versionId: vid,
          newest,
          reason: 'has-versions',
        },
      );
    }
    // A missing image dataset is made by the receive itself (then given ensureImage's properties). Creating it first
    // and receiving over its fresh mount failed with `I/O error` from zfs-fuse in 2 of 5 loaded test runs.
    const created = !existing;
    if (created) await this.assertImageMountCapacity();
    try {
      await this.zfs.receive(snap, incoming.stream, { force: true });
      // zfs-fuse has exited 0 without receiving anything (an incremental for a missing target): check.
      if (!(await this.zfs.getOne(snap, ['type']))) {
        throw new StorageError(StorageErrorCode.COMMAND_FAILED, `zfs receive reported success but ${snap} does not exist`, { snapshot: snap });
      }
      if (created) await this.zfs.set(ds, { ...this.imageProps, [DLS_PROPS.managed]: '1', [DLS_PROPS.imageId]: id });
      await this.zfs.set(snap, { [DLS_PROPS.managed]: '1', [DLS_PROPS.imageId]: id, [DLS_PROPS.versionId]: vid });
      await this.zfs.hold(snap, VERSION_HOLD_TAG);
      const row = await this.zfs.get([ds], ['mountpoint', 'mounted']);
      if (zfsPropValue(row, ds, 'mounted') !== 'yes') await this.zfs.mount(ds);
      const mp = zfsPropValue(row, ds, 'mountpoint');
      if (mp && path.isAbsolute(mp)) this.imageMounts.set(id, mp);
    } catch (e) {
      await this.discardReceived(id, snap, created).catch((c: Error) =>
        this.logger?.warn(`cleaning up the failed receive of ${snap} failed: ${c.message}`),
      );
      throw e;
    }
    const info = await this.versionInfo(id, vid);
    if (!info) throw new StorageError(StorageErrorCode.NOT_FOUND, `snapshot ${snap} vanished`, { snapshot: snap });
    return info;
  }

  /** After a failed receive: the snapshot if it arrived, and the dataset if this receive created it and it is empty. */
  private async discardReceived(id: string, snap: string, created: boolean): Promise<void> {
    if (await this.zfs.getOne(snap, ['type'])) {
      await this.releaseHold(snap);
      await this.zfs.destroy(snap);
    }
    const ds = this.imageDataset(id);
    if (created && (await this.zfs.getOne(ds, ['type'])) && (await this.snapshotsByAge(ds)).length === 0) {
      await this.unmountAndDestroy(ds);
      this.imageMounts.delete(id);
    }
  }

  /**
   * Hashes the version's `disk.raw` through a temporary clone (zfs-fuse has no `.zfs/snapshot` directory), destroyed
   * afterwards (and by `init()` after a crash). The image is locked shared meanwhile, so the version stays.
   */
  async versionSha256(imageId: string, versionId: string, options: { signal?: AbortSignal } = {}): Promise<string> {
    const id = assertUuid(imageId, 'imageId');
    const vid = assertUuid(versionId, 'versionId');
    const snap = this.snapshotName(id, vid);
    return this.imageLocks.run(
      id,
      async () => {
        if (!(await this.versionInfo(id, vid))) {
          throw new StorageError(StorageErrorCode.NOT_FOUND, `version ${vid} of image ${id} not found`, { imageId: id, versionId: vid });
        }
        await this.assertImageMountCapacity();
        const clone = `${this.imageDataset(id)}-sha256-${randomBytes(6).toString('hex')}`;
        await this.zfs.clone(snap, clone);
        try {
          const row = await this.zfs.get([clone], ['mountpoint', 'mounted']);
          if (zfsPropValue(row, clone, 'mounted') !== 'yes') await this.zfs.mount(clone);
          const mp = zfsPropValue(row, clone, 'mountpoint');
          if (!mp || !path.isAbsolute(mp)) throw new StorageError(StorageErrorCode.COMMAND_FAILED, `${clone} has no usable mountpoint`);
          return await sha256File(path.join(mp, 'disk.raw'), options.signal);
        } finally {
          await this.unmountAndDestroy(clone).catch((e: Error) => this.logger?.warn(`destroying hash clone ${clone} failed: ${e.message}`));
        }
      },
      { shared: true },
    );
  }

  /** The dataset's snapshots, oldest first. */
  private async snapshotsByAge(ds: string): Promise<string[]> {
    const table = await this.zfs.get([ds], ['createtxg'], { recursive: true, depth: 1 });
    return [...table.keys()]
      .filter((n) => n.startsWith(`${ds}@`))
      .sort((a, b) => zfsPropNumber(table, a, 'createtxg') - zfsPropNumber(table, b, 'createtxg'));
  }

  /** A new image dataset is one more mount: NO_SPACE (reason `mount-limit`) at the limit, like a client disk. */
  private async assertImageMountCapacity(): Promise<void> {
    if (this.mountLimit === undefined) return;
    const mounts = await this.zfsMounts();
    if (mounts >= this.mountLimit) {
      throw new StorageError(StorageErrorCode.NO_SPACE, `${mounts} zfs mounts exist (limit ${this.mountLimit}); no more datasets can be mounted`, {
        reason: 'mount-limit',
        mounts,
        limit: this.mountLimit,
      });
    }
  }

  async destroyVersion(imageId: string, versionId: string): Promise<void> {
    const id = assertUuid(imageId, 'imageId');
    const vid = assertUuid(versionId, 'versionId');
    const snap = this.snapshotName(id, vid);
    await this.imageLocks.run(id, async () => {
      const row = await this.zfs.getOne(snap, ['userrefs']);
      if (!row) return;
      const dependents = await this.clientsOf(snap);
      if (dependents.length > 0) {
        throw new StorageError(
          StorageErrorCode.HAS_DEPENDENTS,
          `version ${vid} of image ${id} is used by ${dependents.length} client disk(s): ${listIds(dependents)}`,
          { imageId: id, versionId: vid, clientIds: dependents },
        );
      }
      await this.releaseHold(snap);
      try {
        await this.zfs.destroy(snap);
      } catch (e) {
        if (isStorageError(e, StorageErrorCode.NOT_FOUND)) return;
        // Keep the version protected if it could not be destroyed (e.g. a clone made outside DLS).
        await this.zfs.hold(snap, VERSION_HOLD_TAG).catch(() => undefined);
        throw e;
      }
    });
  }

  async ensureClientDisk(clientId: string, imageId: string, versionId: string): Promise<DiskInfo> {
    const cid = assertUuid(clientId, 'clientId');
    const id = assertUuid(imageId, 'imageId');
    const vid = assertUuid(versionId, 'versionId');
    return this.clientLocks.run(cid, () =>
      this.imageLocks.run(
        id,
        async () => {
          // A clone this driver knows, of this version and still there: nothing to ask zfs (a boot's re-ensure).
          const known = this.clones.get(cid);
          if (known && known.imageId === id && known.versionId === vid) {
            const info = await this.checkKnown(cid, known);
            if (info) return info;
          }
          const info = await this.ensureClientDiskLocked(cid, id, vid);
          this.rememberClone(cid, info);
          return info;
        },
        { shared: true },
      ),
    );
  }

  /** {@link ensureClientDisk} under its locks, asking zfs. */
  private async ensureClientDiskLocked(cid: string, id: string, vid: string): Promise<DiskInfo> {
    const ds = this.clientDataset(cid);
    const snap = this.snapshotName(id, vid);
    try {
      await this.assertMountCapacity(ds);
      await this.zfs.clone(snap, ds, {
        [DLS_PROPS.managed]: '1',
        [DLS_PROPS.clientId]: cid,
        [DLS_PROPS.imageId]: id,
        [DLS_PROPS.versionId]: vid,
      });
      // Fast path: a fresh clone is mounted at the inherited mountpoint with nothing written yet.
      const fresh = this.clientsMount ? path.join(this.clientsMount, cid, 'disk.raw') : undefined;
      const size = fresh ? await fileSize(fresh) : 0;
      if (fresh && size > 0) {
        return { clientId: cid, path: fresh, imageId: id, versionId: vid, sizeBytes: size, writtenBytes: 0 };
      }
    } catch (e) {
      if (isStorageError(e, StorageErrorCode.NOT_FOUND)) {
        throw new StorageError(StorageErrorCode.NOT_FOUND, `version ${vid} of image ${id} not found`, {
          imageId: id,
          versionId: vid,
        });
      }
      if (!isStorageError(e, StorageErrorCode.ALREADY_EXISTS)) throw e;
    }
    const table = await this.zfs.get([ds], CLIENT_PROPS);
    const origin = zfsPropValue(table, ds, 'origin');
    if (origin !== snap) {
      throw new StorageError(StorageErrorCode.ALREADY_EXISTS, `client ${cid} already has a disk from ${origin ?? 'no snapshot'}`, {
        clientId: cid,
        existingImageId: zfsPropValue(table, ds, DLS_PROPS.imageId),
        existingVersionId: zfsPropValue(table, ds, DLS_PROPS.versionId),
        origin,
      });
    }
    if (zfsPropValue(table, ds, 'mounted') !== 'yes') await this.zfs.mount(ds);
    return this.diskInfoFrom(cid, table);
  }

  /**
   * The client's disk. A clone this driver knows of is answered from memory plus one `stat` of its `disk.raw` (on the
   * clone's own mount): no `zfs` process on the boot path. Then `sizeBytes` is the stat's and `writtenBytes` is the
   * last `usedbydataset` zfs reported for the clone (0 when made here; refreshed by every `zfs get` of it: a look-up
   * that missed memory, listClientDisks, spaceUsage) — it may lag what the client wrote since. Not `st_blocks`: on a
   * clone that counts the blocks shared with the version too, and a caller subtracting it as space a destroy frees
   * (ClientDisksService on a version change) would over-count. `{ exact: true }` asks zfs (one `zfs get`) for an
   * exact figure. A clone not known, or whose check fails (destroyed or unmounted behind DLS's back, zfs-fuse gone),
   * is looked up with `zfs get` under the client's lock, re-mounted if zfs unmounted it (as the dir driver
   * re-attaches an overlay), and remembered or forgotten.
   */
  async clientDisk(clientId: string, options: { exact?: boolean } = {}): Promise<DiskInfo | null> {
    const cid = assertUuid(clientId, 'clientId');
    const known = options.exact ? undefined : this.clones.get(cid);
    if (known) {
      const info = await this.checkKnown(cid, known);
      if (info) return info;
    }
    return this.clientLocks.run(cid, () => this.lookUpClientDisk(cid));
  }

  /** {@link clientDisk} through zfs, under the client's lock; the answer becomes what memory knows. */
  private async lookUpClientDisk(cid: string): Promise<DiskInfo | null> {
    const ds = this.clientDataset(cid);
    const table = await this.zfs.get([ds], CLIENT_PROPS, { allowMissing: true });
    if (!table.has(ds)) {
      this.forgetClone(cid);
      return null;
    }
    if (zfsPropValue(table, ds, 'mounted') !== 'yes') await this.zfs.mount(ds);
    const info = await this.diskInfoFrom(cid, table);
    this.rememberClone(cid, info);
    return info;
  }

  /**
   * The known clone as a DiskInfo when its `disk.raw` is there on the clone's own mount (a `stat`: one FUSE getattr,
   * no process); null when it is not (or the stat fails): the caller asks zfs.
   */
  private async checkKnown(cid: string, known: KnownClone): Promise<DiskInfo | null> {
    let st: { size: number; isFile(): boolean };
    try {
      st = await fsp.stat(known.path);
    } catch {
      return null; // ENOENT: destroyed or unmounted (its mountpoint is an empty directory); ENOTCONN: zfs-fuse gone
    }
    if (!st.isFile()) return null;
    return {
      clientId: cid,
      path: known.path,
      imageId: known.imageId,
      versionId: known.versionId,
      sizeBytes: st.size,
      writtenBytes: known.writtenBytes,
    };
  }

  /** Every clone, with one `zfs get`; what it finds becomes what memory knows (see {@link cloneEpoch}). */
  async listClientDisks(): Promise<DiskInfo[]> {
    const since = this.cloneEpoch;
    const table = await this.zfs.get([this.clientsDataset], CLIENT_PROPS, { depth: 1 });
    const prefix = `${this.clientsDataset}/`;
    const ids = [...table.keys()].filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length));
    const disks = await Promise.all(ids.filter((id) => UUID_RE.test(id)).map((id) => this.diskInfoFrom(id, table)));
    const listed = new Set<string>();
    for (const d of disks) {
      listed.add(d.clientId);
      if (this.unchangedSince(d.clientId, since)) this.clones.set(d.clientId, this.knownFrom(d));
    }
    for (const cid of [...this.clones.keys()]) if (!listed.has(cid) && this.unchangedSince(cid, since)) this.clones.delete(cid);
    return disks;
  }

  async destroyClientDisk(clientId: string): Promise<void> {
    const cid = assertUuid(clientId, 'clientId');
    await this.clientLocks.run(cid, async () => {
      // Forgotten whatever happens: after a failed destroy the next look-up asks zfs.
      this.forgetClone(cid);
      await this.unmountAndDestroy(this.clientDataset(cid));
    });
  }

  private knownFrom(d: DiskInfo): KnownClone {
    return { imageId: d.imageId, versionId: d.versionId, path: d.path, writtenBytes: d.writtenBytes };
  }

  /** Authoritative (under the client's lock): memory now says `info`. */
  private rememberClone(cid: string, info: DiskInfo): void {
    this.clones.set(cid, this.knownFrom(info));
    this.cloneChangedAt.set(cid, ++this.cloneEpoch);
  }

  /** Authoritative (under the client's lock): memory no longer knows the clone. */
  private forgetClone(cid: string): void {
    this.clones.delete(cid);
    this.cloneChangedAt.set(cid, ++this.cloneEpoch);
  }

  private unchangedSince(cid: string, epoch: number): boolean {
    return (this.cloneChangedAt.get(cid) ?? 0) <= epoch;
  }

  async commitClientDisk(clientId: string, imageId: string): Promise<void> {
    const cid = assertUuid(clientId, 'clientId');
    const id = assertUuid(imageId, 'imageId');
    await this.clientLocks.run(cid, () =>
      this.imageLocks.run(id, async () => {
        const disk = await this.lookUpClientDisk(cid); // the client lock is held here: not clientDisk()
        if (!disk) throw new StorageError(StorageErrorCode.NOT_FOUND, `client disk ${cid} not found`, { clientId: cid });
        if (!(await this.zfs.getOne(this.imageDataset(id), ['mounted']))) {
          throw new StorageError(StorageErrorCode.NOT_FOUND, `image ${id} not found`, { imageId: id });
        }
        const staging = path.join(this.imageMount(id), '.staging');
        await fsp.mkdir(staging, { recursive: true });
        const tmp = path.join(staging, `.commit-${cid}.tmp-${randomBytes(6).toString('hex')}`);
        // Different datasets are different filesystems: a sparse full copy, then an atomic rename.
        await sparseCopyFile(disk.path, tmp);
        await fsp.rename(tmp, this.imageDiskPath(id));
        await syncDir(this.imageMount(id));
      }),
    );
  }

  async inventory(): Promise<ManagedItem[]> {
    const { items } = await this.managedItems([]);
    for (const image of items.filter((i) => i.kind === 'image')) {
      items.push(...(await stagingItems(path.join(this.imageMount(image.imageId!), '.staging'), image.imageId!)));
    }
    return items;
  }

  async spaceUsage(): Promise<SpaceUsage> {
    const since = this.cloneEpoch;
    const { items, table } = await this.managedItems(['used', 'usedbydataset']);
    const usage: SpaceUsage = { versions: [], clientDisks: [] };
    for (const item of items) {
      if (item.kind === 'version') {
        usage.versions.push({ imageId: item.imageId!, versionId: item.versionId!, bytes: zfsPropNumber(table, item.ref, 'used') });
      } else if (item.kind === 'client-disk') {
        const bytes = zfsPropNumber(table, item.ref, 'usedbydataset');
        usage.clientDisks.push({ clientId: item.clientId!, bytes });
        const known = this.clones.get(item.clientId!);
        if (known && this.unchangedSince(item.clientId!, since)) known.writtenBytes = bytes;
      }
    }
    return usage;
  }

  /** What DLS created under its root (one recursive `zfs get`), with `extraProps` read in the same call. */
  private async managedItems(extraProps: readonly string[]): Promise<{ items: ManagedItem[]; table: ZfsPropertyTable }> {
    const props = ['type', DLS_PROPS.managed, DLS_PROPS.imageId, DLS_PROPS.versionId, DLS_PROPS.clientId, ...extraProps];
    let table: ZfsPropertyTable;
    try {
      table = await this.zfs.get([this.root], props, { recursive: true });
    } catch (e) {
      if (isStorageError(e, StorageErrorCode.NOT_FOUND)) return { items: [], table: new Map() };
      throw e;
    }
    const items: ManagedItem[] = [];
    const imagesPrefix = `${this.imagesDataset}/`;
    const clientsPrefix = `${this.clientsDataset}/`;
    for (const [name, row] of table) {
      // Snapshots inherit user properties from their dataset: only a locally set marker counts.
      const managed = row.get(DLS_PROPS.managed);
      if (!managed || managed.value !== '1' || managed.source !== 'local') continue;
      const type = row.get('type')?.value;
      const imageId = zfsPropValue(table, name, DLS_PROPS.imageId);
      const versionId = zfsPropValue(table, name, DLS_PROPS.versionId);
      const clientId = zfsPropValue(table, name, DLS_PROPS.clientId);
      const valid = (v: string | undefined): v is string => v !== undefined && UUID_RE.test(v);
      if (type === 'filesystem' && name.startsWith(imagesPrefix) && valid(imageId) && name === this.imageDataset(imageId)) {
        items.push({ kind: 'image', ref: name, imageId });
      } else if (type === 'snapshot' && valid(imageId) && valid(versionId) && name === this.snapshotName(imageId, versionId)) {
        items.push({ kind: 'version', ref: name, imageId, versionId });
      } else if (type === 'filesystem' && name.startsWith(clientsPrefix) && valid(clientId) && name === this.clientDataset(clientId)) {
        items.push({
          kind: 'client-disk',
          ref: name,
          clientId,
          ...(valid(imageId) ? { imageId } : {}),
          ...(valid(versionId) ? { versionId } : {}),
        });
      }
    }
    return { items, table };
  }

  async destroyManaged(item: ManagedItem): Promise<void> {
    switch (item.kind) {
      case 'client-disk': {
        const cid = assertUuid(item.clientId, 'clientId');
        this.assertRef(item.ref, this.clientDataset(cid));
        return this.destroyClientDisk(cid);
      }
      case 'version': {
        const id = assertUuid(item.imageId, 'imageId');
        const vid = assertUuid(item.versionId, 'versionId');
        this.assertRef(item.ref, this.snapshotName(id, vid));
        return this.destroyVersion(id, vid);
      }
      case 'image': {
        const id = assertUuid(item.imageId, 'imageId');
        this.assertRef(item.ref, this.imageDataset(id));
        return this.destroyImage(id);
      }
      case 'staging': {
        const id = assertUuid(item.imageId, 'imageId');
        return removeStagingEntry(item.ref, path.join(this.imageMount(id), '.staging'));
      }
      default:
        throw new StorageError(StorageErrorCode.INVALID_NAME, 'unknown managed item kind');
    }
  }

  /** Dataset names (for the iSCSI layer and diagnostics). */
  imageDataset(imageId: string): string {
    return `${this.imagesDataset}/${imageId}`;
  }

  clientDataset(clientId: string): string {
    return `${this.clientsDataset}/${clientId}`;
  }

  snapshotName(imageId: string, versionId: string): string {
    return `${this.imageDataset(imageId)}@v-${versionId}`;
  }

  private get imagesDataset(): string {
    return `${this.root}/images`;
  }

  private get clientsDataset(): string {
    return `${this.root}/clients`;
  }

  private imageMount(id: string): string {
    const known = this.imageMounts.get(id);
    if (known) return known;
    if (!this.imagesMount) {
      throw new StorageError(StorageErrorCode.POOL_UNAVAILABLE, 'ZfsStorageDriver.init() has not run');
    }
    return path.join(this.imagesMount, id);
  }

  private assertRef(ref: string, expected: string): void {
    if (ref !== expected) {
      throw new StorageError(StorageErrorCode.INVALID_NAME, `managed item ref ${ref} does not match ${expected}`);
    }
  }

  private async diskInfoFrom(cid: string, table: ZfsPropertyTable): Promise<DiskInfo> {
    const ds = this.clientDataset(cid);
    const origin = zfsPropValue(table, ds, 'origin') ?? '';
    const fromOrigin = /\/images\/([^/@]+)@v-(.+)$/.exec(origin);
    const imageId = zfsPropValue(table, ds, DLS_PROPS.imageId) ?? fromOrigin?.[1] ?? '';
    const versionId = zfsPropValue(table, ds, DLS_PROPS.versionId) ?? fromOrigin?.[2] ?? '';
    const mountpoint = zfsPropValue(table, ds, 'mountpoint') ?? '';
    const diskPath = path.join(mountpoint, 'disk.raw');
    return {
      clientId: cid,
      path: diskPath,
      imageId,
      versionId,
      sizeBytes: await fileSize(diskPath),
      writtenBytes: zfsPropNumber(table, ds, 'usedbydataset'),
    };
  }

  /**
   * Throws NO_SPACE (reason `mount-limit`) when `mountLimit` is set and that many `fuse.zfs` mounts exist, or
   * ALREADY_EXISTS when `ds` exists anyway (so re-ensuring an existing disk still converges).
   */
  private async assertMountCapacity(ds: string): Promise<void> {
    if (this.mountLimit === undefined) return;
    const mounts = await this.zfsMounts();
    if (mounts >= this.mountLimit) {
      if (await this.zfs.getOne(ds, ['origin'])) {
        throw new StorageError(StorageErrorCode.ALREADY_EXISTS, `${ds} exists`, { dataset: ds });
      }
      throw new StorageError(
        StorageErrorCode.NO_SPACE,
        `${mounts} zfs mounts exist (limit ${this.mountLimit}); no more client disks can be mounted`,
        { reason: 'mount-limit', mounts, limit: this.mountLimit },
      );
    }
  }

  /** `fuse.zfs` mounts on the host. */
  private async zfsMounts(): Promise<number> {
    const text = await fsp.readFile(this.mountsFile, 'utf8');
    let mounts = 0;
    for (const line of text.split('\n')) if (line.split(' ')[2] === 'fuse.zfs') mounts += 1;
    return mounts;
  }

  /** Client ids whose dataset is a clone of `snap` (zfs-fuse has no `clones` property). */
  private async clientsOf(snap: string): Promise<string[]> {
    const table = await this.zfs.get([this.clientsDataset], ['origin', DLS_PROPS.clientId], {
      recursive: true,
      depth: 1,
    });
    const ids: string[] = [];
    for (const name of table.keys()) {
      if (zfsPropValue(table, name, 'origin') === snap) {
        ids.push(zfsPropValue(table, name, DLS_PROPS.clientId) ?? name.slice(this.clientsDataset.length + 1));
      }
    }
    return ids.sort();
  }

  private async releaseHold(snap: string): Promise<void> {
    try {
      await this.zfs.release(snap, VERSION_HOLD_TAG);
    } catch (e) {
      if (!isStorageError(e, StorageErrorCode.NOT_FOUND)) throw e;
    }
  }

  /** Unmount first (a mounted clone's destroy fails once with "busy"), then destroy with busy-retry. Idempotent. */
  /**
   * Unmounts and destroys `ds`. A busy destroy is retried with a fresh unmount each time: anything on the host may
   * mount it again in between (`zfs mount -a` — the zfs-mount service, another DLS starting — seen in CI as a
   * dataset "busy" for minutes while only the destroy was retried).
   */
  private async unmountAndDestroy(ds: string): Promise<void> {
    const deadline = Date.now() + 180_000;
    for (let delay = 100; ; delay = Math.min(delay * 2, 3_000)) {
      try {
        await this.zfs.unmount(ds);
      } catch (e) {
        if (isStorageError(e, StorageErrorCode.NOT_FOUND)) return;
        throw e;
      }
      try {
        await this.zfs.destroy(ds, { retryBusy: false });
        return;
      } catch (e) {
        if (isStorageError(e, StorageErrorCode.NOT_FOUND)) return;
        if (isStorageError(e, StorageErrorCode.DATASET_BUSY) && Date.now() + delay < deadline) {
          await new Promise((r) => setTimeout(r, delay));
          continue;
        }
        this.logger?.warn(`destroy ${ds} failed: ${(e as Error).message}`);
        throw e;
      }
    }
  }
}
