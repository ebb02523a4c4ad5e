/**
 * Client disks made ahead of the first boot (DLS_DISKS_AHEAD, on by default where a disk is O(1)): on the README's
 * defaults (dir driver, `auto` clone method) an enabled client with a published image gets its disk without booting;
 * disabled, pending and image-less clients get none; a disk deleted through the API comes back fresh; a client deleted
 * while its disk is being made leaves no disk in storage. Real storage, real PostgreSQL.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { DisksAhead } from '../../src/modules/catalog/disks/disks-ahead.service';
import { STORAGE_DRIVER, StorageDriver } from '../../src/modules/storage';
import { uniqueMac } from '../factories';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(180_000);

const MiB = 1024 * 1024;

describe('client disks made ahead of the first boot (e2e)', () => {
  let t: TestApp;
  let auth: { Authorization: string };
  let imageId: string;
  let driver: StorageDriver;
  let ahead: DisksAhead;

  const disk = (id: string) => t.http.get(`/api/v1/clients/${id}/disk`).set(auth);
  /** The disk is there and made (a row in state `creating` answers 200 too). */
  const ready = async (id: string) => {
    const r = await disk(id);
    return r.status === 200 && r.body.state === 'ready';
  };
  const client = async (over: Record<string, unknown> = {}): Promise<string> => {
    const r = await t.http
      .post('/api/v1/clients')
      .set(auth)
      .send({ macAddress: uniqueMac(), hostname: `ahead-${randomBytes(4).toString('hex')}`, ...over });
    expect(r.status).toBe(201);
    return r.body.id as string;
  };
  /** Waits (generously: the suite may share its cores) until `check` holds. */
  const until = async (what: string, check: () => Promise<boolean>, deadlineMs = 60_000): Promise<void> => {
    const end = Date.now() + deadlineMs;
    while (!(await check())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const imageWithContent = async (publish: boolean): Promise<string> => {
    const r = await t.http
      .post('/api/v1/images')
      .set(auth)
      .send({ name: `ahead-${randomBytes(4).toString('hex')}`, sizeBytes: MiB, format: 'raw' })
      .expect(201);
    await t.http
      .put(`/api/v1/images/${r.body.id}/content?format=raw`)
      .set(auth)
      .set('Content-Type', 'application/octet-stream')
      .send(Buffer.alloc(MiB, 7))
      .expect(200);
    if (publish) {
      const v = await t.http.post(`/api/v1/images/${r.body.id}/snapshots`).set(auth).send({ name: 'v1' }).expect(201);
      await t.http.post(`/api/v1/images/${r.body.id}/snapshots/${v.body.id}/publish`).set(auth).expect(200);
    }
    return r.body.id as string;
  };

  beforeAll(async () => {
    t = await createTestApp();
    auth = { Authorization: `Bearer ${t.adminToken}` };
    driver = t.app.get<StorageDriver>(STORAGE_DRIVER);
    ahead = t.app.get(DisksAhead);
    imageId = await imageWithContent(true);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('an enabled client with a published image has its disk before it ever boots (where a disk is O(1))', async () => {
    const { cloneMethod } = (await t.http.get('/api/v1/storage').set(auth).expect(200)).body;
    const id = await client({ assignedImageId: imageId });
    if (cloneMethod === 'copy') {
      // No FUSE and no reflink here: a full copy per client is not made before anyone boots.
      await ahead.flush();
      expect((await disk(id)).status).toBe(404);
      return;
    }
    await until('the disk made ahead', () => ready(id));
    expect((await disk(id)).body).toMatchObject({ imageId, state: 'ready', policy: 'reset' });
    expect(await driver.clientDisk(id)).toMatchObject({ clientId: id, imageId });
    expect(ahead.madeCount).toBeGreaterThanOrEqual(1);
  });

  it('a disabled, a pending and an image-less client get none; enabling one makes its disk', async () => {
    const { cloneMethod } = (await t.http.get('/api/v1/storage').set(auth).expect(200)).body;
    const disabled = await client({ assignedImageId: imageId, enabled: false });
    const bare = await client();
    const unpublished = await client({ assignedImageId: await imageWithContent(false) });
    await ahead.flush();
    for (const id of [disabled, bare, unpublished]) expect((await disk(id)).status).toBe(404);

    await t.http.patch(`/api/v1/clients/${disabled}`).set(auth).send({ enabled: true }).expect(200);
    if (cloneMethod === 'copy') return;
    await until('the disk of the client just enabled', () => ready(disabled));
    await ahead.flush();
    for (const id of [bare, unpublished]) expect((await disk(id)).status).toBe(404);
  });

  it('a disk deleted through the API comes back fresh for an enabled client, and stays gone for a disabled one', async () => {
    const { cloneMethod } = (await t.http.get('/api/v1/storage').set(auth).expect(200)).body;
    if (cloneMethod === 'copy') return;
    const id = await client({ assignedImageId: imageId });
    await until('the disk made ahead', () => ready(id));
    const first = (await disk(id)).body;
    await fs.writeFile(path.join(path.dirname(first.path), 'marker'), 'old disk'); // a file of the old disk's directory
    await t.http.delete(`/api/v1/clients/${id}/disk`).set(auth).expect(204);
    await until('a fresh disk made again', () => ready(id));
    await expect(fs.stat(path.join(path.dirname(first.path), 'marker'))).rejects.toThrow(/ENOENT/);

    await t.http.patch(`/api/v1/clients/${id}`).set(auth).send({ enabled: false }).expect(200);
    await t.http.delete(`/api/v1/clients/${id}/disk`).set(auth).expect(204);
    await ahead.flush();
    expect((await disk(id)).status).toBe(404);
  });

  it('clients deleted while their disks are being made ahead (one by one and in bulk) leave no disk in storage', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await client({ assignedImageId: imageId }));
    // Delete them at once, racing the scan that the creations scheduled.
    for (const id of ids.slice(0, 3)) await t.http.delete(`/api/v1/clients/${id}`).set(auth).expect(204);
    await t.http
      .post('/api/v1/clients/actions')
      .set(auth)
      .send({ action: 'delete', ids: ids.slice(3) })
      .expect(200);
    await ahead.flush();
    const left = (await driver.listClientDisks()).map((d) => d.clientId);
    for (const id of ids) expect(left).not.toContain(id);
    const rows: unknown[] = await t.app.get(DataSource).query('SELECT 1 FROM client_disks WHERE client_id = ANY($1::uuid[])', [ids]);
    expect(rows).toEqual([]);
  });
});
