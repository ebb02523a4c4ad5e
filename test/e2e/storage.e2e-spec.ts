/**
 * Image storage through the REST API, on the dir driver and on REAL ZFS (zfs-fuse): import a qcow2 made with
 * qemu-img, version, publish, per-client copy-on-write disks that are isolated from each other and from the version,
 * maintenance commit, reset, reconcile after a hand-made deletion, and the bad cases.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { DataSource } from 'typeorm';
import { createTestPool, destroyTestPool, ensureZfsFuse, releaseZfsFuse, TestPool } from '../support/zfs-fuse';
import { createTestApp, TestApp } from '../support/test-app';

const run = promisify(execFile);
const MiB = 1024 * 1024;

async function readAt(file: string, offset: number, length: number): Promise<Buffer> {
  const fh = await fs.open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, offset);
    return buf;
  } finally {
    await fh.close();
  }
}

async function writeAt(file: string, offset: number, data: Buffer): Promise<void> {
  const fh = await fs.open(file, 'r+');
  try {
    await fh.write(data, 0, data.length, offset);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

type Driver = 'dir' | 'zfs';

describe.each<Driver>(['dir', 'zfs'])('image storage over the API (%s driver)', (driver) => {
  let t: TestApp;
  let pool: TestPool | undefined;
  let work: string;
  let auth: { Authorization: string };
  const marker = randomBytes(16);

  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'dls-storage-e2e-'));
    const env: Record<string, string> = { DLS_STORAGE_DRIVER: driver };
    if (driver === 'zfs') {
      await ensureZfsFuse();
      pool = await createTestPool();
      env.DLS_ZFS_ROOT = `${pool.name}/dls`;
    }
    t = await createTestApp(env);
    auth = { Authorization: `Bearer ${t.adminToken}` };
  });

  afterAll(async () => {
    await t?.close();
    if (pool) await destroyTestPool(pool);
    if (driver === 'zfs') await releaseZfsFuse();
    await fs.rm(work, { recursive: true, force: true });
  }, 420_000); // destroyTestPool's own deadline (300 s, for zfs-fuse on busy cores) comes first

  const createImage = async (name: string) => {
    const r = await t.http
      .post('/api/v1/images')
      .set(auth)
      .send({ name, sizeBytes: 16 * MiB, format: 'raw', path: '/pending' });
    expect(r.status).toBe(201);
    return r.body.id as string;
  };
  const createClient = async (mac: string, hostname: string, imageId: string, diskPolicy?: string) => {
    const r = await t.http.post('/api/v1/clients').set(auth).send({ macAddress: mac, hostname, assignedImageId: imageId });
    expect(r.status).toBe(201);
    if (diskPolicy) await t.http.patch(`/api/v1/clients/${r.body.id}`).set(auth).send({ diskPolicy }).expect(200);
    return r.body.id as string;
  };

  let imageId: string;
  let v1: string;
  let clientA: string;
  let clientB: string;

  it('imports a qcow2 made with qemu-img (streamed upload), records size and sha256', async () => {
    const raw = path.join(work, 'src.raw');
    await run('qemu-img', ['create', '-q', '-f', 'raw', raw, String(16 * MiB)]);
    await writeAt(raw, 1 * MiB, marker);
    const qcow = path.join(work, 'src.qcow2');
    await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, qcow]);
    imageId = await createImage(`img-${driver}`);
    const body = await fs.readFile(qcow);
    const r = await t.http.put(`/api/v1/images/${imageId}/content?format=qcow2`).set(auth).set('Content-Type', 'application/octet-stream').send(body);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ contentStatus: 'ready', sizeBytes: 16 * MiB, format: 'qcow2' });
    expect(r.body.contentSha256).toMatch(/^[0-9a-f]{64}$/);
    const got = await t.http.get(`/api/v1/images/${imageId}`).set(auth).expect(200);
    expect(got.body.contentStatus).toBe('ready');
    expect(await readAt(got.body.path, 1 * MiB, 16)).toEqual(marker);
  });

  it('takes a real version and publishes it', async () => {
    const r = await t.http.post(`/api/v1/images/${imageId}/snapshots`).set(auth).send({ name: 'v1' });
    expect(r.status).toBe(201);
    v1 = r.body.id;
    expect(r.body.storageRef).toBeTruthy();
    await t.http.post(`/api/v1/images/${imageId}/snapshots/${v1}/publish`).set(auth).expect(200);
  });

  it('gives two clients isolated copy-on-write disks; the version stays unchanged', async () => {
    clientA = await createClient(`52:54:00:aa:00:0${driver === 'dir' ? 1 : 2}`, `pc-a-${driver}`, imageId);
    clientB = await createClient(`52:54:00:bb:00:0${driver === 'dir' ? 1 : 2}`, `pc-b-${driver}`, imageId, 'persistent');
    const [a, b] = await Promise.all([
      t.http.put(`/api/v1/clients/${clientA}/disk`).set(auth),
      t.http.put(`/api/v1/clients/${clientB}/disk`).set(auth),
    ]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.body).toMatchObject({ versionId: v1, policy: 'reset', state: 'ready' });
    expect(b.body).toMatchObject({ versionId: v1, policy: 'persistent' });
    expect(a.body.path).not.toEqual(b.body.path);
    // idempotent
    const again = await t.http.put(`/api/v1/clients/${clientA}/disk`).set(auth).expect(200);
    expect(again.body.path).toEqual(a.body.path);

    await writeAt(a.body.path, 1 * MiB, Buffer.alloc(16, 0xaa));
    await writeAt(b.body.path, 1 * MiB, Buffer.alloc(16, 0xbb));
    expect(await readAt(a.body.path, 1 * MiB, 16)).toEqual(Buffer.alloc(16, 0xaa));
    expect(await readAt(b.body.path, 1 * MiB, 16)).toEqual(Buffer.alloc(16, 0xbb));

    // A fresh client disk from the same version still sees the original bytes.
    const c = await createClient(`52:54:00:cc:00:0${driver === 'dir' ? 1 : 2}`, `pc-c-${driver}`, imageId);
    const cd = await t.http.put(`/api/v1/clients/${c}/disk`).set(auth).expect(200);
    expect(await readAt(cd.body.path, 1 * MiB, 16)).toEqual(marker);
    await t.http.delete(`/api/v1/clients/${c}/disk`).set(auth).expect(204);

    const described = await t.http.get(`/api/v1/clients/${clientA}/disk`).set(auth).expect(200);
    expect(described.body.writtenBytes).toBeGreaterThanOrEqual(0);
    expect(described.body.sizeBytes).toBe(16 * MiB);
  });

  it('refuses to delete a version that client disks depend on, naming them', async () => {
    const r = await t.http.delete(`/api/v1/images/${imageId}/snapshots/${v1}`).set(auth);
    expect(r.status).toBe(409);
    expect(r.body.message).toMatch(/pc-a|published/);
  });

  it('resets a disk: the client’s writes are gone', async () => {
    const r = await t.http.post(`/api/v1/clients/${clientA}/disk/reset`).set(auth).expect(200);
    expect(await readAt(r.body.path, 1 * MiB, 16)).toEqual(marker);
  });

  it('commits a maintenance client’s disk as a new version that boots', async () => {
    await t.http.post(`/api/v1/images/${imageId}/maintenance`).set(auth).send({ clientId: clientB }).expect(200);
    const second = await t.http.post(`/api/v1/images/${imageId}/maintenance`).set(auth).send({ clientId: clientA });
    expect(second.status).toBe(409);
    const md = await t.http.put(`/api/v1/clients/${clientB}/disk`).set(auth).expect(200);
    expect(md.body.isMaintenance).toBe(true);
    const update = randomBytes(16);
    await writeAt(md.body.path, 2 * MiB, update);
    const v2 = await t.http.post(`/api/v1/images/${imageId}/snapshots/commit`).set(auth).send({ name: 'v2' });
    expect(v2.status).toBe(201);
    expect(v2.body.isPublished).toBe(false);
    await t.http.delete(`/api/v1/images/${imageId}/maintenance`).set(auth).expect(200);
    await t.http.post(`/api/v1/images/${imageId}/snapshots/${v2.body.id}/publish`).set(auth).expect(200);
    // clientA's next disk comes from v2 (it moved version) and sees the maintenance write.
    const a2 = await t.http.put(`/api/v1/clients/${clientA}/disk`).set(auth).expect(200);
    expect(a2.body.versionId).toBe(v2.body.id);
    expect(await readAt(a2.body.path, 2 * MiB, 16)).toEqual(update);
    expect(await readAt(a2.body.path, 1 * MiB, 16)).toEqual(marker);
  });

  it('reports storage accounting', async () => {
    const r = await t.http.get('/api/v1/storage').set(auth).expect(200);
    expect(r.body.driver).toBe(driver);
    expect(['zfs-clone', 'reflink', 'overlay', 'copy']).toContain(r.body.cloneMethod);
    expect(r.body.freeBytes).toBeGreaterThan(0);
    const img = r.body.images.find((i: { id: string }) => i.id === imageId);
    expect(img.versions.length).toBeGreaterThanOrEqual(2);
    expect(r.body.clientDisks.length).toBeGreaterThanOrEqual(1);
  });

  it('reconciles after a disk is deleted by hand and after an orphan appears', async () => {
    const d = await t.http.get(`/api/v1/clients/${clientA}/disk`).set(auth).expect(200);
    if (driver === 'zfs') {
      const ds = `${pool!.name}/dls/clients/${clientA}`;
      await run('zfs', ['umount', ds]).catch(() => undefined);
      // zfs-fuse answers "dataset is busy" for a moment after an unmount (seen in CI): ask again, as a person would.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const err = await run('zfs', ['destroy', '-f', ds]).then(
          () => null,
          (e: Error) => e,
        );
        if (!err) break;
        if (!/busy/.test(err.message) || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    } else {
      // An overlay disk is a FUSE mount: unmounting it comes first, as for anyone deleting it by hand.
      const mounts = await fs.readFile('/proc/self/mounts', 'utf8');
      if (mounts.includes(` ${d.body.path} fuse`)) await run('umount', ['-l', d.body.path]);
      await fs.rm(path.dirname(d.body.path), { recursive: true, force: true });
    }
    const r = await t.http.post('/api/v1/storage/reconcile').set(auth).send({}).expect(200);
    expect(r.body.missing).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'client-disk', id: clientA })]));
    // ensure converges: the disk comes back
    await t.http.put(`/api/v1/clients/${clientA}/disk`).set(auth).expect(200);
    // an orphan: the database forgets a disk that storage still holds
    await t.app.get(DataSource).query('DELETE FROM client_disks WHERE client_id = $1', [clientA]);
    const r2 = await t.http.post('/api/v1/storage/reconcile').set(auth).send({}).expect(200);
    expect(r2.body.orphans).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'client-disk', clientId: clientA })]));
    expect(r2.body.removed).toEqual([]);
    const r3 = await t.http.post('/api/v1/storage/reconcile').set(auth).send({ removeOrphans: true }).expect(200);
    expect(r3.body.removed).toEqual(expect.arrayContaining([expect.objectContaining({ clientId: clientA })]));
    const r4 = await t.http.post('/api/v1/storage/reconcile').set(auth).send({}).expect(200);
    expect(r4.body.orphans).toEqual([]);
  });

  it('rejects a corrupt qcow2 with qemu-img’s reason and leaves nothing behind', async () => {
    const bad = await createImage(`bad-${driver}`);
    const qcow = path.join(work, 'trunc.qcow2');
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', qcow, String(64 * MiB)]);
    const full = await fs.readFile(qcow);
    const r = await t.http
      .put(`/api/v1/images/${bad}/content?format=qcow2`)
      .set(auth)
      .set('Content-Type', 'application/octet-stream')
      .send(full.subarray(0, 100));
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/qemu-img|qcow2|image/i);
    const img = await t.http.get(`/api/v1/images/${bad}`).set(auth).expect(200);
    expect(img.body.contentStatus).toBe('empty');
    const inv = await t.http.post('/api/v1/storage/reconcile').set(auth).send({}).expect(200);
    expect(inv.body.orphans.filter((o: { imageId?: string }) => o.imageId === bad)).toEqual([]);
    // a raw file declared as qcow2 is refused too
    const r2 = await t.http
      .put(`/api/v1/images/${bad}/content?format=qcow2`)
      .set(auth)
      .set('Content-Type', 'application/octet-stream')
      .send(Buffer.alloc(1024 * 1024));
    expect(r2.status).toBe(400);
  });

  it('rejects bad input that would reach a CLI or a path', async () => {
    await t.http
      .put(`/api/v1/images/${imageId}/content?format=iso`)
      .set(auth)
      .set('Content-Type', 'application/octet-stream')
      .send(Buffer.alloc(512))
      .expect(400);
    await t.http
      .put(`/api/v1/images/not-a-uuid/content?format=raw`)
      .set(auth)
      .set('Content-Type', 'application/octet-stream')
      .send(Buffer.alloc(512))
      .expect(400);
    const inj = await t.http.post(`/api/v1/images/${imageId}/import`).set(auth).send({ path: 'relative;rm -rf /', format: 'raw' });
    expect(inj.status).toBe(400);
    expect(JSON.stringify(inj.body.message)).toMatch(/path/);
    const missing = await t.http.post(`/api/v1/images/${imageId}/import`).set(auth).send({ path: '/nonexistent/$(id).raw', format: 'raw' });
    expect(missing.status).toBe(400);
    const commitBad = await t.http.post(`/api/v1/images/${imageId}/snapshots/commit`).set(auth).send({ name: 'x; zfs destroy' });
    expect(commitBad.status).toBe(400);
    await t.http.put(`/api/v1/clients/00000000-0000-4000-8000-000000000000/disk`).set(auth).expect(404);
  });

  it('imports from a path on the server (vhdx, in DLS_IMPORT_DIR)', async () => {
    const raw = path.join(work, 'v.raw');
    await run('qemu-img', ['create', '-q', '-f', 'raw', raw, String(8 * MiB)]);
    await writeAt(raw, 4096, marker);
    const vhdx = path.join(t.config.storage.importDir, 'v.vhdx');
    await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'vhdx', raw, vhdx]);
    const id = await createImage(`vhdx-${driver}`);
    const r = await t.http.post(`/api/v1/images/${id}/import`).set(auth).send({ path: vhdx, format: 'vhdx' });
    expect(r.status).toBe(200);
    expect(r.body.sizeBytes).toBe(8 * MiB);
    expect(await readAt(r.body.path, 4096, 16)).toEqual(marker);
  });
});
