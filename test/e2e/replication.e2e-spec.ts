/**
 * Image versions between nodes (issue 14): two DLS apps on one real PostgreSQL, each with its own storage (zfs-fuse:
 * two root datasets; dir: two directories), each serving its API on loopback. A version made on A is pulled by B over
 * the nodes' signed channel — a ZFS stream (full, then incremental from the version both hold) or the version file —
 * checked against the sha256 A recorded, and only then bootable on B. A copy whose bytes do not match is discarded,
 * shown as failed, keeps the version off B's disks and keeps B from taking ranges; a version deleted on A leaves B.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { ClusterService } from '../../src/modules/cluster';
import { signNodeRequest } from '../../src/modules/replication/node-token';
import { STORAGE_DRIVER, StorageDriver } from '../../src/modules/storage';
import { createTestApp, TestApp } from '../support/test-app';
import { createTestPool, destroyTestPool, ensureZfsFuse, releaseZfsFuse, TestPool } from '../support/zfs-fuse';
import { freePort } from '../support/free-port';

jest.setTimeout(300_000);

const MiB = 1024 * 1024;
const IMAGE_BYTES = 16 * MiB;

/** Polls until `probe` returns a value (a short timer between probes, with a generous deadline). */
async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, ms = 120_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface Replica {
  versionId: string;
  node: string;
  state: string;
  method: string | null;
  sourceNode: string | null;
  baseVersionId: string | null;
  bytesCopied: number;
  sha256: string | null;
  error: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

type Driver = 'dir' | 'zfs';

describe.each<Driver>(['dir', 'zfs'])('image versions replicated between two nodes (%s driver)', (driver) => {
  let pool: TestPool | undefined;
  let work: string;
  let a: TestApp;
  let b: TestApp | null = null;
  let c: TestApp | null = null;
  let imageId: string;
  const versions: Record<string, string> = {};
  const shas: Record<string, string> = {};

  /** A node: its own storage, its API on a loopback port the other nodes reach (DLS_NODE_ADDRESS). */
  const startNode = async (name: string, databaseUrl?: string): Promise<TestApp> => {
    const port = await freePort();
    const env: Record<string, string> = {
      DLS_STORAGE_DRIVER: driver,
      // Each node of a site has its own name (these all run on this one host).
      DLS_NODE_NAME: name,
      // Where the other nodes reach this node's API: a site sets it when its nodes talk over a management network;
      // here they are all on loopback.
      DLS_NODE_ADDRESS: '127.0.0.1',
      PORT: String(port),
    };
    if (databaseUrl) env.DATABASE_URL = databaseUrl;
    if (pool) env.DLS_ZFS_ROOT = `${pool.name}/${name}`;
    const t = await createTestApp(env);
    await t.app.listen(port, '127.0.0.1');
    return t;
  };
  const as = (t: TestApp) => ({ Authorization: `Bearer ${t.adminToken}` });
  const replicas = async (t: TestApp, versionId: string): Promise<Replica[]> => {
    const r = await t.http.get(`/api/v1/replication?versionId=${versionId}`).set(as(t));
    expect(r.status).toBe(200);
    return r.body as Replica[];
  };
  const verifiedOn = (t: TestApp, node: string, versionId: string) =>
    waitFor(`${node}'s copy of ${versionId} to be verified`, async () =>
      (await replicas(t, versionId)).find((r) => r.node === node && r.state === 'verified'),
    ).catch(async (e: Error) => {
      throw new Error(`${e.message}; replicas: ${JSON.stringify(await replicas(t, versionId))}`);
    });
  /** Uploads `content` as the image's disk on A, then makes it version `name`. */
  const newVersion = async (name: string, content: Buffer): Promise<string> => {
    const up = await a.http
      .put(`/api/v1/images/${imageId}/content?format=raw`)
      .set(as(a))
      .set('Content-Type', 'application/octet-stream')
      .send(content);
    expect(up.status).toBe(200);
    const v = await a.http.post(`/api/v1/images/${imageId}/snapshots`).set(as(a)).send({ name });
    expect(v.status).toBe(201);
    versions[name] = v.body.id;
    return v.body.id;
  };
  const content = (fill: number): Buffer => {
    const buf = Buffer.alloc(IMAGE_BYTES);
    buf.fill(fill, 0, 2 * MiB); // a few MiB of data, the rest a sparse-friendly run of zeros
    randomBytes(64 * 1024).copy(buf, 4 * MiB);
    return buf;
  };
  const diskBytes = async (t: TestApp, clientId: string): Promise<Buffer> => {
    const r = await t.http.put(`/api/v1/clients/${clientId}/disk`).set(as(t));
    expect(r.status).toBe(200);
    return fs.readFile(r.body.path);
  };

  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'dls-replication-e2e-'));
    if (driver === 'zfs') {
      await ensureZfsFuse();
      pool = await createTestPool();
    }
    a = await startNode('rep-a');
    const img = await a.http
      .post('/api/v1/images')
      .set(as(a))
      .send({ name: `rep-${driver}`, sizeBytes: IMAGE_BYTES, format: 'raw' });
    expect(img.status).toBe(201);
    imageId = img.body.id;
    b = await startNode('rep-b', a.config.database.url);
  });

  afterAll(async () => {
    await c?.close();
    await b?.close();
    await a?.close();
    if (pool) await destroyTestPool(pool);
    if (driver === 'zfs') await releaseZfsFuse();
    if (work) await fs.rm(work, { recursive: true, force: true });
  }, 420_000); // destroyTestPool's own deadline (300 s, for zfs-fuse on busy cores) comes first

  it('a version made on A is copied to B, verified against its sha256, and gives a client on B a disk of those bytes', async () => {
    const bytes = content(0x11);
    const v1 = await newVersion('v1', bytes);
    const onB = await verifiedOn(b!, 'rep-b', v1);
    const onA = (await replicas(a, v1)).find((r) => r.node === 'rep-a')!;
    expect(onA).toMatchObject({ state: 'verified', method: 'local', sourceNode: null });
    expect(onA.sha256).toMatch(/^[0-9a-f]{64}$/);
    shas.v1 = onA.sha256!;
    expect(onB).toMatchObject({ sourceNode: 'rep-a', sha256: onA.sha256, method: driver === 'zfs' ? 'zfs-full' : 'raw' });
    const secs = (Date.parse(onB.finishedAt!) - Date.parse(onB.startedAt!)) / 1000;
    console.log(`replication (${driver}): v1 full copy ${onB.bytesCopied} bytes (${onB.method}) + check in ${secs.toFixed(2)} s`);

    // Bootable on B: a client there gets a disk cloned from B's own copy, with A's bytes.
    const client = await b!.http
      .post('/api/v1/clients')
      .set(as(b!))
      .send({ macAddress: '52:54:00:aa:10:01', hostname: `rep-pc-${driver}`, assignedImageId: imageId, pinnedSnapshotId: v1 });
    expect(client.status).toBe(201);
    const disk = await diskBytes(b!, client.body.id);
    expect(disk.length).toBe(IMAGE_BYTES);
    expect(disk.equals(bytes)).toBe(true);
    await b!.http.delete(`/api/v1/clients/${client.body.id}`).set(as(b!)).expect(204);
  });

  it('the next version travels as a ZFS incremental from the version both hold (dir: the file again)', async () => {
    const next = content(0x22);
    const v2 = await newVersion('v2', next);
    const onB = await verifiedOn(b!, 'rep-b', v2);
    const v1OnB = (await replicas(b!, versions.v1)).find((r) => r.node === 'rep-b')!;
    if (driver === 'zfs') {
      expect(onB).toMatchObject({ method: 'zfs-incremental', baseVersionId: versions.v1 });
      expect(onB.bytesCopied).toBeLessThan(v1OnB.bytesCopied);
    } else {
      expect(onB).toMatchObject({ method: 'raw', baseVersionId: null });
      expect(onB.bytesCopied).toBe(IMAGE_BYTES);
    }
    const secs = (Date.parse(onB.finishedAt!) - Date.parse(onB.startedAt!)) / 1000;
    console.log(`replication (${driver}): v2 ${onB.method} ${onB.bytesCopied} bytes (v1 full: ${v1OnB.bytesCopied}) + check in ${secs.toFixed(2)} s`);
    const sha = (await replicas(a, v2)).find((r) => r.node === 'rep-a')!.sha256;
    expect(onB.sha256).toBe(sha);
    expect(sha).not.toBe(shas.v1);
  });

  it('the content route answers only a request signed with the nodes secret, for that exact path', async () => {
    const p = `/api/v1/replication/versions/${versions.v1}/content?base=`;
    expect((await a.http.get(p)).status).toBe(401);
    expect((await a.http.get(p).set(as(a))).status).toBe(401); // an admin's token is no node credential
    const [{ value: secret }] = await a.app.get(DataSource).query(`SELECT value FROM shared_secrets WHERE name = 'node-secret'`);
    const bNode = b!.app.get(ClusterService).id!;
    const forV1 = signNodeRequest(secret, bNode, 'GET', p);
    // Replayed for another version, or with a forged signature: refused.
    expect((await a.http.get(`/api/v1/replication/versions/${versions.v2}/content?base=`).set('Authorization', forV1)).status).toBe(401);
    expect((await a.http.get(p).set('Authorization', forV1.slice(0, -4) + 'AAAA')).status).toBe(401);
    expect((await a.http.get(p.replace('base=', 'base=nope')).set('Authorization', forV1)).status).toBe(400);
    const unknown = `/api/v1/replication/versions/${randomUUID()}/content?base=`;
    expect((await a.http.get(unknown).set('Authorization', signNodeRequest(secret, bNode, 'GET', unknown))).status).toBe(404);
    const ok = await a.http
      .get(p)
      .set('Authorization', forV1)
      .buffer(true)
      .parse((res, cb) => {
        let n = 0;
        res.on('data', (d: Buffer) => (n += d.length));
        res.on('end', () => cb(null, n));
      });
    expect(ok.status).toBe(200);
    expect(ok.headers['x-dls-stream-format']).toBe(driver === 'zfs' ? 'zfs-full' : 'raw');
    expect(ok.body).toBeGreaterThan(0);
  });

  it('a copy whose bytes do not match the recorded sha256 is discarded, shown failed, not booted, and keeps the node from taking ranges', async () => {
    await b!.close();
    b = null;
    const v3 = await newVersion('v3', content(0x33));
    await verifiedOn(a, 'rep-a', v3); // A has hashed it (in the background) and recorded the sha256
    const ds = a.app.get(DataSource);
    const [{ sha256 }] = await ds.query(`SELECT sha256 FROM image_snapshots WHERE id = $1`, [v3]);
    await ds.query(`UPDATE image_snapshots SET sha256 = $2 WHERE id = $1`, [v3, 'f'.repeat(64)]);
    c = await startNode('rep-c', a.config.database.url);
    const range = await a.http
      .post('/api/v1/network-ranges')
      .set(as(a))
      .send({
        name: `rep-room-${driver}`,
        cidr: '10.78.0.0/24',
        dhcpMode: 'full',
        poolStart: '10.78.0.100',
        poolEnd: '10.78.0.199',
        interface: 'lab0',
      });
    expect(range.status).toBe(201);

    const failed = await waitFor('the bad copy on C to fail', async () =>
      (await replicas(c!, v3)).find((r) => r.node === 'rep-c' && r.state === 'failed'),
    );
    expect(failed.error).toMatch(/sha256 [0-9a-f]{64} is not the recorded f{64}: discarded/);
    await verifiedOn(c, 'rep-c', versions.v1);
    await verifiedOn(c, 'rep-c', versions.v2);
    const storage = c.app.get<StorageDriver>(STORAGE_DRIVER);
    expect(await storage.versionInfo(imageId, v3)).toBeNull(); // nothing of the bad copy is left
    // C lacks a version A holds: it takes no range, and a client of that version gets no disk on C.
    expect([...(await c.app.get(ClusterService).want([range.body.id]))]).toEqual([]);
    const client = await c.http
      .post('/api/v1/clients')
      .set(as(c))
      .send({ macAddress: '52:54:00:aa:10:03', hostname: `rep-pc3-${driver}`, assignedImageId: imageId, pinnedSnapshotId: v3 });
    expect(client.status).toBe(201);
    const refused = await c.http.put(`/api/v1/clients/${client.body.id}/disk`).set(as(c));
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('VERSION_NOT_ON_NODE');
    expect(refused.body.message).toMatch(/not on node rep-c yet/);

    // The real sha256 back: the retry (after its pause) verifies, C boots v3 and may take the range.
    await ds.query(`UPDATE image_snapshots SET sha256 = $2 WHERE id = $1`, [v3, sha256]);
    await verifiedOn(c, 'rep-c', v3);
    expect((await c.http.put(`/api/v1/clients/${client.body.id}/disk`).set(as(c))).status).toBe(200);
    await waitFor('C to take the range', async () => (await c!.app.get(ClusterService).want([range.body.id])).has(range.body.id));
    await c.http.delete(`/api/v1/clients/${client.body.id}`).set(as(c)).expect(204);
  });

  it('a version deleted through the API leaves every node', async () => {
    const storage = c!.app.get<StorageDriver>(STORAGE_DRIVER);
    expect(await storage.versionInfo(imageId, versions.v2)).not.toBeNull();
    const del = await a.http.delete(`/api/v1/images/${imageId}/snapshots/${versions.v2}`).set(as(a));
    expect(del.status).toBe(204);
    await waitFor('v2 to leave C', async () => (await storage.versionInfo(imageId, versions.v2)) === null);
    expect(await replicas(a, versions.v2)).toEqual([]);
  });

  it('a version made by a maintenance commit travels as a ZFS incremental from the version both hold (dir: the file)', async () => {
    // The maintenance flow on A: a client's writable clone of the newest version, 64 KiB changed, committed.
    const pc = await a.http
      .post('/api/v1/clients')
      .set(as(a))
      .send({ macAddress: '52:54:00:aa:10:04', hostname: `rep-maint-${driver}`, assignedImageId: imageId });
    expect(pc.status).toBe(201);
    await a.http.post(`/api/v1/images/${imageId}/maintenance`).set(as(a)).send({ clientId: pc.body.id }).expect(200);
    const disk = await a.http.put(`/api/v1/clients/${pc.body.id}/disk`).set(as(a));
    expect(disk.status).toBe(200);
    const fh = await fs.open(disk.body.path, 'r+');
    await fh.write(randomBytes(64 * 1024), 0, 64 * 1024, 8 * MiB);
    await fh.sync();
    await fh.close();
    const v4 = await a.http.post(`/api/v1/images/${imageId}/snapshots/commit`).set(as(a)).send({ name: 'v4' });
    expect(v4.status).toBe(201);
    const onC = await verifiedOn(c!, 'rep-c', v4.body.id);
    // zfs: an incremental from v3; a commit rewrites the image's disk.raw whole, so the stream is not smaller than a
    // full one yet (only the changed blocks would be: see README, "Scaling out").
    if (driver === 'zfs') expect(onC).toMatchObject({ method: 'zfs-incremental', baseVersionId: versions.v3 });
    else expect(onC).toMatchObject({ method: 'raw', bytesCopied: IMAGE_BYTES });
    console.log(`replication (${driver}): v4 (64 KiB changed by a maintenance commit) ${onC.method} ${onC.bytesCopied} bytes`);
    await a.http.delete(`/api/v1/images/${imageId}/maintenance`).set(as(a)).expect(200);
  });
});
