import { randomBytes } from 'node:crypto';
import { constants as fsConstants, promises as fsp, Stats } from 'node:fs';
import * as path from 'node:path';
import { cloneOrCopyFile, reflinkFile, removeStagingEntry, sha256File, sparseCopyFile, stagingItems, syncDir, writeStreamSparse } from './file-copy';
import { FuseExportDaemon } from './fuse-export.daemon';
import { QemuImgAdapter } from './qemu-img.adapter';
import { KeyedLock, Semaphore } from '@common/concurrency/keyed-lock';
import {
  CloneMethod,
  DiskInfo,
  IncomingVersion,
  ManagedItem,
  OutgoingVersion,
  SpaceUsage,
  StorageDriver,
  StorageStatus,
  VersionInfo,
} from './storage-driver';
import { StorageError, StorageErrorCode, isStorageError } from './storage.errors';
import { UUID_RE, assertUuid } from './storage-ids';

/**
 * How the dir driver makes client disks: `auto` = reflink where the filesystem can, else a qcow2 overlay (else, without FUSE or qemu-storage-daemon, a full copy, with a warning); `copy` (a
 * full sparse copy per disk, O(data)) only when asked for.
 */
export type DirCloneSetting = 'auto' | 'reflink' | 'overlay' | 'copy';

export const DIR_CLONE_SETTINGS: readonly DirCloneSetting[] = ['auto', 'reflink', 'overlay', 'copy'];

export interface DirStorageDriverOptions {
  /** Absolute directory that holds `images/` and `clients/`. */
  root: string;
  /** Full copies running at once (reflinks are cheap, full copies are disk-bound). Default 4. */
  maxConcurrentCopies?: number;
  /** Client disk method (default `auto`). */
  clone?: DirCloneSetting;
  /** The daemon serving overlays (default: one with its run dir at `<root>/run`). */
  daemon?: FuseExportDaemon;
  qemuImg?: QemuImgAdapter;
  logger?: { log(msg: string): void; warn(msg: string): void; error(msg: string): void };
}

interface ClientMeta {
  imageId: string;
  versionId: string;
}

const TMP_MARK = '.tmp-';

function tmpName(dir: string, base: string): string {
  return path.join(dir, `.${base}${TMP_MARK}${randomBytes(6).toString('hex')}`);
}

async function statOrNull(p: string): Promise<Stats | null> {
  try {
    return await fsp.stat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

async function readdirOrEmpty(p: string): Promise<string[]> {
  try {
    return await fsp.readdir(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/**
 * Storage driver over a plain directory tree, for hosts without ZFS.
 *
 * Layout (every name is a UUID, so the tree itself is the inventory):
 * ```
 * <root>/images/<imageId>/disk.raw
 * <root>/images/<imageId>/versions/<versionId>.raw     (mode 0444)
 * <root>/images/<imageId>/.staging/                     (uploads / conversions, same filesystem)
 * <root>/clients/<clientId>/disk.raw
 * <root>/clients/<clientId>/meta.json                  ({ imageId, versionId })
 * ```
 * Versions are reflinks (`FICLONE`, btrfs/xfs) when the filesystem can, otherwise sparse full copies; the method is
 * probed once in `init()` and downgraded if a reflink is ever refused. Client disks follow the `clone` setting: a
 * reflink, or (the default where reflink is missing, e.g. ext4) a **qcow2 overlay** — O(1) whatever the image size:
 * ```
 * <root>/clients/<clientId>/overlay.qcow2              (the client's writes; backing file: the version, read-only)
 * <root>/clients/<clientId>/disk.raw                   (an empty file: the FUSE mountpoint of the raw view)
 * <root>/run/qsd.{pid,sock,log}                        (the qemu-storage-daemon serving every overlay)
 * ```
 * One supervised qemu-storage-daemon ({@link FuseExportDaemon}) mounts each overlay as a raw file over its
 * `disk.raw`, so the disk path tgt exports is the same for every method. `init()` starts (or, after a crash of DLS,
 * re-attaches) the daemon and converges its exports to the overlays on disk: missing ones are added, stray ones
 * removed, dead mounts of a daemon that died lazily unmounted. If the daemon dies while DLS runs, it is restarted
 * and every export re-added, then `onDisksReattached` listeners (the iSCSI module) re-open their LUNs. Or a full
 * sparse copy, when asked for. Every file is written
 * under a temporary name, fsynced and renamed, so a crash never leaves a half-copied disk under its final name
 * (temporaries are swept by `init()`). Per-client locks plus shared/exclusive per-image locks make concurrent calls
 * safe: provisioning many clients of one version runs in parallel, destroying that version waits for them.
 *
 * `writtenBytes` is the client disk's allocated size (`st_blocks * 512`). With full copies that includes the copied
 * image data; with reflinks the shared extents are counted too, so it is an upper bound, not a delta.
 */
export class DirStorageDriver implements StorageDriver {
  readonly kind = 'dir' as const;
  private readonly root: string;
  private readonly clientLocks = new KeyedLock();
  private readonly imageLocks = new KeyedLock();
  private readonly copies: Semaphore;
  private method: CloneMethod = 'copy';
  private clientMethod: CloneMethod = 'copy';
  private readonly clone: DirCloneSetting;
  private readonly qemuImg: QemuImgAdapter;
  private daemon?: FuseExportDaemon;
  /** Set once overlays need serving: from then on a stopped daemon makes the pool unhealthy. */
  private daemonWanted = false;
  /** Overlay disks the daemon serves now (kept current by attach/detach and the reconcile). */
  private readonly exported = new Set<string>();
  /** Overlay templates known to exist (see {@link overlayTemplate}). */
  private readonly templates = new Set<string>();
  private readonly templateLocks = new KeyedLock();
  private readonly reattachListeners: Array<(clientIds: string[]) => void> = [];
  private closing = false;
  private initialized = false;
  private recovering?: Promise<void>;

  constructor(private readonly options: DirStorageDriverOptions) {
    if (typeof options.root !== 'string' || !path.isAbsolute(options.root) || options.root.includes('\0')) {
      throw new StorageError(StorageErrorCode.INVALID_NAME, 'dir storage root must be an absolute path');
    }
    this.root = path.resolve(options.root);
    if (this.root.includes(',')) {
      throw new StorageError(StorageErrorCode.INVALID_NAME, 'dir storage root must not contain a comma (qemu option syntax)');
    }
    this.copies = new Semaphore(options.maxConcurrentCopies ?? 4);
    this.clone = options.clone ?? 'auto';
    if (!DIR_CLONE_SETTINGS.includes(this.clone)) throw new StorageError(StorageErrorCode.INVALID_NAME, `unknown clone setting ${this.clone}`);
    this.qemuImg = options.qemuImg ?? new QemuImgAdapter();
    this.daemon = options.daemon;
  }

  async init(): Promise<void> {
    if (this.initialized) {
      // A second call (the catalogue's start-up reconcile after StorageLifecycle's): no sweep of temporaries that
      // work started since may own; just converge the exports again.
      if (this.daemon) {
        await this.startDaemon();
        await this.reconcileExports();
      }
      return;
    }
    try {
      await fsp.mkdir(this.imagesDir, { recursive: true });
      await fsp.mkdir(this.clientsDir, { recursive: true });
    } catch (e) {
      throw new StorageError(StorageErrorCode.POOL_UNAVAILABLE, `cannot create ${this.root}: ${(e as Error).message}`);
    }
    const reflink = await this.probeReflink();
    this.method = reflink ? 'reflink' : 'copy';
    if (this.clone === 'reflink' && !reflink) {
      throw new StorageError(StorageErrorCode.POOL_UNAVAILABLE, `DLS_DIR_CLONE=reflink but ${this.root} cannot reflink (use auto, overlay or copy)`);
    }
    this.clientMethod = this.clone === 'auto' ? (reflink ? 'reflink' : 'overlay') : this.clone;
    await this.sweepTemporaries();
    const overlays = await this.overlayClientIds();
    if (this.clientMethod === 'overlay' && !this.daemon?.running) {
      try {
        const daemon = await this.startDaemon();
        await daemon.probe(path.join(this.root, 'run', 'probe.raw'));
      } catch (e) {
        // `auto` must work on any host: without FUSE (a container without /dev/fuse or CAP_SYS_ADMIN) or
        // qemu-storage-daemon, new disks are full copies — said loudly. An explicit `overlay` is refused instead.
        if (this.clone !== 'auto' || overlays.length > 0) throw e;
        this.options.logger?.warn(
          `overlay client disks unavailable (${(e as Error).message}); falling back to FULL COPIES — install qemu-system-common and allow /dev/fuse, or set DLS_DIR_CLONE=copy to silence this`,
        );
        await this.daemon?.stop().catch(() => undefined);
        this.daemon = undefined;
        this.daemonWanted = false;
        this.clientMethod = 'copy';
      }
    }
    // Overlays made under another setting still need serving, so the daemon runs whenever any exists.
    if (this.clientMethod === 'overlay' || overlays.length > 0) {
      await this.startDaemon();
      await this.reconcileExports();
    }
    this.initialized = true;
  }

  /** Called with the client ids whose disks were re-mounted after the daemon died (their LUNs hold dead files). */
  onDisksReattached(listener: (clientIds: string[]) => void): void {
    this.reattachListeners.push(listener);
  }

  /** Stops the overlay daemon (its exports unmount); client disks stay on disk and are served again by `init()`. */
  async close(): Promise<void> {
    this.closing = true;
    // A restart in flight (the daemon went away just before) would otherwise spawn a daemon after the stop below.
    await this.recovering?.catch(() => undefined);
    if (!this.daemon) return;
    await this.daemon.stop();
    this.exported.clear();
    await this.daemon.sweepMounts((m) => this.isClientMount(m), new Set()).catch(() => undefined);
  }

  async status(): Promise<StorageStatus> {
    const base = { driver: 'dir' as const, root: this.root, cloneMethod: this.clientMethod };
    try {
      await fsp.access(this.imagesDir, fsConstants.W_OK);
      await fsp.access(this.clientsDir, fsConstants.W_OK);
      if (this.daemonWanted && this.daemon && !this.daemon.running)
        throw new Error('qemu-storage-daemon (serving overlay client disks) is not running');
      const s = await fsp.statfs(this.root);
      return {
        ...base,
        totalBytes: s.blocks * s.bsize,
        freeBytes: s.bavail * s.bsize,
        usedBytes: (s.blocks - s.bfree) * s.bsize,
        healthy: true,
      };
    } catch (e) {
      return { ...base, totalBytes: 0, freeBytes: 0, usedBytes: 0, healthy: false, detail: (e as Error).message };
    }
  }

  async ensureImage(imageId: string): Promise<string> {
    const id = assertUuid(imageId, 'imageId');
    await this.imageLocks.run(id, async () => {
      await fsp.mkdir(path.join(this.imageDir(id), 'versions'), { recursive: true });
    });
    return this.imageDiskPath(id);
  }

  imageDiskPath(imageId: string): string {
    return path.join(this.imageDir(assertUuid(imageId, 'imageId')), 'disk.raw');
  }

  async stagingDir(imageId: string): Promise<string> {
    const id = assertUuid(imageId, 'imageId');
    if (!(await statOrNull(this.imageDir(id)))) throw this.notFound('image', id);
    const dir = path.join(this.imageDir(id), '.staging');
    await fsp.mkdir(dir, { recursive: true });
    return dir;
  }

  async imageSizeBytes(imageId: string): Promise<number> {
    const st = await statOrNull(this.imageDiskPath(imageId));
    return st ? st.size : 0;
  }

  async destroyImage(imageId: string): Promise<void> {
    const id = assertUuid(imageId, 'imageId');
    await this.imageLocks.run(id, async () => {
      const versions = await this.versionIds(id);
      if (versions.length > 0) {
        throw new StorageError(StorageErrorCode.HAS_DEPENDENTS, `image ${id} still has versions`, {
          imageId: id,
          versionIds: versions,
        });
      }
      await fsp.rm(this.imageDir(id), { recursive: true, force: true });
    });
  }

  async createVersion(imageId: string, versionId: string): Promise<VersionInfo> {
    const id = assertUuid(imageId, 'imageId');
    const vid = assertUuid(versionId, 'versionId');
    return this.imageLocks.run(id, async () => {
      const target = this.versionPath(id, vid);
      const existing = await statOrNull(target);
      if (existing) return this.versionInfoFrom(target, existing);
      const disk = this.imageDiskPath(id);
      if (!(await statOrNull(disk))) throw this.notFound('image disk', id);
      const dir = path.dirname(target);
      await fsp.mkdir(dir, { recursive: true });
      const tmp = tmpName(dir, `${vid}.raw`);
      await this.copyFile(disk, tmp);
      await fsp.chmod(tmp, 0o444);
      await fsp.rename(tmp, target);
      await syncDir(dir);
      return this.versionInfoFrom(target, await fsp.stat(target));
    });
  }

  async versionInfo(imageId: string, versionId: string): Promise<VersionInfo | null> {
    const target = this.versionPath(assertUuid(imageId, 'imageId'), assertUuid(versionId, 'versionId'));
    const st = await statOrNull(target);
    return st ? this.versionInfoFrom(target, st) : null;
  }

  async sendVersion(imageId: string, versionId: string, baseVersionId?: string | null): Promise<OutgoingVersion> {
    const id = assertUuid(imageId, 'imageId');
    const vid = assertUuid(versionId, 'versionId');
    if (baseVersionId !== undefined && baseVersionId !== null) assertUuid(baseVersionId, 'baseVersionId');
    const file = this.versionPath(id, vid);
    let fh: fsp.FileHandle;
    try {
      // Opened now: the stream reads this file even if the version is destroyed meanwhile.
      fh = await fsp.open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw this.notFound('version', `${id}/${vid}`);
      throw new StorageError(StorageErrorCode.COMMAND_FAILED, `open ${file}: ${(e as Error).message}`);
    }
    const { size } = await fh.stat();
    const stream = fh.createReadStream({ highWaterMark: 1024 * 1024, autoClose: true });
    return { format: 'raw', baseVersionId: null, sizeBytes: size, stream };
  }

  /**
   * Streams the raw bytes into a temporary file in the versions directory (sparsely: zero blocks become holes), fsyncs
   * it, makes it read-only and renames it to `<versionId>.raw` — the file createVersion would have made. The transfer
   * runs outside the image lock (client disks of other versions go on being made); only the final check and rename
   * take it. On failure the temporary file goes, and so does the image directory if this call made it.
   */
  async receiveVersion(imageId: string, versionId: string, incoming: IncomingVersion): Promise<VersionInfo> {
    // The stream may fail while this waits (locks, checks): that must not be an unhandled 'error' (it is seen later).
    incoming?.stream?.on?.('error', () => undefined);
    let tmp: string | undefined;
    let madeImageDir = false;
    let id = '';
    try {
      id = assertUuid(imageId, 'imageId');
      const vid = assertUuid(versionId, 'versionId');
      if (incoming?.format !== 'raw') {
        throw new StorageError(StorageErrorCode.INVALID_NAME, `the dir driver receives raw version bytes, not ${String(incoming?.format)}`, {
          reason: 'format',
          format: incoming?.format,
        });
      }
      const target = this.versionPath(id, vid);
      if (await statOrNull(target)) throw this.alreadyExists(id, vid);
      const dir = path.dirname(target);
      madeImageDir = await this.imageLocks.run(id, async () => {
        const existed = (await statOrNull(this.imageDir(id))) !== null;
        await fsp.mkdir(dir, { recursive: true });
        return !existed;
      });
      tmp = tmpName(dir, `${vid}.raw`);
      // Not under the copy semaphore: a transfer is paced by the network, and must not hold up client disk copies.
      await writeStreamSparse(incoming.stream, tmp, { mode: 0o644, expectedBytes: incoming.sizeBytes });
      await fsp.chmod(tmp, 0o444);
      const done = tmp;
      const info = await this.imageLocks.run(id, async () => {
        if (await statOrNull(target)) throw this.alreadyExists(id, vid);
        // An overlay template left from an earlier version of this id would describe another file.
        const template = path.join(this.imageDir(id), 'overlays', `${vid}.qcow2`);
        this.templates.delete(template);
        await fsp.rm(template, { force: true });
        await fsp.rename(done, target);
        await syncDir(dir);
        return this.versionInfoFrom(target, await fsp.stat(target));
      });
      tmp = undefined;
      return info;
    } catch (e) {
      incoming?.stream?.destroy();
      if (tmp) await fsp.rm(tmp, { force: true }).catch(() => undefined);
      if (madeImageDir) await this.removeImageDirIfEmpty(id).catch(() => undefined);
      if (isStorageError(e)) throw e;
      throw new StorageError(StorageErrorCode.COMMAND_FAILED, `receive version ${versionId} of image ${imageId}: ${(e as Error).message}`, {
        errno: (e as NodeJS.ErrnoException).code,
      });
    }
  }

  async versionSha256(imageId: string, versionId: string, options: { signal?: AbortSignal } = {}): Promise<string> {
    const id = assertUuid(imageId, 'imageId');
    const vid = assertUuid(versionId, 'versionId');
    const file = this.versionPath(id, vid);
    if (!(await statOrNull(file))) throw this.notFound('version', `${id}/${vid}`);
    return sha256File(file, options.signal);
  }

  async destroyVersion(imageId: string, versionId: string): Promise<void> {
    const id = assertUuid(imageId, 'imageId');
    const vid = assertUuid(versionId, 'versionId');
    await this.imageLocks.run(id, async () => {
      const dependents: string[] = [];
      for (const clientId of await this.clientIds()) {
        const meta = await this.readMeta(clientId);
        if (meta && meta.imageId === id && meta.versionId === vid) dependents.push(clientId);
      }
      if (dependents.length > 0) {
        throw new StorageError(
          StorageErrorCode.HAS_DEPENDENTS,
          `version ${vid} of image ${id} is used by ${dependents.length} client disk(s): ${
            dependents.length > 10 ? `${dependents.slice(0, 10).join(', ')}, ...` : dependents.join(', ')
          }`,
          { imageId: id, versionId: vid, clientIds: dependents },
        );
      }
      const template = path.join(this.imageDir(id), 'overlays', `${vid}.qcow2`);
      this.templates.delete(template);
      await fsp.rm(template, { force: true });
      await fsp.rm(this.versionPath(id, vid), { force: true });
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
          const meta = await this.readMeta(cid);
          if (meta && (meta.imageId !== id || meta.versionId !== vid)) {
            throw new StorageError(
              StorageErrorCode.ALREADY_EXISTS,
              `client ${cid} already has a disk of image ${meta.imageId} version ${meta.versionId}`,
              { clientId: cid, existingImageId: meta.imageId, existingVersionId: meta.versionId },
            );
          }
          const dir = this.clientDir(cid);
          const disk = path.join(dir, 'disk.raw');
          if (meta) {
            const info = await this.readDisk(cid, meta);
            if (info) return info;
          }
          const source = this.versionPath(id, vid);
          const sourceStat = await statOrNull(source);
          if (!sourceStat) throw this.notFound('version', `${id}/${vid}`);
          await fsp.mkdir(dir, { recursive: true });
          // Intent first: the version counts as used from here on, even if we crash mid-copy.
          if (!meta) await this.writeMeta(cid, { imageId: id, versionId: vid });
          if (this.clientMethod === 'overlay') {
            await this.createOverlay(cid, id, vid, source, sourceStat.size);
            return (await this.readDisk(cid, { imageId: id, versionId: vid }))!;
          }
          const tmp = tmpName(dir, 'disk.raw');
          await this.copyFile(source, tmp, this.clientMethod === 'reflink');
          await fsp.chmod(tmp, 0o644);
          await fsp.rename(tmp, disk);
          await syncDir(dir);
          return this.diskInfoFrom(cid, { imageId: id, versionId: vid }, disk, await fsp.stat(disk));
        },
        { shared: true },
      ),
    );
  }

  /** A meta file read and a stat per call (no process); always exact, so the port's `exact` option changes nothing. */
  async clientDisk(clientId: string): Promise<DiskInfo | null> {
    const cid = assertUuid(clientId, 'clientId');
    const meta = await this.readMeta(cid);
    if (!meta) return null;
    // An overlay not served yet (a restart in progress) is attached first: the path must read as the disk.
    return this.exported.has(cid) ? this.readDisk(cid, meta) : this.clientLocks.run(cid, () => this.readDisk(cid, meta));
  }

  async listClientDisks(): Promise<DiskInfo[]> {
    const disks = await Promise.all((await this.clientIds()).map((id) => this.clientDisk(id)));
    return disks.filter((d): d is DiskInfo => d !== null);
  }

  async destroyClientDisk(clientId: string): Promise<void> {
    const cid = assertUuid(clientId, 'clientId');
    await this.clientLocks.run(cid, async () => {
      if (this.daemon?.running && (this.exported.has(cid) || (await statOrNull(this.overlayPath(cid))))) await this.daemon.detach(cid);
      this.exported.delete(cid);
      try {
        await fsp.rm(this.clientDir(cid), { recursive: true, force: true });
      } catch (e) {
        // A mount left by a daemon that died (or one we could not detach): unmount lazily, then remove.
        if ((e as NodeJS.ErrnoException).code !== 'EBUSY' || !this.daemon) throw e;
        const disk = path.join(this.clientDir(cid), 'disk.raw');
        await this.daemon.sweepMounts((m) => m === disk, new Set());
        await fsp.rm(this.clientDir(cid), { recursive: true, force: true });
      }
    });
  }

  async commitClientDisk(clientId: string, imageId: string): Promise<void> {
    const cid = assertUuid(clientId, 'clientId');
    const id = assertUuid(imageId, 'imageId');
    await this.clientLocks.run(cid, () =>
      this.imageLocks.run(id, async () => {
        const meta = await this.readMeta(cid);
        // For an overlay this is the raw view through the daemon: the client's writes over the version, consistent
        // with what it has flushed (reading the qcow2 beside a writer could see half-updated metadata).
        const info = meta ? await this.readDisk(cid, meta) : null;
        if (!info) throw this.notFound('client disk', cid);
        const source = info.path;
        if (!(await statOrNull(this.imageDir(id)))) throw this.notFound('image', id);
        const staging = path.join(this.imageDir(id), '.staging');
        await fsp.mkdir(staging, { recursive: true });
        const tmp = tmpName(staging, 'commit.raw');
        if (this.exported.has(cid)) await this.copies.run(() => sparseCopyFile(source, tmp));
        else await this.copyFile(source, tmp);
        await fsp.chmod(tmp, 0o644);
        await fsp.rename(tmp, this.imageDiskPath(id));
        await syncDir(this.imageDir(id));
      }),
    );
  }

  async inventory(): Promise<ManagedItem[]> {
    const items: ManagedItem[] = [];
    for (const imageId of (await readdirOrEmpty(this.imagesDir)).filter((n) => UUID_RE.test(n)).sort()) {
      items.push({ kind: 'image', ref: this.imageDir(imageId), imageId });
      for (const versionId of await this.versionIds(imageId)) {
        items.push({ kind: 'version', ref: this.versionPath(imageId, versionId), imageId, versionId });
      }
      items.push(...(await stagingItems(path.join(this.imageDir(imageId), '.staging'), imageId)));
    }
    for (const clientId of await this.clientIds()) {
      const meta = await this.readMeta(clientId).catch(() => null);
      items.push({
        kind: 'client-disk',
        ref: this.clientDir(clientId),
        clientId,
        ...(meta ? { imageId: meta.imageId, versionId: meta.versionId } : {}),
      });
    }
    return items;
  }

  async spaceUsage(): Promise<SpaceUsage> {
    const allocated = async (file: string): Promise<number | null> => {
      try {
        return (await fsp.stat(file)).blocks * 512;
      } catch {
        return null; // gone meanwhile, or not made yet
      }
    };
    const usage: SpaceUsage = { versions: [], clientDisks: [] };
    for (const imageId of (await readdirOrEmpty(this.imagesDir)).filter((n) => UUID_RE.test(n))) {
      for (const versionId of await this.versionIds(imageId)) {
        const bytes = await allocated(this.versionPath(imageId, versionId));
        if (bytes !== null) usage.versions.push({ imageId, versionId, bytes });
      }
    }
    for (const clientId of await this.clientIds()) {
      const bytes = (await allocated(this.overlayPath(clientId))) ?? (await allocated(path.join(this.clientDir(clientId), 'disk.raw')));
      if (bytes !== null) usage.clientDisks.push({ clientId, bytes });
    }
    return usage;
  }

  async destroyManaged(item: ManagedItem): Promise<void> {
    switch (item.kind) {
      case 'client-disk':
        return this.destroyClientDisk(item.clientId ?? path.basename(item.ref));
      case 'version':
        return this.destroyVersion(item.imageId ?? '', item.versionId ?? '');
      case 'image':
        return this.destroyImage(item.imageId ?? path.basename(item.ref));
      case 'staging': {
        const id = assertUuid(item.imageId, 'imageId');
        return removeStagingEntry(item.ref, path.join(this.imageDir(id), '.staging'));
      }
      default:
        throw new StorageError(StorageErrorCode.INVALID_NAME, 'unknown managed item kind');
    }
  }

  /** The client disk method in effect (`reflink`, `overlay` or `copy`), as reported by `status()`. */
  get cloneMethod(): CloneMethod {
    return this.clientMethod;
  }

  private get imagesDir(): string {
    return path.join(this.root, 'images');
  }

  private get clientsDir(): string {
    return path.join(this.root, 'clients');
  }

  private imageDir(id: string): string {
    return path.join(this.imagesDir, id);
  }

  private versionPath(id: string, vid: string): string {
    return path.join(this.imageDir(id), 'versions', `${vid}.raw`);
  }

  private clientDir(cid: string): string {
    return path.join(this.clientsDir, cid);
  }

  private alreadyExists(id: string, vid: string): StorageError {
    return new StorageError(StorageErrorCode.ALREADY_EXISTS, `version ${vid} of image ${id} already exists`, { imageId: id, versionId: vid });
  }

  /** Undoes the image directory a failed receive made: only while it holds nothing (another receive may be writing). */
  private async removeImageDirIfEmpty(id: string): Promise<void> {
    await this.imageLocks.run(id, async () => {
      for (const dir of [path.join(this.imageDir(id), 'versions'), this.imageDir(id)]) {
        try {
          await fsp.rmdir(dir);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code !== 'ENOENT') return; // ENOTEMPTY: someone else's now
        }
      }
    });
  }

  private notFound(what: string, id: string): StorageError {
    return new StorageError(StorageErrorCode.NOT_FOUND, `${what} ${id} not found`, { id });
  }

  private async versionIds(imageId: string): Promise<string[]> {
    return (await readdirOrEmpty(path.join(this.imageDir(imageId), 'versions')))
      .filter((n) => n.endsWith('.raw') && UUID_RE.test(n.slice(0, -4)))
      .map((n) => n.slice(0, -4))
      .sort();
  }

  private async clientIds(): Promise<string[]> {
    return (await readdirOrEmpty(this.clientsDir)).filter((n) => UUID_RE.test(n)).sort();
  }

  private async readMeta(cid: string): Promise<ClientMeta | null> {
    let text: string;
    try {
      text = await fsp.readFile(path.join(this.clientDir(cid), 'meta.json'), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    try {
      const parsed = JSON.parse(text) as Partial<ClientMeta>;
      return { imageId: assertUuid(parsed.imageId, 'imageId'), versionId: assertUuid(parsed.versionId, 'versionId') };
    } catch {
      throw new StorageError(StorageErrorCode.COMMAND_FAILED, `corrupt meta.json for client ${cid}`, { clientId: cid });
    }
  }

  private async writeMeta(cid: string, meta: ClientMeta): Promise<void> {
    const dir = this.clientDir(cid);
    const tmp = tmpName(dir, 'meta.json');
    await fsp.writeFile(tmp, JSON.stringify(meta), { mode: 0o644 });
    await fsp.rename(tmp, path.join(dir, 'meta.json'));
  }

  private async copyFile(src: string, dst: string, preferReflink = this.method === 'reflink'): Promise<void> {
    const used = await this.copies.run(() => cloneOrCopyFile(src, dst, preferReflink && this.method === 'reflink'));
    if (used === 'copy' && this.method === 'reflink') {
      this.method = 'copy';
      if (this.clientMethod === 'reflink') this.clientMethod = 'copy';
    }
  }

  private overlayPath(cid: string): string {
    return path.join(this.clientDir(cid), 'overlay.qcow2');
  }

  /** `clients/<uuid>/disk.raw` under our root: a mountpoint only our daemon makes. */
  private isClientMount(mountpoint: string): boolean {
    const rel = path.relative(this.clientsDir, mountpoint).split(path.sep);
    return rel.length === 2 && UUID_RE.test(rel[0]) && rel[1] === 'disk.raw';
  }

  /**
   * The client's disk as it stands (null when not made yet): an overlay (attached to the daemon if it is not served
   * now) or a plain file. Call under the client's lock unless it is known to be served.
   */
  private async readDisk(cid: string, meta: ClientMeta): Promise<DiskInfo | null> {
    const disk = path.join(this.clientDir(cid), 'disk.raw');
    const overlay = await statOrNull(this.overlayPath(cid));
    if (!overlay) {
      const st = await statOrNull(disk);
      // An empty disk.raw beside no overlay is a mountpoint a crash left mid-destroy, not a copied disk.
      if (!st || (st.size === 0 && ((await statOrNull(this.versionPath(meta.imageId, meta.versionId)))?.size ?? 0) > 0)) return null;
      return this.diskInfoFrom(cid, meta, disk, st);
    }
    const version = await statOrNull(this.versionPath(meta.imageId, meta.versionId));
    if (!version) throw this.notFound('version (backing file of the overlay)', `${meta.imageId}/${meta.versionId}`);
    if (!this.exported.has(cid)) await this.attach(cid);
    return {
      clientId: cid,
      path: disk,
      imageId: meta.imageId,
      versionId: meta.versionId,
      sizeBytes: version.size,
      writtenBytes: overlay.blocks * 512,
    };
  }

  /**
   * A copy of the version's overlay template under a temporary name, renamed into place: O(1) whatever the version's
   * size. Every client's fresh overlay of a version is the same file (qcow2 holds no identity; the backing path is
   * absolute), so `qemu-img create` runs once per version and each client disk is a copy of ~200 KiB — no process
   * spawned per disk.
   */
  private async createOverlay(cid: string, imageId: string, versionId: string, source: string, sizeBytes: number): Promise<void> {
    const template = await this.overlayTemplate(imageId, versionId, source, sizeBytes);
    const dir = this.clientDir(cid);
    const tmp = tmpName(dir, 'overlay.qcow2');
    try {
      await fsp.copyFile(template, tmp);
      await fsp.chmod(tmp, 0o644);
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      throw e;
    }
    await fsp.rename(tmp, this.overlayPath(cid));
    await syncDir(dir);
  }

  /** `<image>/overlays/<versionId>.qcow2`, made by `qemu-img create` the first time a client disk of it is needed. */
  private async overlayTemplate(imageId: string, versionId: string, source: string, sizeBytes: number): Promise<string> {
    const file = path.join(this.imageDir(imageId), 'overlays', `${versionId}.qcow2`);
    if (this.templates.has(file)) return file;
    return this.templateLocks.run(versionId, async () => {
      if (!(await statOrNull(file))) {
        const dir = path.dirname(file);
        await fsp.mkdir(dir, { recursive: true });
        const tmp = tmpName(dir, `${versionId}.qcow2`);
        await this.qemuImg.createOverlay(tmp, source, sizeBytes);
        await fsp.chmod(tmp, 0o444);
        await fsp.rename(tmp, file);
        await syncDir(dir);
      }
      this.templates.add(file);
      return file;
    });
  }

  private async attach(cid: string): Promise<void> {
    const daemon = await this.startDaemon();
    const disk = path.join(this.clientDir(cid), 'disk.raw');
    // The mountpoint: an empty regular file (left from the last mount, or made now).
    const fh = await fsp.open(disk, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW, 0o644);
    await fh.close();
    const meta = await this.readMeta(cid);
    if (!meta) throw this.notFound('client disk', cid);
    await daemon.attach(cid, this.overlayPath(cid), disk, this.versionPath(meta.imageId, meta.versionId));
    this.exported.add(cid);
  }

  private async startDaemon(): Promise<FuseExportDaemon> {
    // Work still running at shutdown (a disk made ahead, a boot's export) must not start a daemon close() has stopped:
    // nothing would stop that one.
    if (this.closing) throw new StorageError(StorageErrorCode.POOL_UNAVAILABLE, 'storage is shutting down: overlay disks are not served');
    this.daemonWanted = true;
    if (!this.daemon) {
      this.daemon = new FuseExportDaemon({ runDir: path.join(this.root, 'run'), logger: this.options.logger });
    }
    const daemon = this.daemon;
    if (!daemon.running) {
      if (this.recovering) await this.recovering;
      if (!daemon.running) await daemon.start();
      if (daemon.listenerCount('down') === 0) daemon.on('down', () => void this.recover());
    }
    return daemon;
  }

  /** Converges the daemon's exports to the overlays on disk (see the class comment). Returns the ids it attached. */
  private async reconcileExports(): Promise<string[]> {
    const daemon = this.daemon!;
    const wanted = new Set(await this.overlayClientIds());
    const live = new Set((await daemon.list()).map((x) => x.key));
    for (const key of live) {
      if (!wanted.has(key)) await this.clientLocks.run(key, () => daemon.detach(key));
    }
    this.exported.clear();
    const served = [...live].filter((k) => wanted.has(k));
    for (const k of served) this.exported.add(k);
    await daemon.sweepMounts((m) => this.isClientMount(m), new Set(served.map((k) => path.join(this.clientDir(k), 'disk.raw'))));
    const attached: string[] = [];
    for (const cid of wanted) {
      if (live.has(cid)) continue;
      await this.clientLocks.run(cid, async () => {
        if (this.exported.has(cid) || !(await statOrNull(this.overlayPath(cid)))) return;
        try {
          await this.attach(cid);
          attached.push(cid);
        } catch (e) {
          this.options.logger?.error(`overlay disk of client ${cid} cannot be served: ${(e as Error).message}`);
        }
      });
    }
    return attached;
  }

  /** The daemon died under us: restart it and re-add every export (backoff capped at 30 s), then tell listeners. */
  private recover(): Promise<void> {
    this.exported.clear();
    this.recovering ??= (async () => {
      for (let attempt = 1; !this.closing; attempt++) {
        try {
          await this.daemon!.start();
          const attached = await this.reconcileExports();
          this.options.logger?.log(`qemu-storage-daemon restarted; ${attached.length} overlay disk(s) re-attached`);
          for (const l of this.reattachListeners) l(attached);
          return;
        } catch (e) {
          this.options.logger?.error(`qemu-storage-daemon restart attempt ${attempt} failed: ${(e as Error).message}`);
          await new Promise((r) => setTimeout(r, Math.min(1000 * attempt, 30_000)).unref());
        }
      }
    })().finally(() => (this.recovering = undefined));
    return this.recovering;
  }

  private async overlayClientIds(): Promise<string[]> {
    const ids: string[] = [];
    for (const cid of await this.clientIds()) {
      if ((await statOrNull(this.overlayPath(cid))) && (await this.readMeta(cid).catch(() => null))) ids.push(cid);
    }
    return ids;
  }

  private versionInfoFrom(ref: string, st: Stats): VersionInfo {
    const allocated = st.blocks * 512;
    return { ref, referencedBytes: allocated, usedBytes: allocated };
  }

  private diskInfoFrom(clientId: string, meta: ClientMeta, diskPath: string, st: Stats): DiskInfo {
    return {
      clientId,
      path: diskPath,
      imageId: meta.imageId,
      versionId: meta.versionId,
      sizeBytes: st.size,
      writtenBytes: st.blocks * 512,
    };
  }

  private async probeReflink(): Promise<boolean> {
    const a = path.join(this.root, `.reflink-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
    const b = `${a}.clone`;
    try {
      await fsp.writeFile(a, Buffer.alloc(4096, 1));
      await reflinkFile(a, b);
      return true;
    } catch (e) {
      if (isStorageError(e, StorageErrorCode.REFLINK_UNSUPPORTED)) return false;
      throw e;
    } finally {
      await fsp.rm(a, { force: true });
      await fsp.rm(b, { force: true });
    }
  }

  /** Removes temporaries left by a crash (`.<name>.tmp-<hex>`) and 0-byte reflink leftovers among them. */
  private async sweepTemporaries(): Promise<void> {
    const dirs: string[] = [];
    for (const imageId of (await readdirOrEmpty(this.imagesDir)).filter((n) => UUID_RE.test(n))) {
      dirs.push(
        path.join(this.imageDir(imageId), 'versions'),
        path.join(this.imageDir(imageId), '.staging'),
        path.join(this.imageDir(imageId), 'overlays'),
      );
    }
    for (const clientId of await this.clientIds()) dirs.push(this.clientDir(clientId));
    for (const dir of dirs) {
      for (const name of await readdirOrEmpty(dir)) {
        if (name.startsWith('.') && name.includes(TMP_MARK)) await fsp.rm(path.join(dir, name), { force: true });
      }
    }
  }
}
