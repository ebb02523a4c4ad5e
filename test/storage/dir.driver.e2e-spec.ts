/**
 * DirStorageDriver on a temp dir (ext4 on the reference box: no reflink), once with the default (`auto`: qcow2 overlays
 * served by qemu-storage-daemon — run under `flock /tmp/dls-heavy-tests.lock`) and once with full copies (`copy`);
 * the reflink path runs in bench/clones.bench.ts on an xfs loop mount. Overlay specifics: dir-overlay.e2e-spec.ts.
 */
import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DirCloneSetting, DirStorageDriver } from '../../src/modules/storage/dir.driver';
import { StorageErrorCode } from '../../src/modules/storage/storage.errors';
import { MiB, describeReplicationContract, describeStorageContract, expectBytes, readAt, storageErrorOf, writeAt } from './storage-contract';

jest.setTimeout(120_000);

describe.each<[DirCloneSetting]>([['overlay'], ['copy']])('DirStorageDriver (temp dir, clone %s)', (clone) => {
  let root: string;
  let driver: DirStorageDriver;
  let overlay = false;

  beforeAll(async () => {
    root = await fsp.mkdtemp(path.join(os.tmpdir(), 'dls-dir-driver-'));
    driver = new DirStorageDriver({ root, clone });
    await driver.init();
    overlay = driver.cloneMethod === 'overlay';
  });

  afterAll(async () => {
    await driver?.close();
    if (root) await fsp.rm(root, { recursive: true, force: true });
  });

  it('probes the clone method once and reports capacity', async () => {
    const s = await driver.status();
    expect(s).toMatchObject({ driver: 'dir', root, healthy: true });
    expect(clone === 'copy' ? ['copy'] : ['reflink', 'overlay']).toContain(s.cloneMethod);
    expect(s.totalBytes).toBeGreaterThan(0);
    expect(s.freeBytes).toBeLessThanOrEqual(s.totalBytes);
    // `run/` holds the overlay daemon's pid file, socket and log.
    expect((await fsp.readdir(root)).sort()).toEqual(overlay ? ['clients', 'images', 'run'] : ['clients', 'images']);
  });

  it('rejects a relative root', () => {
    expect(() => new DirStorageDriver({ root: 'relative/dir' })).toThrow(/absolute/);
  });

  describe('storage contract', () => {
    describeStorageContract(() => driver);
  });

  describe('replication to another node (a second root)', () => {
    let otherRoot: string;
    let other: DirStorageDriver;

    beforeAll(async () => {
      otherRoot = await fsp.mkdtemp(path.join(os.tmpdir(), 'dls-dir-driver-b-'));
      other = new DirStorageDriver({ root: otherRoot, clone });
      await other.init();
    });

    afterAll(async () => {
      await other?.close();
      if (otherRoot) await fsp.rm(otherRoot, { recursive: true, force: true });
    });

    describeReplicationContract(
      () => driver,
      () => other,
    );

    it('writes received versions sparsely and read-only, like createVersion, and leaves no temporaries', async () => {
      const imageId = randomUUID();
      const versionId = randomUUID();
      const disk = await driver.ensureImage(imageId);
      const fh = await fsp.open(disk, 'w');
      await fh.truncate(64 * MiB);
      await fh.write(Buffer.alloc(100 * 1024, 0x61), 0, 100 * 1024, 3 * MiB + 1000);
      await fh.close();
      await driver.createVersion(imageId, versionId);
      const out = await driver.sendVersion(imageId, versionId);
      expect(out).toMatchObject({ format: 'raw', baseVersionId: null, sizeBytes: 64 * MiB });
      const info = await other.receiveVersion(imageId, versionId, {
        format: out.format,
        baseVersionId: null,
        sizeBytes: out.sizeBytes,
        stream: out.stream,
      });
      const st = await fsp.stat(info.ref);
      expect(info.ref).toBe(path.join(otherRoot, 'images', imageId, 'versions', `${versionId}.raw`));
      expect(st.mode & 0o777).toBe(0o444);
      expect(st.size).toBe(64 * MiB);
      expect(st.blocks * 512).toBeLessThanOrEqual(256 * 1024); // 100 KiB of data over three 64 KiB blocks
      expect(info.referencedBytes).toBe(st.blocks * 512);
      expect(await other.versionSha256(imageId, versionId)).toBe(await driver.versionSha256(imageId, versionId));
      expect((await fsp.readdir(path.dirname(info.ref))).sort()).toEqual([`${versionId}.raw`]);
      // A raw stream shorter than announced is refused.
      const short = await driver.sendVersion(imageId, versionId);
      const v2 = randomUUID();
      const err = await storageErrorOf(
        other.receiveVersion(imageId, v2, { format: 'raw', baseVersionId: null, sizeBytes: 64 * MiB + 1, stream: short.stream }),
      );
      expect(err).toMatchObject({ code: StorageErrorCode.COMMAND_FAILED, details: { reason: 'stream' } });
      expect((await fsp.readdir(path.dirname(info.ref))).sort()).toEqual([`${versionId}.raw`]);
      for (const d of [driver, other]) {
        await d.destroyVersion(imageId, versionId);
        await d.destroyImage(imageId);
      }
    });
  });

  describe('files and concurrency', () => {
    const imageId = randomUUID();
    const versionId = randomUUID();

    beforeAll(async () => {
      const disk = await driver.ensureImage(imageId);
      const fh = await fsp.open(disk, 'w');
      await fh.truncate(4 * MiB);
      await fh.write(Buffer.alloc(64 * 1024, 0x61), 0, 64 * 1024, MiB);
      await fh.close();
      await driver.createVersion(imageId, versionId);
    });

    it('keeps versions read-only (0444) and copies sparsely', async () => {
      const ref = (await driver.versionInfo(imageId, versionId))!.ref;
      const st = await fsp.stat(ref);
      expect(st.mode & 0o777).toBe(0o444);
      expect(st.size).toBe(4 * MiB);
      expect(st.blocks * 512).toBeLessThan(MiB); // 64 KiB of data, not the 4 MiB apparent size
      const disk = await driver.ensureClientDisk(randomUUID(), imageId, versionId);
      expect((await fsp.stat(disk.path)).mode & 0o777).toBe(overlay ? 0o600 : 0o644); // the FUSE export's own mode
      expect(disk.writtenBytes).toBeLessThan(MiB);
      expectBytes(await readAt(disk.path, MiB, 64 * 1024), Buffer.alloc(64 * 1024, 0x61));
      await driver.destroyClientDisk(disk.clientId);
    });

    it('copies a huge sparse disk in O(data): a 4 TiB image with 64 KiB of data becomes a version and a client disk', async () => {
      const big = randomUUID();
      const disk = await driver.ensureImage(big);
      const fh = await fsp.open(disk, 'w');
      await fh.truncate(4 * 1024 * 1024 * MiB);
      await fh.write(Buffer.alloc(64 * 1024, 0x62), 0, 64 * 1024, 3 * 1024 * 1024 * MiB);
      await fh.close();
      const v = randomUUID();
      await driver.createVersion(big, v); // reading 4 TiB of holes through would take the better part of an hour
      const client = await driver.ensureClientDisk(randomUUID(), big, v);
      expect((await fsp.stat(client.path)).size).toBe(4 * 1024 * 1024 * MiB);
      expect(client.writtenBytes).toBeLessThan(MiB);
      expectBytes(await readAt(client.path, 3 * 1024 * 1024 * MiB, 64 * 1024), Buffer.alloc(64 * 1024, 0x62));
      await driver.destroyClientDisk(client.clientId);
      await driver.destroyVersion(big, v);
      await driver.destroyImage(big);
    });

    it('provisions 1,000 different clients concurrently, and the same client twice idempotently', async () => {
      const clients = Array.from({ length: 1000 }, () => randomUUID());
      const twice = clients[0];
      const results = await Promise.all([
        ...clients.map((c) => driver.ensureClientDisk(c, imageId, versionId)),
        driver.ensureClientDisk(twice, imageId, versionId),
      ]);
      expect(new Set(results.map((r) => r.path)).size).toBe(1000);
      expect(results[1000].path).toBe(results[0].path);
      const entries = await fsp.readdir(path.join(root, 'clients'));
      expect(entries).toHaveLength(1000);
      const leftovers = (await fsp.readdir(path.join(root, 'clients', twice))).sort();
      expect(leftovers).toEqual(overlay ? ['disk.raw', 'meta.json', 'overlay.qcow2'] : ['disk.raw', 'meta.json']);
      // A version destroy waits for in-flight provisioning and then sees every dependent.
      const err = await storageErrorOf(driver.destroyVersion(imageId, versionId));
      expect((err.details?.clientIds as string[]).length).toBe(1000);
      await Promise.all(clients.map((c) => driver.destroyClientDisk(c)));
      expect(await fsp.readdir(path.join(root, 'clients'))).toEqual([]);
      // 1,000 sparse copies (a `cp` each, four at a time, each synced) take ~30 s on an idle machine without reflinks
      // (tmpfs, ext4) and 2-4x that on two busy cores: a deadline for a hang, not a speed limit.
    }, 600_000);

    it('sweeps crash leftovers at init and never exposes a half-copied disk', async () => {
      const clientId = randomUUID();
      const dir = path.join(root, 'clients', clientId);
      await fsp.mkdir(dir, { recursive: true });
      await fsp.writeFile(path.join(dir, 'meta.json'), JSON.stringify({ imageId, versionId }));
      await fsp.writeFile(path.join(dir, '.disk.raw.tmp-deadbeef0001'), Buffer.alloc(0));
      expect(await driver.clientDisk(clientId)).toBeNull();
      // A restart: the next start sweeps (a second init() of a running driver leaves temporaries in flight alone).
      await driver.close();
      driver = new DirStorageDriver({ root, clone });
      await driver.init();
      expect(await fsp.readdir(dir)).toEqual(['meta.json']);
      // The intent record counts as a dependent; ensure converges to a full disk.
      const disk = await driver.ensureClientDisk(clientId, imageId, versionId);
      expect(disk.sizeBytes).toBe(4 * MiB);
      await driver.destroyClientDisk(clientId);
    });

    it('ensureClientDisk racing destroyVersion never leaves a disk of a destroyed version', async () => {
      const v2 = randomUUID();
      await driver.createVersion(imageId, v2);
      const clientId = randomUUID();
      const [ensured, destroyed] = await Promise.allSettled([driver.ensureClientDisk(clientId, imageId, v2), driver.destroyVersion(imageId, v2)]);
      if (ensured.status === 'fulfilled') {
        expect(destroyed.status).toBe('rejected');
        expect(await driver.versionInfo(imageId, v2)).not.toBeNull();
        await driver.destroyClientDisk(clientId);
        await driver.destroyVersion(imageId, v2);
      } else {
        expect((ensured.reason as { code: string }).code).toBe(StorageErrorCode.NOT_FOUND);
        expect(await driver.clientDisk(clientId)).toBeNull();
      }
      expect(await driver.versionInfo(imageId, v2)).toBeNull();
    });

    it('writes to a client disk do not reach the version or the image', async () => {
      const disk = await driver.ensureClientDisk(randomUUID(), imageId, versionId);
      await writeAt(disk.path, 0, Buffer.alloc(4096, 0x7f));
      const ref = (await driver.versionInfo(imageId, versionId))!.ref;
      expectBytes(await readAt(ref, 0, 4096), Buffer.alloc(4096, 0));
      expectBytes(await readAt(driver.imageDiskPath(imageId), 0, 4096), Buffer.alloc(4096, 0));
      await driver.destroyClientDisk(disk.clientId);
      await driver.destroyVersion(imageId, versionId);
      await driver.destroyImage(imageId);
      expect(await driver.inventory()).toEqual([]);
    });
  });
});
