import { DataSource } from 'typeorm';
import { clientBody, imageBody, makeClient, makeImage, makeSnapshot } from '../factories';
import { createTestApp, TestApp } from '../support/test-app';

const NIL = '00000000-0000-4000-8000-000000000000';

jest.setTimeout(120_000);

describe('images and snapshots (e2e)', () => {
  let t: TestApp;
  let ds: DataSource;
  let admin: string;
  let operator: string;
  let viewer: string;
  const as = (token: string) => ({ Authorization: `Bearer ${token}` });

  beforeAll(async () => {
    t = await createTestApp();
    ds = t.app.get(DataSource);
    admin = t.adminToken;
    operator = await t.tokenFor('operator');
    viewer = await t.tokenFor('viewer');
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('images CRUD', () => {
    it('creates, reads, updates and deletes an image', async () => {
      const body = imageBody({ description: 'base', osType: 'linux', tags: ['lab', 'gpu'], isTemplate: true, zfsDataset: 'tank/dls/img1' });
      const c = await t.http.post('/api/v1/images').set(as(admin)).send(body).expect(201);
      expect(c.body).toMatchObject({ ...body, parentImageId: null });
      expect(c.body.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(typeof c.body.sizeBytes).toBe('number');

      const g = await t.http.get(`/api/v1/images/${c.body.id}`).set(as(viewer)).expect(200);
      expect(g.body).toEqual(c.body);

      const u = await t.http
        .patch(`/api/v1/images/${c.body.id}`)
        .set(as(admin))
        .send({ description: null, tags: ['x'] })
        .expect(200);
      expect(u.body).toMatchObject({ description: null, tags: ['x'], name: body.name });

      await t.http.delete(`/api/v1/images/${c.body.id}`).set(as(admin)).expect(204);
      await t.http.get(`/api/v1/images/${c.body.id}`).set(as(viewer)).expect(404);
    });

    it('lists with filters and pagination', async () => {
      const os = `os-${process.pid}`;
      await makeImage(ds, { osType: os, isTemplate: true, tags: ['alpha', 'beta'] });
      await makeImage(ds, { osType: os, isTemplate: false, tags: ['beta'] });
      await makeImage(ds, { osType: os, isTemplate: false, tags: null });
      const all = await t.http.get('/api/v1/images').query({ osType: os }).set(as(viewer)).expect(200);
      expect(all.body.total).toBe(3);
      expect(all.body.items).toHaveLength(3);
      const tpl = await t.http.get('/api/v1/images').query({ osType: os, isTemplate: 'true' }).set(as(viewer)).expect(200);
      expect(tpl.body.total).toBe(1);
      const beta = await t.http.get('/api/v1/images').query({ osType: os, tag: 'beta' }).set(as(viewer)).expect(200);
      expect(beta.body.total).toBe(2);
      const alpha = await t.http.get('/api/v1/images').query({ osType: os, tag: 'alpha' }).set(as(viewer)).expect(200);
      expect(alpha.body.items.map((i: { tags: string[] }) => i.tags)).toEqual([['alpha', 'beta']]);
      const page = await t.http.get('/api/v1/images').query({ osType: os, limit: 2, offset: 2 }).set(as(viewer)).expect(200);
      expect(page.body).toMatchObject({ total: 3 });
      expect(page.body.items).toHaveLength(1);
    });

    it.each([
      [{ limit: 0 }, 'limit'],
      [{ limit: 501 }, 'limit'],
      [{ limit: 'abc' }, 'limit'],
      [{ offset: -1 }, 'offset'],
      [{ isTemplate: 'maybe' }, 'isTemplate'],
      [{ bogus: 1 }, 'bogus'],
    ])('rejects list query %j naming %s', async (query, field) => {
      const r = await t.http.get('/api/v1/images').query(query).set(as(viewer)).expect(400);
      expect(JSON.stringify(r.body.message)).toContain(field);
    });

    it.each([
      ['name', { name: '' }],
      ['name', { name: undefined }],
      ['sizeBytes', { sizeBytes: 0 }],
      ['sizeBytes', { sizeBytes: -5 }],
      ['sizeBytes', { sizeBytes: 1.5 }],
      ['sizeBytes', { sizeBytes: '10' }],
      ['format', { format: 'vmdk' }],
      ['path', { path: '' }],
      ['tags', { tags: 'a' }],
      ['tags', { tags: [1] }],
      ['isTemplate', { isTemplate: 'yes' }],
      ['parentImageId', { parentImageId: 'nope' }],
      ['zfsDataset', { zfsDataset: 'tank/../x y' }],
      ['extra', { extra: 1 }],
    ])('rejects create with bad %s', async (field, over) => {
      const r = await t.http.post('/api/v1/images').set(as(admin)).send(imageBody(over)).expect(400);
      expect(r.body.code).toBe('VALIDATION_FAILED');
      expect(JSON.stringify(r.body.message)).toContain(field);
    });

    it('rejects malformed JSON with 400', async () => {
      const r = await t.http.post('/api/v1/images').set(as(admin)).set('Content-Type', 'application/json').send('{"name":').expect(400);
      expect(r.body.code).toBe('MALFORMED_BODY');
    });

    it('answers 400 for a non-UUID id and 404 for an unknown one', async () => {
      const bad = await t.http.get('/api/v1/images/not-a-uuid').set(as(viewer)).expect(400);
      expect(bad.body.message).toContain('id');
      await t.http.get(`/api/v1/images/${NIL}`).set(as(viewer)).expect(404);
      await t.http.patch(`/api/v1/images/${NIL}`).set(as(admin)).send({ description: 'x' }).expect(404);
      await t.http.delete(`/api/v1/images/${NIL}`).set(as(admin)).expect(404);
      await t.http.get(`/api/v1/images/${NIL}/children`).set(as(viewer)).expect(404);
      await t.http.delete('/api/v1/images/123').set(as(admin)).expect(400);
    });

    it('rejects a duplicate name with 409', async () => {
      const body = imageBody();
      await t.http.post('/api/v1/images').set(as(admin)).send(body).expect(201);
      const r = await t.http
        .post('/api/v1/images')
        .set(as(admin))
        .send(imageBody({ name: body.name }))
        .expect(409);
      expect(r.body.message).toBe(`an image named "${body.name}" already exists`);
    });

    it('rejects null for required fields on PATCH', async () => {
      const img = await makeImage(ds);
      const r = await t.http.patch(`/api/v1/images/${img.id}`).set(as(admin)).send({ sizeBytes: null }).expect(400);
      expect(r.body.message).toContain('sizeBytes');
    });
  });

  describe('parent/child', () => {
    it('links children, lists them, and refuses unknown parents and cycles', async () => {
      const a = (await t.http.post('/api/v1/images').set(as(admin)).send(imageBody()).expect(201)).body;
      const b = (
        await t.http
          .post('/api/v1/images')
          .set(as(admin))
          .send(imageBody({ parentImageId: a.id }))
          .expect(201)
      ).body;
      const c = (
        await t.http
          .post('/api/v1/images')
          .set(as(admin))
          .send(imageBody({ parentImageId: b.id }))
          .expect(201)
      ).body;
      const kids = await t.http.get(`/api/v1/images/${a.id}/children`).set(as(viewer)).expect(200);
      expect(kids.body).toMatchObject({ total: 1, items: [{ id: b.id, parentImageId: a.id }] });

      const missing = await t.http
        .post('/api/v1/images')
        .set(as(admin))
        .send(imageBody({ parentImageId: NIL }))
        .expect(404);
      expect(missing.body).toMatchObject({ code: 'PARENT_IMAGE_NOT_FOUND' });
      expect(missing.body.message).toContain('parentImageId');

      const self = await t.http.patch(`/api/v1/images/${a.id}`).set(as(admin)).send({ parentImageId: a.id }).expect(400);
      expect(self.body.code).toBe('PARENT_IMAGE_CYCLE');
      const loop = await t.http.patch(`/api/v1/images/${a.id}`).set(as(admin)).send({ parentImageId: c.id }).expect(400);
      expect(loop.body).toMatchObject({ code: 'PARENT_IMAGE_CYCLE' });
      expect(loop.body.message).toContain('parentImageId');
      // the failed update changed nothing
      expect((await t.http.get(`/api/v1/images/${a.id}`).set(as(viewer))).body.parentImageId).toBeNull();

      // deleting a parent leaves the child an orphan (ON DELETE SET NULL)
      await t.http.delete(`/api/v1/images/${c.id}`).set(as(admin)).expect(204);
      await t.http.delete(`/api/v1/images/${b.id}`).set(as(admin)).expect(204);
      expect((await t.http.get(`/api/v1/images/${a.id}/children`).set(as(viewer))).body.total).toBe(0);
    });
  });

  describe('delete guards', () => {
    it('refuses to delete an image assigned to clients, naming them', async () => {
      const img = await makeImage(ds);
      await makeClient(ds, { hostname: 'pc-02', assignedImageId: img.id });
      await makeClient(ds, { hostname: 'pc-01', assignedImageId: img.id });
      const r = await t.http.delete(`/api/v1/images/${img.id}`).set(as(admin)).expect(409);
      expect(r.body).toMatchObject({ code: 'IMAGE_IN_USE', message: 'image is assigned to 2 clients: pc-01, pc-02' });
      await t.http.get(`/api/v1/images/${img.id}`).set(as(viewer)).expect(200);
    });

    it('refuses to delete an image that has versions', async () => {
      const img = await makeImage(ds);
      for (let i = 0; i < 3; i++) await makeSnapshot(ds, img.id);
      const r = await t.http.delete(`/api/v1/images/${img.id}`).set(as(admin)).expect(409);
      expect(r.body).toMatchObject({ code: 'IMAGE_HAS_VERSIONS', message: 'image has 3 versions' });
    });
  });

  describe('roles', () => {
    it('lets viewers read but not write, and operators not write images', async () => {
      const img = await makeImage(ds);
      await t.http.get('/api/v1/images').expect(401);
      await t.http.get('/api/v1/images').set(as(viewer)).expect(200);
      for (const token of [viewer, operator]) {
        await t.http.post('/api/v1/images').set(as(token)).send(imageBody()).expect(403);
        await t.http.patch(`/api/v1/images/${img.id}`).set(as(token)).send({ description: 'x' }).expect(403);
        await t.http.delete(`/api/v1/images/${img.id}`).set(as(token)).expect(403);
      }
    });
  });

  describe('snapshots', () => {
    let imageId: string;
    const base = () => `/api/v1/images/${imageId}/snapshots`;

    const withContent = async () => {
      const id = (await makeImage(ds)).id;
      await t.http
        .post(`/api/v1/images/${id}/content/blank`)
        .set(as(admin))
        .send({ sizeBytes: 1024 * 1024 })
        .expect(200);
      return id;
    };

    beforeAll(async () => {
      imageId = await withContent();
    });

    it('creates, lists, gets, publishes and deletes versions', async () => {
      const v1 = (await t.http.post(base()).set(as(operator)).send({ name: 'v1', description: 'first' }).expect(201)).body;
      expect(v1).toMatchObject({ imageId, name: 'v1', description: 'first', isPublished: false, publishedAt: null });
      expect(v1.storageRef).toBeTruthy();
      const v2 = (await t.http.post(base()).set(as(operator)).send({ name: 'v2.0_rc-1' }).expect(201)).body;

      const list = await t.http.get(base()).set(as(viewer)).expect(200);
      expect(list.body.total).toBe(2);
      expect((await t.http.get(`${base()}/${v1.id}`).set(as(viewer)).expect(200)).body.id).toBe(v1.id);

      const p1 = await t.http.post(`${base()}/${v1.id}/publish`).set(as(operator)).expect(200);
      expect(p1.body).toMatchObject({ id: v1.id, isPublished: true });
      expect(p1.body.publishedAt).toBeTruthy();
      // idempotent
      await t.http.post(`${base()}/${v1.id}/publish`).set(as(operator)).expect(200);
      // switch: v2 published, v1 not
      await t.http.post(`${base()}/${v2.id}/publish`).set(as(operator)).expect(200);
      const after = await t.http.get(base()).set(as(viewer)).expect(200);
      const published = after.body.items.filter((s: { isPublished: boolean }) => s.isPublished);
      expect(published.map((s: { id: string }) => s.id)).toEqual([v2.id]);

      const blocked = await t.http.delete(`${base()}/${v2.id}`).set(as(operator)).expect(409);
      expect(blocked.body.code).toBe('PUBLISHED_VERSION');
      await t.http.delete(`${base()}/${v1.id}`).set(as(operator)).expect(204);
      await t.http.get(`${base()}/${v1.id}`).set(as(viewer)).expect(404);
    });

    it('keeps one published version under concurrent publishes', async () => {
      const img = { id: await withContent() };
      const vs = await Promise.all([1, 2, 3, 4].map((i) => makeSnapshot(ds, img.id, { name: `c${i}` })));
      const rs = await Promise.all(vs.map((v) => t.http.post(`/api/v1/images/${img.id}/snapshots/${v.id}/publish`).set(as(operator))));
      expect(rs.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      const rows = await ds.query('SELECT count(*)::int AS n FROM image_snapshots WHERE image_id = $1 AND is_published', [img.id]);
      expect(rows[0].n).toBe(1);
    });

    it.each([['-leading'], ['has space'], ['a/b'], [''], ['x'.repeat(65)], ['ü']])('rejects version name %j', async (name) => {
      const r = await t.http.post(base()).set(as(operator)).send({ name }).expect(400);
      expect(JSON.stringify(r.body.message)).toContain('name');
    });

    it('rejects a duplicate name with 409 and unknown ids with 404/400', async () => {
      await t.http.post(base()).set(as(operator)).send({ name: 'dup' }).expect(201);
      const dup = await t.http.post(base()).set(as(operator)).send({ name: 'dup' }).expect(409);
      expect(dup.body.message).toBe('this image already has a version with that name');
      await t.http.get(`/api/v1/images/${NIL}/snapshots`).set(as(viewer)).expect(404);
      await t.http.post(`/api/v1/images/${NIL}/snapshots`).set(as(operator)).send({ name: 'x' }).expect(404);
      await t.http.get(`${base()}/${NIL}`).set(as(viewer)).expect(404);
      await t.http.post(`${base()}/${NIL}/publish`).set(as(operator)).expect(404);
      await t.http.delete(`${base()}/${NIL}`).set(as(operator)).expect(404);
      await t.http.get(`${base()}/zzz`).set(as(viewer)).expect(400);
      await t.http.get('/api/v1/images/zzz/snapshots').set(as(viewer)).expect(400);
    });

    it('does not serve a version through another image', async () => {
      const other = await makeImage(ds);
      const v = await makeSnapshot(ds, other.id);
      await t.http.get(`${base()}/${v.id}`).set(as(viewer)).expect(404);
      await t.http.post(`${base()}/${v.id}/publish`).set(as(operator)).expect(404);
    });

    it('forbids viewers to write versions', async () => {
      const v = await makeSnapshot(ds, imageId);
      await t.http.post(base()).set(as(viewer)).send({ name: 'nope' }).expect(403);
      await t.http.post(`${base()}/${v.id}/publish`).set(as(viewer)).expect(403);
      await t.http.delete(`${base()}/${v.id}`).set(as(viewer)).expect(403);
    });
  });

  it('refuses to assign a client to an image being deleted (no silent unassign)', async () => {
    const img = await makeImage(ds);
    const c = await t.http
      .post('/api/v1/clients')
      .set(as(operator))
      .send(clientBody({ assignedImageId: img.id }))
      .expect(201);
    await t.http.delete(`/api/v1/images/${img.id}`).set(as(admin)).expect(409);
    expect((await t.http.get(`/api/v1/clients/${c.body.id}`).set(as(viewer))).body.assignedImageId).toBe(img.id);
  });
});
