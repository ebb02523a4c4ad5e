/**
 * Behaviour every StorageDriver must show, run against real storage by the driver e2e specs
 * (zfs.driver.e2e-spec.ts on zfs-fuse, dir.driver.e2e-spec.ts on a temp dir).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { Readable, Transform, pipeline } from 'node:stream';
import { finished } from 'node:stream/promises';
import { QemuImgAdapter } from '../../src/modules/storage/qemu-img.adapter';
import { IncomingVersion, ManagedItem, OutgoingVersion, StorageDriver } from '../../src/modules/storage/storage-driver';
import { StorageError, StorageErrorCode } from '../../src/modules/storage/storage.errors';

export const MiB = 1024 * 1024;
export const IMAGE_BYTES = 64 * MiB;

/** Writes `buf` at `offset` and fsyncs. */
export async function writeAt(file: string, offset: number, buf: Buffer): Promise<void> {
  const fh = await fsp.open(file, 'r+');
  try {
    await fh.write(buf, 0, buf.length, offset);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function readAt(file: string, offset: number, length: number): Promise<Buffer> {
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, offset);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export async function storageErrorOf(p: Promise<unknown>): Promise<StorageError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof StorageError) return e;
    throw e;
  }
  throw new Error('expected the call to fail with a StorageError');
}

const filled = (byte: number, len = MiB): Buffer => Buffer.alloc(len, byte);

/**
 * Asserts `buf` is `expected.length` bytes equal to `expected` (Buffer.equals: jest's deep equality walks a
 * 1 MiB buffer element by element and takes minutes). Reports the first mismatch.
 */
export function expectBytes(buf: Buffer, expected: Buffer): void {
  if (buf.equals(expected)) return;
  let i = 0;
  while (i < Math.min(buf.length, expected.length) && buf[i] === expected[i]) i += 1;
  throw new Error(`bytes differ at ${i}: got ${buf.length} bytes (${buf[i]}), expected ${expected.length} (${expected[i]})`);
}

/** Registers the shared scenario; `driver()` returns the initialised driver under test. */
export function describeStorageContract(driver: () => StorageDriver): void {
  const qemu = new QemuImgAdapter();
  const imageId = randomUUID();
  const v1 = randomUUID();
  const [c1, c2, c3] = [randomUUID(), randomUUID(), randomUUID()].sort();

  it('creates an image with 64 MiB blank content and a version of it (idempotently)', async () => {
    const d = driver();
    const diskPath = await d.ensureImage(imageId);
    expect(diskPath).toBe(d.imageDiskPath(imageId));
    expect(await d.imageSizeBytes(imageId)).toBe(0);
    await qemu.createBlank(diskPath, IMAGE_BYTES);
    await writeAt(diskPath, 0, filled(0xaa));
    expect(await d.ensureImage(imageId)).toBe(diskPath);
    expect(await d.imageSizeBytes(imageId)).toBe(IMAGE_BYTES);

    const info = await d.createVersion(imageId, v1);
    expect(info.referencedBytes).toBeGreaterThanOrEqual(MiB);
    expect(await d.createVersion(imageId, v1)).toEqual(expect.objectContaining({ ref: info.ref }));
    expect((await d.versionInfo(imageId, v1))?.ref).toBe(info.ref);
    expect(await d.versionInfo(imageId, randomUUID())).toBeNull();
  });

  it('gives two clients isolated copy-on-write disks and leaves the version unchanged', async () => {
    const d = driver();
    const disk1 = await d.ensureClientDisk(c1, imageId, v1);
    const disk2 = await d.ensureClientDisk(c2, imageId, v1);
    expect(disk1).toMatchObject({ clientId: c1, imageId, versionId: v1, sizeBytes: IMAGE_BYTES });
    expect(disk2.path).not.toBe(disk1.path);
    expect(await d.ensureClientDisk(c1, imageId, v1)).toMatchObject({ path: disk1.path });

    await writeAt(disk1.path, 4 * MiB, filled(0x11));
    await writeAt(disk2.path, 4 * MiB, filled(0x22));
    expectBytes(await readAt(disk1.path, 4 * MiB, MiB), filled(0x11));
    expectBytes(await readAt(disk2.path, 4 * MiB, MiB), filled(0x22));
    expectBytes(await readAt(disk1.path, 0, MiB), filled(0xaa));

    // The version is unchanged: a fresh disk from it sees the original bytes, and so does the image.
    const disk3 = await d.ensureClientDisk(c3, imageId, v1);
    expectBytes(await readAt(disk3.path, 4 * MiB, MiB), filled(0));
    expectBytes(await readAt(disk3.path, 0, MiB), filled(0xaa));
    expectBytes(await readAt(d.imageDiskPath(imageId), 4 * MiB, MiB), filled(0));

    const again = await d.clientDisk(c1);
    expect(again).toMatchObject({ clientId: c1, imageId, versionId: v1, path: disk1.path, sizeBytes: IMAGE_BYTES });
    expect(await d.clientDisk(randomUUID())).toBeNull();
  });

  it('refuses a disk of another version for a client that has one', async () => {
    const d = driver();
    const v2 = randomUUID();
    await d.createVersion(imageId, v2);
    const err = await storageErrorOf(d.ensureClientDisk(c1, imageId, v2));
    expect(err.code).toBe(StorageErrorCode.ALREADY_EXISTS);
    expect(err.details).toMatchObject({ existingImageId: imageId, existingVersionId: v1 });
    await d.destroyVersion(imageId, v2);
    const missing = await storageErrorOf(d.ensureClientDisk(randomUUID(), imageId, randomUUID()));
    expect(missing.code).toBe(StorageErrorCode.NOT_FOUND);
  });

  it('rejects ids that are not UUIDs before touching storage', async () => {
    const d = driver();
    for (const bad of ['../..', 'a;rm -rf /', '$(id)', 'x y', `${imageId}\n`, `${imageId}/..`]) {
      expect((await storageErrorOf(d.ensureImage(bad))).code).toBe(StorageErrorCode.INVALID_NAME);
      expect((await storageErrorOf(d.ensureClientDisk(bad, imageId, v1))).code).toBe(StorageErrorCode.INVALID_NAME);
      expect((await storageErrorOf(d.destroyClientDisk(bad))).code).toBe(StorageErrorCode.INVALID_NAME);
    }
  });

  it('refuses to destroy a version with dependents, naming them, and the image while versions exist', async () => {
    const d = driver();
    const err = await storageErrorOf(d.destroyVersion(imageId, v1));
    expect(err.code).toBe(StorageErrorCode.HAS_DEPENDENTS);
    expect(err.details?.clientIds).toEqual([c1, c2, c3]);
    expect(err.message).toContain(c1);
    expect((await storageErrorOf(d.destroyImage(imageId))).code).toBe(StorageErrorCode.HAS_DEPENDENTS);
    expect(await d.versionInfo(imageId, v1)).not.toBeNull();
  });

  it('lists exactly the managed items in the inventory', async () => {
    const inv = await driver().inventory();
    const keys = inv.map((i) => `${i.kind}:${i.imageId ?? ''}:${i.versionId ?? ''}:${i.clientId ?? ''}`).sort();
    expect(keys).toEqual(
      [
        `image:${imageId}::`,
        `version:${imageId}:${v1}:`,
        `client-disk:${imageId}:${v1}:${c1}`,
        `client-disk:${imageId}:${v1}:${c2}`,
        `client-disk:${imageId}:${v1}:${c3}`,
      ].sort(),
    );
  });

  it('reports the space of each version and client disk it made, in one pass', async () => {
    const usage = await driver().spaceUsage();
    expect(usage.versions.map((v) => `${v.imageId}:${v.versionId}`)).toEqual([`${imageId}:${v1}`]);
    expect(usage.clientDisks.map((c) => c.clientId).sort()).toEqual([c1, c2, c3].sort());
    // zfs counts a clone's writes once a transaction group is synced; a plain copy holds its blocks at once.
    for (const b of [...usage.versions, ...usage.clientDisks].map((x) => x.bytes)) expect(Number.isSafeInteger(b) && b >= 0).toBe(true);
  });

  it('destroys client disks idempotently, then the version', async () => {
    const d = driver();
    for (const c of [c1, c2, c3]) await d.destroyClientDisk(c);
    await d.destroyClientDisk(c1);
    expect(await d.clientDisk(c1)).toBeNull();
    await d.destroyVersion(imageId, v1);
    await d.destroyVersion(imageId, v1);
    expect(await d.versionInfo(imageId, v1)).toBeNull();
  });

  it('commits a client disk into the image so the next version captures the client bytes', async () => {
    const d = driver();
    const base = randomUUID();
    const client = randomUUID();
    await d.createVersion(imageId, base);
    const disk = await d.ensureClientDisk(client, imageId, base);
    await writeAt(disk.path, 8 * MiB, filled(0x33));
    await d.commitClientDisk(client, imageId);
    expectBytes(await readAt(d.imageDiskPath(imageId), 8 * MiB, MiB), filled(0x33));
    expect(await d.imageSizeBytes(imageId)).toBe(IMAGE_BYTES);

    const next = randomUUID();
    await d.createVersion(imageId, next);
    const probe = randomUUID();
    const fresh = await d.ensureClientDisk(probe, imageId, next);
    expectBytes(await readAt(fresh.path, 8 * MiB, MiB), filled(0x33));
    expectBytes(await readAt(fresh.path, 0, MiB), filled(0xaa));
    // The older version still has the old bytes.
    const old = await d.ensureClientDisk(randomUUID(), imageId, base);
    expectBytes(await readAt(old.path, 8 * MiB, MiB), filled(0));
  });

  it('destroyManaged removes everything it lists, children first', async () => {
    const d = driver();
    const order = { staging: 0, 'client-disk': 1, version: 2, image: 3 } as const;
    const items = (await d.inventory()).sort((a, b) => order[a.kind] - order[b.kind]);
    expect(items.filter((i) => i.kind === 'client-disk')).toHaveLength(3);
    for (const item of items) await d.destroyManaged(item);
    expect(await d.inventory()).toEqual([]);
    await d.destroyImage(imageId);
    expect(await d.imageSizeBytes(imageId)).toBe(0);
  });
}

/** Counts the bytes that pass; with `breakAfter`, fails the stream with an error once that many have passed. */
function meter(breakAfter?: number): Transform & { bytes: number } {
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (breakAfter !== undefined && t.bytes + chunk.length > breakAfter) {
        const head = chunk.subarray(0, breakAfter - t.bytes);
        t.bytes += head.length;
        if (head.length > 0) this.push(head);
        cb(new Error('connection reset (test)'));
        return;
      }
      t.bytes += chunk.length;
      cb(null, chunk);
    },
  }) as Transform & { bytes: number };
  t.bytes = 0;
  return t;
}

/** `out` as the receiver gets it (through a meter; `breakAfter` cuts it with an error), like an HTTP body. */
function incomingOf(out: OutgoingVersion, breakAfter?: number): { incoming: IncomingVersion; meter: Transform & { bytes: number } } {
  const m = meter(breakAfter);
  // pipeline: an error on either side destroys the other (a cut transfer also ends `zfs send` on the sender).
  pipeline(out.stream, m, () => undefined);
  return { incoming: { format: out.format, baseVersionId: out.baseVersionId, sizeBytes: out.sizeBytes, stream: m }, meter: m };
}

function inventoryKeys(items: ManagedItem[]): string[] {
  return items.map((i) => `${i.kind}:${i.imageId ?? ''}:${i.versionId ?? ''}:${i.clientId ?? ''}`).sort();
}

/**
 * Replication between two nodes' storage: `source()` and `dest()` are initialised drivers of the same kind with
 * separate roots. zfs drivers also get the incremental cases (`zfs send -i`).
 */
export function describeReplicationContract(source: () => StorageDriver, dest: () => StorageDriver): void {
  const qemu = new QemuImgAdapter();
  const imageId = randomUUID();
  const [v1, v2] = [randomUUID(), randomUUID()];
  const random = randomBytes(MiB);
  let destBefore: string[] = [];

  beforeAll(async () => {
    const a = source();
    const disk = await a.ensureImage(imageId);
    await qemu.createBlank(disk, IMAGE_BYTES);
    await writeAt(disk, 0, filled(0xaa));
    await writeAt(disk, 16 * MiB, random);
    await a.createVersion(imageId, v1);
    await writeAt(disk, 32 * MiB, filled(0xbb));
    await a.createVersion(imageId, v2);
    destBefore = inventoryKeys(await dest().inventory());
  });

  it('hashes version bytes: equal for equal content, different for different content', async () => {
    const a = source();
    const h1 = await a.versionSha256(imageId, v1);
    expect(h1).toMatch(/^[0-9a-f]{64}$/);
    expect(await a.versionSha256(imageId, v1)).toBe(h1);
    expect(await a.versionSha256(imageId, v2)).not.toBe(h1);
    expect((await storageErrorOf(a.versionSha256(imageId, randomUUID()))).code).toBe(StorageErrorCode.NOT_FOUND);
    expect((await storageErrorOf(a.versionSha256('../x', v1))).code).toBe(StorageErrorCode.INVALID_NAME);
    expect((await storageErrorOf(a.sendVersion(imageId, randomUUID()))).code).toBe(StorageErrorCode.NOT_FOUND);
  });

  it('leaves nothing behind when the stream breaks half way, and a retry then succeeds', async () => {
    const a = source();
    const b = dest();
    const out = await a.sendVersion(imageId, v1);
    expect(out.format).toBe(a.kind === 'zfs' ? 'zfs-full' : 'raw');
    const { incoming } = incomingOf(out, 512 * 1024);
    const err = await storageErrorOf(b.receiveVersion(imageId, v1, incoming));
    expect(err.code).toBe(StorageErrorCode.COMMAND_FAILED);
    expect(await b.versionInfo(imageId, v1)).toBeNull();
    expect(inventoryKeys(await b.inventory())).toEqual(destBefore);

    const started = Date.now();
    const retry = incomingOf(await a.sendVersion(imageId, v1));
    const info = await b.receiveVersion(imageId, v1, retry.incoming);
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `${a.kind}: ${out.format} stream of a ${IMAGE_BYTES / MiB} MiB version (2 MiB of data): ${retry.meter.bytes} bytes, ` +
        `send+receive ${seconds.toFixed(2)} s = ${(IMAGE_BYTES / MiB / seconds).toFixed(0)} MiB/s of image, ${(retry.meter.bytes / MiB / seconds).toFixed(1)} MiB/s on the wire`,
    );
    expect(info).toEqual(await b.versionInfo(imageId, v1));
    expect(await b.versionSha256(imageId, v1)).toBe(await a.versionSha256(imageId, v1));
  });

  it('lists the received image and version in the inventory', async () => {
    expect(inventoryKeys(await dest().inventory())).toEqual([...destBefore, `image:${imageId}::`, `version:${imageId}:${v1}:`].sort());
  });

  it('gives isolated client disks of the received version, with the bytes of the source', async () => {
    const b = dest();
    const [c1, c2] = [randomUUID(), randomUUID()];
    const d1 = await b.ensureClientDisk(c1, imageId, v1);
    const d2 = await b.ensureClientDisk(c2, imageId, v1);
    expect(d1).toMatchObject({ imageId, versionId: v1, sizeBytes: IMAGE_BYTES });
    expectBytes(await readAt(d1.path, 0, MiB), filled(0xaa));
    expectBytes(await readAt(d1.path, 16 * MiB, MiB), random);
    expectBytes(await readAt(d1.path, 32 * MiB, MiB), filled(0));
    await writeAt(d1.path, 16 * MiB, filled(0x11));
    expectBytes(await readAt(d2.path, 16 * MiB, MiB), random);
    expectBytes(await readAt(d1.path, 16 * MiB, MiB), filled(0x11));
    await b.destroyClientDisk(c1);
    await b.destroyClientDisk(c2);
    expect(await b.versionSha256(imageId, v1)).toBe(await source().versionSha256(imageId, v1));
  });

  it('refuses a version it already holds (ALREADY_EXISTS) and a stream format it cannot take', async () => {
    const a = source();
    const b = dest();
    const again = await a.sendVersion(imageId, v1);
    expect((await storageErrorOf(b.receiveVersion(imageId, v1, incomingOf(again).incoming))).code).toBe(StorageErrorCode.ALREADY_EXISTS);
    const wrong = b.kind === 'dir' ? 'zfs-full' : 'raw';
    const err = await storageErrorOf(
      b.receiveVersion(imageId, randomUUID(), { format: wrong, baseVersionId: null, stream: Readable.from([Buffer.alloc(10)]) }),
    );
    expect(err.code).toBe(StorageErrorCode.INVALID_NAME);
    expect((await storageErrorOf(b.receiveVersion('x', v1, { format: 'raw', baseVersionId: null, stream: Readable.from([]) }))).code).toBe(
      StorageErrorCode.INVALID_NAME,
    );
  });

  it('sends a second version relative to the first the receiver holds (zfs: incremental, smaller than a full stream)', async () => {
    const a = source();
    const b = dest();
    const full = incomingOf(await a.sendVersion(imageId, v2));
    full.meter.resume();
    await finished(full.meter);
    const out = await a.sendVersion(imageId, v2, v1);
    if (a.kind === 'zfs') {
      expect(out).toMatchObject({ format: 'zfs-incremental', baseVersionId: v1 });
      // A broken incremental leaves the receiver's versions as they were.
      const broken = incomingOf(out, 64 * 1024);
      expect((await storageErrorOf(b.receiveVersion(imageId, v2, broken.incoming))).code).toBe(StorageErrorCode.COMMAND_FAILED);
      expect(await b.versionInfo(imageId, v2)).toBeNull();
      expect(await b.versionSha256(imageId, v1)).toBe(await a.versionSha256(imageId, v1));
    } else {
      expect(out).toMatchObject({ format: 'raw', baseVersionId: null, sizeBytes: IMAGE_BYTES });
      out.stream.destroy();
    }
    const started = Date.now();
    const inc = incomingOf(await a.sendVersion(imageId, v2, v1));
    await b.receiveVersion(imageId, v2, inc.incoming);
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `${a.kind}: v2 full stream ${full.meter.bytes} bytes; sent with base v1: ${inc.incoming.format} ${inc.meter.bytes} bytes in ${seconds.toFixed(2)} s`,
    );
    if (a.kind === 'zfs') expect(inc.meter.bytes).toBeLessThan(full.meter.bytes / 2);
    expect(await b.versionSha256(imageId, v2)).toBe(await a.versionSha256(imageId, v2));
    const disk = await b.ensureClientDisk(randomUUID(), imageId, v2);
    expectBytes(await readAt(disk.path, 32 * MiB, MiB), filled(0xbb));
    await b.destroyClientDisk(disk.clientId);
  });

  it('fails cleanly on an incremental stream whose base the receiver lacks', async () => {
    const a = source();
    const b = dest();
    if (a.kind !== 'zfs') return; // raw streams have no base
    const other = randomUUID();
    const [w1, w2] = [randomUUID(), randomUUID()];
    const disk = await a.ensureImage(other);
    await qemu.createBlank(disk, 4 * MiB);
    await a.createVersion(other, w1);
    await writeAt(disk, 0, filled(0xcc));
    await a.createVersion(other, w2);
    const before = inventoryKeys(await b.inventory());
    const out = await a.sendVersion(other, w2, w1);
    expect(out.format).toBe('zfs-incremental');
    const err = await storageErrorOf(b.receiveVersion(other, w2, incomingOf(out).incoming));
    expect(err.code).toBe(StorageErrorCode.NOT_FOUND);
    expect(err.details).toMatchObject({ reason: 'base-missing', baseVersionId: w1 });
    expect(inventoryKeys(await b.inventory())).toEqual(before);
    // A full stream needs an image without versions on the receiver.
    const full = await storageErrorOf(b.receiveVersion(imageId, randomUUID(), incomingOf(await a.sendVersion(other, w1)).incoming));
    expect(full).toMatchObject({ code: StorageErrorCode.HAS_DEPENDENTS, details: { reason: 'has-versions' } });
    for (const w of [w1, w2]) await a.destroyVersion(other, w);
    await a.destroyImage(other);
  });

  it('removes received versions like local ones', async () => {
    for (const d of [dest(), source()]) {
      await d.destroyVersion(imageId, v2);
      await d.destroyVersion(imageId, v1);
      await d.destroyImage(imageId);
      expect(await d.versionInfo(imageId, v1)).toBeNull();
    }
    expect(inventoryKeys(await dest().inventory())).toEqual(destBefore);
  });
}
