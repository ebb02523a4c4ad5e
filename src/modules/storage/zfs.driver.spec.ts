import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { StorageError, StorageErrorCode } from './storage.errors';
import type { ZfsAdapter, ZfsProperty, ZfsPropertyTable } from './zfs.adapter';
import { ZfsStorageDriver } from './zfs.driver';

interface FakeDataset {
  mountpoint: string;
  mounted: boolean;
  origin?: string;
  props: Record<string, string>;
  usedbydataset: number;
}

/**
 * An in-memory `zfs` for the driver's client-disk paths: datasets are directories under a temp dir, a clone gets a
 * sparse `disk.raw`, unmounting moves it out of sight (the mountpoint is then an empty directory, as on zfs-fuse).
 * `calls` records every command the driver would have run.
 */
class FakeZfs {
  readonly datasets = new Map<string, FakeDataset>();
  readonly calls: string[] = [];
  constructor(private readonly base: string) {}

  private mountpointOf(name: string): string {
    return path.join(this.base, 'mnt', ...name.split('/').slice(1));
  }
  private hidden(name: string): string {
    return path.join(this.base, 'hidden', name.replace(/\//g, '_'));
  }

  async poolHealth(): Promise<string> {
    return 'ONLINE';
  }
  async mountAll(): Promise<void> {
    this.calls.push('mount -a');
  }
  async create(name: string, props: Record<string, string> = {}): Promise<void> {
    this.calls.push(`create ${name}`);
    if (this.datasets.has(name)) throw new StorageError(StorageErrorCode.ALREADY_EXISTS, `${name} exists`);
    const mountpoint = this.mountpointOf(name);
    await fsp.mkdir(mountpoint, { recursive: true });
    this.datasets.set(name, { mountpoint, mounted: true, props: { ...props }, usedbydataset: 0 });
  }
  async list(): Promise<{ name: string }[]> {
    this.calls.push('list');
    return [];
  }
  async clone(snap: string, name: string, props: Record<string, string>): Promise<void> {
    this.calls.push(`clone ${name}`);
    if (this.datasets.has(name)) throw new StorageError(StorageErrorCode.ALREADY_EXISTS, `${name} exists`);
    const mountpoint = this.mountpointOf(name);
    await fsp.mkdir(mountpoint, { recursive: true });
    await fsp.writeFile(path.join(mountpoint, 'disk.raw'), '');
    await fsp.truncate(path.join(mountpoint, 'disk.raw'), 8 << 20);
    this.datasets.set(name, { mountpoint, mounted: true, origin: snap, props: { ...props }, usedbydataset: 0 });
  }
  async mount(name: string): Promise<void> {
    this.calls.push(`mount ${name}`);
    const ds = this.datasets.get(name)!;
    if (ds.mounted) return;
    await fsp.rename(this.hidden(name), path.join(ds.mountpoint, 'disk.raw'));
    ds.mounted = true;
  }
  async unmount(name: string): Promise<void> {
    this.calls.push(`umount ${name}`);
    const ds = this.datasets.get(name);
    if (!ds) throw new StorageError(StorageErrorCode.NOT_FOUND, `${name} does not exist`);
    if (!ds.mounted) return;
    await fsp.mkdir(path.dirname(this.hidden(name)), { recursive: true });
    await fsp.rename(path.join(ds.mountpoint, 'disk.raw'), this.hidden(name));
    ds.mounted = false;
  }
  async destroy(name: string): Promise<void> {
    this.calls.push(`destroy ${name}`);
    const ds = this.datasets.get(name);
    if (!ds) throw new StorageError(StorageErrorCode.NOT_FOUND, `${name} does not exist`);
    this.datasets.delete(name);
    await fsp.rm(ds.mountpoint, { recursive: true, force: true });
    await fsp.rm(this.hidden(name), { force: true });
  }
  /** Like `zfs destroy` by hand (nothing of the driver runs). */
  async destroyBehindTheBack(name: string): Promise<void> {
    await this.destroy(name);
    this.calls.pop();
  }
  async get(names: readonly string[], props: readonly string[], options: { depth?: number; allowMissing?: boolean } = {}): Promise<ZfsPropertyTable> {
    this.calls.push(`get ${names.join(' ')}${options.depth ? ` -d ${options.depth}` : ''}`);
    const table: ZfsPropertyTable = new Map();
    const wanted = new Set<string>();
    for (const n of names) {
      if (!this.datasets.has(n)) {
        if (options.allowMissing) continue;
        throw new StorageError(StorageErrorCode.NOT_FOUND, `${n} does not exist`);
      }
      wanted.add(n);
      if (options.depth === 1) for (const d of this.datasets.keys()) if (d.startsWith(`${n}/`) && !d.slice(n.length + 1).includes('/')) wanted.add(d);
    }
    for (const n of wanted) {
      const ds = this.datasets.get(n)!;
      const row = new Map<string, ZfsProperty>();
      const cell = (value: string, source = 'local'): ZfsProperty => ({ value, source });
      for (const p of props) {
        if (p === 'mountpoint') row.set(p, cell(ds.mountpoint, 'default'));
        else if (p === 'mounted') row.set(p, cell(ds.mounted ? 'yes' : 'no', '-'));
        else if (p === 'origin') row.set(p, cell(ds.origin ?? '-', '-'));
        else if (p === 'usedbydataset') row.set(p, cell(String(ds.usedbydataset), '-'));
        else if (ds.props[p] !== undefined) row.set(p, cell(ds.props[p]));
      }
      table.set(n, row);
    }
    return table;
  }
  async getOne(name: string, props: readonly string[]): Promise<Map<string, ZfsProperty> | undefined> {
    return (await this.get([name], props, { allowMissing: true })).get(name);
  }
  /** The `zfs` processes run since the last call. */
  take(): string[] {
    return this.calls.splice(0);
  }
}

describe('ZfsStorageDriver client disks: known clones are answered from memory', () => {
  let base: string;
  let zfs: FakeZfs;
  let driver: ZfsStorageDriver;
  const root = 'tank/dls';
  const imageId = randomUUID();
  const versionId = randomUUID();
  const clientDs = (cid: string): string => `${root}/clients/${cid}`;

  beforeEach(async () => {
    base = await fsp.mkdtemp(path.join(tmpdir(), 'zfs-driver-spec-'));
    zfs = new FakeZfs(base);
    driver = new ZfsStorageDriver(zfs as unknown as ZfsAdapter, { root });
    await driver.init();
    zfs.take();
  });

  afterEach(async () => {
    await fsp.rm(base, { recursive: true, force: true });
  });

  it('runs no zfs process for a boot of a disk it made: clientDisk and re-ensure are a stat', async () => {
    const cid = randomUUID();
    const made = await driver.ensureClientDisk(cid, imageId, versionId);
    expect(zfs.take()).toEqual([`clone ${clientDs(cid)}`]);
    expect(made).toMatchObject({ clientId: cid, imageId, versionId, sizeBytes: 8 << 20, writtenBytes: 0 });

    for (let i = 0; i < 3; i++) {
      expect(await driver.clientDisk(cid)).toEqual(made);
      expect(await driver.ensureClientDisk(cid, imageId, versionId)).toEqual(made);
    }
    expect(zfs.take()).toEqual([]);
  });

  it('sees the size through the stat, and the written bytes zfs last reported (exact: asks zfs)', async () => {
    const cid = randomUUID();
    const made = await driver.ensureClientDisk(cid, imageId, versionId);
    await fsp.truncate(made.path, 16 << 20);
    zfs.datasets.get(clientDs(cid))!.usedbydataset = 4096;
    zfs.take();
    expect(await driver.clientDisk(cid)).toMatchObject({ sizeBytes: 16 << 20, writtenBytes: 0 });
    expect(zfs.take()).toEqual([]);

    expect(await driver.clientDisk(cid, { exact: true })).toMatchObject({ sizeBytes: 16 << 20, writtenBytes: 4096 });
    expect(zfs.take()).toEqual([`get ${clientDs(cid)}`]);
    // What the exact look-up read is what memory answers from now on.
    expect(await driver.clientDisk(cid)).toMatchObject({ writtenBytes: 4096 });
    expect(zfs.take()).toEqual([]);
  });

  it('detects a clone destroyed by hand (null, so the caller re-creates it) and re-creates it with a clone', async () => {
    const cid = randomUUID();
    await driver.ensureClientDisk(cid, imageId, versionId);
    await zfs.destroyBehindTheBack(clientDs(cid));
    zfs.take();
    expect(await driver.clientDisk(cid)).toBeNull();
    expect(zfs.take()).toEqual([`get ${clientDs(cid)}`]);
    // Forgotten: asked again next time (still gone), then made afresh.
    expect(await driver.clientDisk(cid)).toBeNull();
    expect(zfs.take()).toEqual([`get ${clientDs(cid)}`]);
    await driver.ensureClientDisk(cid, imageId, versionId);
    expect(zfs.take()).toEqual([`clone ${clientDs(cid)}`]);
  });

  it('re-mounts a clone unmounted behind its back (the stat fails, zfs says it exists)', async () => {
    const cid = randomUUID();
    const made = await driver.ensureClientDisk(cid, imageId, versionId);
    await zfs.unmount(clientDs(cid));
    zfs.take();
    expect(await driver.clientDisk(cid)).toEqual(made);
    expect(zfs.take()).toEqual([`get ${clientDs(cid)}`, `mount ${clientDs(cid)}`]);
    await expect(fsp.stat(made.path)).resolves.toBeTruthy();
  });

  it('forgets a clone it destroys', async () => {
    const cid = randomUUID();
    await driver.ensureClientDisk(cid, imageId, versionId);
    await driver.destroyClientDisk(cid);
    zfs.take();
    expect(await driver.clientDisk(cid)).toBeNull();
    expect(zfs.take()).toEqual([`get ${clientDs(cid)}`]);
  });

  it('asks zfs for a client it knows nothing of, then answers from memory', async () => {
    const cid = randomUUID();
    const other = new ZfsStorageDriver(zfs as unknown as ZfsAdapter, { root });
    await other.ensureClientDisk(cid, imageId, versionId); // made by "another process": unknown to `driver`
    zfs.take();
    expect(await driver.clientDisk(cid)).toMatchObject({ clientId: cid, imageId, versionId });
    expect(zfs.take()).toEqual([`get ${clientDs(cid)}`]);
    expect(await driver.clientDisk(cid)).toMatchObject({ clientId: cid, imageId, versionId });
    expect(zfs.take()).toEqual([]);
  });

  it('knows every clone after init (one listing), so a restart costs no zfs process per boot', async () => {
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    for (const cid of ids) await driver.ensureClientDisk(cid, imageId, versionId);
    const restarted = new ZfsStorageDriver(zfs as unknown as ZfsAdapter, { root });
    await restarted.init();
    expect(zfs.take().filter((c) => c.startsWith('get '))).toContain(`get ${root}/clients -d 1`);
    for (const cid of ids) expect(await restarted.clientDisk(cid)).toMatchObject({ clientId: cid, versionId });
    expect(zfs.take()).toEqual([]);
  });

  it('does not take the known record for a disk of another version: ensure asks zfs and refuses', async () => {
    const cid = randomUUID();
    await driver.ensureClientDisk(cid, imageId, versionId);
    zfs.take();
    const err = await driver.ensureClientDisk(cid, imageId, randomUUID()).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).code).toBe(StorageErrorCode.ALREADY_EXISTS);
    expect(zfs.take()).toEqual([`clone ${clientDs(cid)}`, `get ${clientDs(cid)}`]);
  });

  it('a listing that started before a destroy and re-clone does not bring the old clone back', async () => {
    const cid = randomUUID();
    await driver.ensureClientDisk(cid, imageId, versionId);
    // The listing's zfs get answers with the clone, but only after the clone was destroyed.
    const realGet = zfs.get.bind(zfs);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    jest.spyOn(zfs, 'get').mockImplementationOnce(async (...args: Parameters<FakeZfs['get']>) => {
      const table = await realGet(...args);
      await gate;
      return table;
    });
    const listing = driver.listClientDisks();
    await new Promise((r) => setImmediate(r));
    await driver.destroyClientDisk(cid);
    const newVersion = randomUUID();
    await driver.ensureClientDisk(cid, imageId, newVersion); // the client moved to another version meanwhile
    release();
    expect((await listing).map((d) => [d.clientId, d.versionId])).toEqual([[cid, versionId]]);
    zfs.take();
    expect(await driver.clientDisk(cid)).toMatchObject({ versionId: newVersion });
    expect(zfs.take()).toEqual([]);
  });

  it('commitClientDisk still works while it holds the client lock (no re-entry into clientDisk)', async () => {
    const cid = randomUUID();
    await driver.ensureImage(imageId);
    await driver.ensureClientDisk(cid, imageId, versionId);
    await expect(driver.commitClientDisk(cid, imageId)).resolves.toBeUndefined();
    const image = await fsp.stat(driver.imageDiskPath(imageId));
    expect(image.size).toBe(8 << 20);
  });
});
