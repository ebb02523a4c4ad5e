/**
 * ZfsStorageDriver on a REAL zfs-fuse pool (sparse file in a temp dir, started by the helper when needed).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { Transform } from 'node:stream';
import { QemuImgAdapter } from '../../src/modules/storage/qemu-img.adapter';
import { StorageErrorCode } from '../../src/modules/storage/storage.errors';
import { ZfsAdapter } from '../../src/modules/storage/zfs.adapter';
import { ZfsStorageDriver } from '../../src/modules/storage/zfs.driver';
import { TestPool, createTestPool, destroyTestPool, ensureZfsFuse, releaseZfsFuse } from '../support/zfs-fuse';
import { MiB, describeReplicationContract, describeStorageContract, readAt, storageErrorOf, writeAt } from './storage-contract';

jest.setTimeout(120_000);

describe('ZfsStorageDriver (zfs-fuse)', () => {
  let pool: TestPool;
  let adapter: ZfsAdapter;
  let driver: ZfsStorageDriver;

  beforeAll(async () => {
    await ensureZfsFuse();
    pool = await createTestPool();
    adapter = new ZfsAdapter({ busyRetry: { maxMs: 60_000, initialMs: 50 }, timeoutMs: 60_000 });
    driver = new ZfsStorageDriver(adapter, { root: `${pool.name}/dls`, imageDatasetProps: { compression: 'off' } });
    await driver.init();
  });

  afterAll(async () => {
    try {
      if (pool) await destroyTestPool(pool);
    } finally {
      await releaseZfsFuse();
    }
  }, 420_000); // destroyTestPool's own deadline (300 s, for zfs-fuse on busy cores) comes first

  it('init is idempotent and status reports an ONLINE pool with exact byte counts', async () => {
    await driver.init();
    const s = await driver.status();
    expect(s).toMatchObject({ driver: 'zfs', root: `${pool.name}/dls`, cloneMethod: 'zfs-clone', healthy: true });
    expect(s.totalBytes).toBeGreaterThan(3 * 1024 ** 3);
    expect(s.totalBytes).toBe(s.usedBytes + s.freeBytes);
    expect(Number.isInteger(s.usedBytes)).toBe(true);
  });

  describe('storage contract', () => {
    describeStorageContract(() => driver);
  });

  describe('replication to another node (a second root in the same pool)', () => {
    let other: ZfsStorageDriver;

    beforeAll(async () => {
      other = new ZfsStorageDriver(new ZfsAdapter({ busyRetry: { maxMs: 60_000, initialMs: 50 }, timeoutMs: 60_000 }), {
        root: `${pool.name}/dls2`,
        imageDatasetProps: { compression: 'off' },
      });
      await other.init();
    });

    describeReplicationContract(
      () => driver,
      () => other,
    );

    it('receives a version exactly as createVersion makes one: dls:* properties set locally, the hold, mounted (64 MiB of data)', async () => {
      const imageId = randomUUID();
      const versionId = randomUUID();
      const disk = await driver.ensureImage(imageId);
      await fsp.writeFile(disk, randomBytes(64 * MiB));
      await driver.createVersion(imageId, versionId);
      const out = await driver.sendVersion(imageId, versionId);
      let bytes = 0;
      const counted = out.stream.pipe(
        new Transform({
          transform(chunk: Buffer, _enc, cb) {
            bytes += chunk.length;
            cb(null, chunk);
          },
        }),
      );
      const started = Date.now();
      await other.receiveVersion(imageId, versionId, { format: out.format, baseVersionId: out.baseVersionId, stream: counted });
      const seconds = (Date.now() - started) / 1000;
      console.log(
        `zfs: full stream of 64 MiB of random data: ${bytes} bytes in ${seconds.toFixed(2)} s = ${(bytes / MiB / seconds).toFixed(0)} MiB/s`,
      );
      const ds = `${pool.name}/dls2/images/${imageId}`;
      const snap = `${ds}@v-${versionId}`;
      const props = ['dls:managed', 'dls:image-id', 'dls:version-id', 'userrefs', 'mounted', 'compression'];
      const t = await adapter.get([ds, snap], props);
      const local = (name: string, prop: string) => t.get(name)?.get(prop);
      expect(local(ds, 'dls:managed')).toEqual({ value: '1', source: 'local' });
      expect(local(ds, 'dls:image-id')).toEqual({ value: imageId, source: 'local' });
      expect(local(ds, 'mounted')?.value).toBe('yes');
      expect(local(ds, 'compression')).toEqual({ value: 'off', source: 'local' });
      expect(local(snap, 'dls:managed')).toEqual({ value: '1', source: 'local' });
      expect(local(snap, 'dls:image-id')).toEqual({ value: imageId, source: 'local' });
      expect(local(snap, 'dls:version-id')).toEqual({ value: versionId, source: 'local' });
      expect(local(snap, 'userrefs')?.value).toBe('1');
      expect(await other.imageSizeBytes(imageId)).toBe(64 * MiB);
      expect(await other.versionSha256(imageId, versionId)).toBe(await driver.versionSha256(imageId, versionId));
      for (const d of [driver, other]) {
        await d.destroyVersion(imageId, versionId);
        await d.destroyImage(imageId);
      }
    });

    it('leaves no hash clone behind', async () => {
      const left = await adapter.list(`${pool.name}/dls/images`, ['filesystem'], { depth: 1 });
      expect(left.map((e) => e.name)).toEqual([`${pool.name}/dls/images`]);
    });
  });

  describe('zfs specifics', () => {
    const imageId = randomUUID();
    const versionId = randomUUID();

    beforeAll(async () => {
      const diskPath = await driver.ensureImage(imageId);
      await new QemuImgAdapter().createBlank(diskPath, 16 * MiB);
      await writeAt(diskPath, 0, Buffer.alloc(MiB, 0x5a));
      await driver.createVersion(imageId, versionId);
    });

    it('stores the layout and user properties DLS relies on (clones get them explicitly)', async () => {
      const clientId = randomUUID();
      const disk = await driver.ensureClientDisk(clientId, imageId, versionId);
      const snap = `${pool.name}/dls/images/${imageId}@v-${versionId}`;
      const ds = `${pool.name}/dls/clients/${clientId}`;
      const t = await adapter.get([snap, ds], ['userrefs', 'origin', 'dls:managed', 'dls:client-id', 'dls:image-id']);
      expect(t.get(snap)?.get('userrefs')?.value).toBe('1');
      expect(t.get(ds)?.get('origin')?.value).toBe(snap);
      expect(t.get(ds)?.get('dls:managed')).toEqual({ value: '1', source: 'local' });
      expect(t.get(ds)?.get('dls:client-id')?.value).toBe(clientId);
      expect(t.get(ds)?.get('dls:image-id')).toEqual({ value: imageId, source: 'local' });
      expect(disk.path).toBe(`${pool.mountpoint}/dls/clients/${clientId}/disk.raw`);

      // writtenBytes = usedbydataset: grows once the client writes (space accounting lags a txg). An exact look-up
      // asks zfs; the boot path's answers from memory keep the last figure zfs gave (0 for a fresh clone).
      await writeAt(disk.path, 2 * MiB, Buffer.alloc(4 * MiB, 0x77));
      const deadline = Date.now() + 20_000;
      let written = 0;
      while (Date.now() < deadline && written < 4 * MiB) {
        written = (await driver.clientDisk(clientId, { exact: true }))?.writtenBytes ?? 0;
        if (written < 4 * MiB) await new Promise((r) => setTimeout(r, 200));
      }
      expect(written).toBeGreaterThanOrEqual(4 * MiB);
      expect((await driver.clientDisk(clientId))?.writtenBytes).toBe(written);
      await driver.destroyClientDisk(clientId);
    });

    it('answers a known clone without zfs, and still sees one destroyed or unmounted by hand', async () => {
      const clientId = randomUUID();
      const ds = `${pool.name}/dls/clients/${clientId}`;
      const disk = await driver.ensureClientDisk(clientId, imageId, versionId);
      const get = jest.spyOn(adapter, 'get');
      try {
        expect(await driver.clientDisk(clientId)).toEqual(disk);
        expect(await driver.ensureClientDisk(clientId, imageId, versionId)).toEqual(disk);
        expect(get).not.toHaveBeenCalled();
        // Unmounted behind DLS's back: the look-up asks zfs and mounts it again.
        await adapter.unmount(ds);
        expect(await driver.clientDisk(clientId)).toMatchObject({ clientId, path: disk.path, versionId });
        expect(await readAt(disk.path, 0, 16)).toEqual(Buffer.alloc(16, 0x5a));
        // Destroyed behind DLS's back: null (ClientDisksService then makes a fresh one).
        get.mockClear();
        await adapter.unmount(ds);
        await adapter.destroy(ds);
        expect(await driver.clientDisk(clientId)).toBeNull();
        expect(get).toHaveBeenCalledTimes(1);
      } finally {
        get.mockRestore();
      }
      await driver.destroyClientDisk(clientId);
    });

    it('does not list datasets or snapshots it did not create', async () => {
      await adapter.create(`${pool.name}/dls/images/foreign`);
      await adapter.snapshot(`${pool.name}/dls/images/${imageId}@manual`);
      const inv = await driver.inventory();
      expect(inv.map((i) => i.ref).sort()).toEqual(
        [`${pool.name}/dls/images/${imageId}`, `${pool.name}/dls/images/${imageId}@v-${versionId}`].sort(),
      );
      await adapter.destroy(`${pool.name}/dls/images/${imageId}@manual`);
      await adapter.destroy(`${pool.name}/dls/images/foreign`);
    });

    it('reports a snapshot held by someone else as DATASET_BUSY at once (a hold is not transient)', async () => {
      const snap = `${pool.name}/dls/images/${imageId}@v-${versionId}`;
      await adapter.hold(snap, 'keep');
      const started = Date.now();
      const err = await storageErrorOf(driver.destroyVersion(imageId, versionId));
      expect(err.code).toBe(StorageErrorCode.DATASET_BUSY);
      expect(err.details).toMatchObject({ reason: 'held', userrefs: 1 });
      expect(Date.now() - started).toBeLessThan(10_000);
      // The failed destroy re-protected the version.
      expect(await adapter.userrefs(snap)).toBe(2);
      await adapter.release(snap, 'keep');
      expect(await driver.versionInfo(imageId, versionId)).not.toBeNull();
    });

    it('reports a client disk with open files as DATASET_BUSY, and destroys it once they are closed', async () => {
      const clientId = randomUUID();
      const disk = await driver.ensureClientDisk(clientId, imageId, versionId);
      const fh = await fsp.open(disk.path, 'r+');
      try {
        await fh.write(Buffer.alloc(MiB, 0x42), 0, MiB, 0);
        const err = await storageErrorOf(driver.destroyClientDisk(clientId));
        expect(err.code).toBe(StorageErrorCode.DATASET_BUSY);
        expect(await driver.clientDisk(clientId)).not.toBeNull();
      } finally {
        await fh.close();
      }
      await driver.destroyClientDisk(clientId);
      expect(await driver.clientDisk(clientId)).toBeNull();
    });

    it('survives a remount cycle: zfs mount -a in init re-mounts what an unmount left behind', async () => {
      const clientId = randomUUID();
      const disk = await driver.ensureClientDisk(clientId, imageId, versionId);
      await adapter.unmount(`${pool.name}/dls/clients/${clientId}`);
      await driver.init();
      expect(await readAt(disk.path, 0, 16)).toEqual(Buffer.alloc(16, 0x5a));
      await driver.destroyClientDisk(clientId);
    });

    it("starts when another dataset on the host can't be mounted (zfs mount -a fails there): it mounts its own one by one", async () => {
      // Someone else's dataset whose mountpoint directory is not empty: `zfs mount -a` fails on it, every time.
      const other = `${pool.name}/not-dls`;
      const otherMount = `${pool.mountpoint}/not-dls`; // inherited from the pool
      await adapter.create(other);
      await adapter.unmount(other);
      await fsp.writeFile(`${otherMount}/someone-elses-file`, 'x');
      try {
        const clientId = randomUUID();
        const disk = await driver.ensureClientDisk(clientId, imageId, versionId);
        await adapter.unmount(`${pool.name}/dls/clients/${clientId}`);
        await driver.init();
        expect(await readAt(disk.path, 0, 16)).toEqual(Buffer.alloc(16, 0x5a));
        await driver.destroyClientDisk(clientId);
      } finally {
        await adapter.destroy(other);
        await fsp.rm(otherMount, { recursive: true, force: true });
      }
    });

    it('refuses new client disks at the mount limit (zfs-fuse serves at most 1,000 mounts) but re-ensures old ones', async () => {
      const existing = randomUUID();
      await driver.ensureClientDisk(existing, imageId, versionId);
      const mounts = (await fsp.readFile('/proc/self/mounts', 'utf8')).split('\n').filter((l) => l.split(' ')[2] === 'fuse.zfs');
      const limited = new ZfsStorageDriver(adapter, { root: `${pool.name}/dls`, mountLimit: mounts.length });
      await limited.init();
      const err = await storageErrorOf(limited.ensureClientDisk(randomUUID(), imageId, versionId));
      expect(err).toMatchObject({ code: StorageErrorCode.NO_SPACE, details: { reason: 'mount-limit' } });
      expect(await limited.ensureClientDisk(existing, imageId, versionId)).toMatchObject({ clientId: existing });
      await driver.destroyClientDisk(existing);
    });

    it('cleans up', async () => {
      await driver.destroyVersion(imageId, versionId);
      await driver.destroyImage(imageId);
      expect(await driver.inventory()).toEqual([]);
    });
  });

  it('reports a missing pool as POOL_UNAVAILABLE (init) and unhealthy (status)', async () => {
    const missing = new ZfsStorageDriver(adapter, { root: `nopool${process.pid}/dls` });
    expect((await storageErrorOf(missing.init())).code).toBe(StorageErrorCode.POOL_UNAVAILABLE);
    expect(await missing.status()).toMatchObject({ healthy: false, driver: 'zfs' });
    expect(() => missing.imageDiskPath(randomUUID())).toThrow(/init/);
  });
});
