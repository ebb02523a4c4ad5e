import { randomBytes } from 'node:crypto';
import { constants as fsConstants, promises as fsp, Stats } from 'node:fs';
import * as path from 'node:path';
import { cloneOrCopyFile, reflinkFile, removeStagingEntry, stagingItems, syncDir } from './file-copy';
import { KeyedLock, Semaphore } from '@common/concurrency/keyed-lock';
import { CloneMethod, DiskInfo, ManagedItem, SpaceUsage, StorageDriver, StorageStatus, VersionInfo } from './storage-driver';
import { StorageError, StorageErrorCode, isStorageError } from './storage.errors';
import { UUID_RE, assertUuid } from './storage-ids';

export interface DirStorageDriverOptions {
  /** Absolute directory that holds `images/` and `clients/`. */
  root: string;
  /** Full copies running at once (reflinks are cheap, full copies are disk-bound). Default 4. */
  maxConcurrentCopies?: number;
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
 * Versions and client disks are reflinks (`FICLONE`, btrfs/xfs) when the filesystem can, otherwise sparse full
 * copies; the method is probed once in `init()` and downgraded if a reflink is ever refused. Every file is written
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

  constructor(options: DirStorageDriverOptions) {
    if (typeof options.root !== 'string' || !path.isAbsolute(options.root) || options.root.includes('\0')) {
      throw new StorageError(StorageErrorCode.INVALID_NAME, 'dir storage root must be an absolute path');
    }
    this.root = path.resolve(options.root);
    this.copies = new Semaphore(options.maxConcurrentCopies ?? 4);
  }

  async init(): Promise<void> {
    try {
      await fsp.mkdir(this.imagesDir, { recursive: true });
      await fsp.mkdir(this.clientsDir, { recursive: true });
    } catch (e) {
      throw new StorageError(StorageErrorCode.POOL_UNAVAILABLE, `cannot create ${this.root}: ${(e as Error).message}`);
    }
    this.method = (await this.probeReflink()) ? 'reflink' : 'copy';
    await this.sweepTemporaries();
  }

  async status(): Promise<StorageStatus> {
    const base = { driver: 'dir' as const, root: this.root, cloneMethod: this.method };
    try {
      await fsp.access(this.imagesDir, fsConstants.W_OK);
      await fsp.access(this.clientsDir, fsConstants.W_OK);
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
            const st = await statOrNull(disk);
            if (st) return this.diskInfoFrom(cid, meta, disk, st);
          }
          const source = this.versionPath(id, vid);
          if (!(await statOrNull(source))) throw this.notFound('version', `${id}/${vid}`);
          await fsp.mkdir(dir, { recursive: true });
          // Intent first: the version counts as used from here on, even if we crash mid-copy.
          if (!meta) await this.writeMeta(cid, { imageId: id, versionId: vid });
          const tmp = tmpName(dir, 'disk.raw');
          await this.copyFile(source, tmp);
          await fsp.chmod(tmp, 0o644);
          await fsp.rename(tmp, disk);
          await syncDir(dir);
          return this.diskInfoFrom(cid, { imageId: id, versionId: vid }, disk, await fsp.stat(disk));
        },
        { shared: true },
      ),
    );
  }

  async clientDisk(clientId: string): Promise<DiskInfo | null> {
    const cid = assertUuid(clientId, 'clientId');
    const meta = await this.readMeta(cid);
    if (!meta) return null;
    const disk = path.join(this.clientDir(cid), 'disk.raw');
    const st = await statOrNull(disk);
    return st ? this.diskInfoFrom(cid, meta, disk, st) : null;
  }

  async listClientDisks(): Promise<DiskInfo[]> {
    const disks = await Promise.all((await this.clientIds()).map((id) => this.clientDisk(id)));
    return disks.filter((d): d is DiskInfo => d !== null);
  }

  async destroyClientDisk(clientId: string): Promise<void> {
    const cid = assertUuid(clientId, 'clientId');
    await this.clientLocks.run(cid, () => fsp.rm(this.clientDir(cid), { recursive: true, force: true }));
  }

  async commitClientDisk(clientId: string, imageId: string): Promise<void> {
    const cid = assertUuid(clientId, 'clientId');
    const id = assertUuid(imageId, 'imageId');
    await this.clientLocks.run(cid, () =>
      this.imageLocks.run(id, async () => {
        const source = path.join(this.clientDir(cid), 'disk.raw');
        if (!(await this.readMeta(cid)) || !(await statOrNull(source))) throw this.notFound('client disk', cid);
        if (!(await statOrNull(this.imageDir(id)))) throw this.notFound('image', id);
        const staging = path.join(this.imageDir(id), '.staging');
        await fsp.mkdir(staging, { recursive: true });
        const tmp = tmpName(staging, 'commit.raw');
        await this.copyFile(source, tmp);
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
      const bytes = await allocated(path.join(this.clientDir(clientId), 'disk.raw'));
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

  /** The clone method in effect (`reflink` or `copy`), as reported by `status()`. */
  get cloneMethod(): CloneMethod {
    return this.method;
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

  private async copyFile(src: string, dst: string): Promise<void> {
    const used = await this.copies.run(() => cloneOrCopyFile(src, dst, this.method === 'reflink'));
    if (used !== this.method) this.method = used;
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
      dirs.push(path.join(this.imageDir(imageId), 'versions'), path.join(this.imageDir(imageId), '.staging'));
    }
    for (const clientId of await this.clientIds()) dirs.push(this.clientDir(clientId));
    for (const dir of dirs) {
      for (const name of await readdirOrEmpty(dir)) {
        if (name.startsWith('.') && name.includes(TMP_MARK)) await fsp.rm(path.join(dir, name), { force: true });
      }
    }
  }
}
