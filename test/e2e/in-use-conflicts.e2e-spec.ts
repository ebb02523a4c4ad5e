import { DataSource } from 'typeorm';
import { ClientGroup } from '../../src/modules/catalog/groups/client-group.entity';
import { makeClient, makeImage, makeSnapshot, unique } from '../factories';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(180_000);

/** A 409 about something clients use names them in `details`: `clients` ([{ id, hostname }], at most 50) and `count`. */
describe('409 in-use answers name the clients (e2e)', () => {
  let t: TestApp;
  let ds: DataSource;
  let operator: string;
  const as = () => ({ Authorization: `Bearer ${operator}` });

  beforeAll(async () => {
    t = await createTestApp();
    ds = t.app.get(DataSource);
    operator = await t.tokenFor('operator');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('DELETE of a pinned version: VERSION_IN_USE with the clients that pin it (themselves or through their group)', async () => {
    const img = await makeImage(ds);
    const v = await makeSnapshot(ds, img.id);
    const own = await makeClient(ds, { hostname: unique('b-own'), assignedImageId: img.id, pinnedSnapshotId: v.id });
    const groups = ds.getRepository(ClientGroup);
    const group = await groups.save(groups.create({ name: unique('grp'), imageId: img.id, pinnedSnapshotId: v.id }));
    const member = await makeClient(ds, { hostname: unique('a-member'), groupId: group.id });
    await makeClient(ds, { hostname: unique('c-other'), assignedImageId: img.id }); // boots the image, not this version

    const r = await t.http.delete(`/api/v1/images/${img.id}/snapshots/${v.id}`).set(as()).expect(409);
    expect(r.body).toMatchObject({ code: 'VERSION_IN_USE', details: { count: 2 } });
    expect(r.body.details.clients).toEqual([
      { id: member.id, hostname: member.hostname },
      { id: own.id, hostname: own.hostname },
    ]);
    expect(r.body.message).toContain(own.hostname);
  });

  it('DELETE of the published version: PUBLISHED_VERSION with the clients that boot it; at most 50 listed, count = all', async () => {
    const img = await makeImage(ds);
    const v = await makeSnapshot(ds, img.id, { isPublished: true, publishedAt: new Date() });
    const pinnedElsewhere = await makeSnapshot(ds, img.id);
    const prefix = unique('pub');
    const rows = Array.from({ length: 60 }, (_, i) => ({
      macAddress: `02:aa:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
      hostname: `${prefix}-${String(i).padStart(2, '0')}`,
      assignedImageId: img.id,
    }));
    await t.http.post('/api/v1/clients/bulk').set(as()).send(rows).expect(201);
    await makeClient(ds, { assignedImageId: img.id, pinnedSnapshotId: pinnedElsewhere.id }); // boots another version

    const r = await t.http.delete(`/api/v1/images/${img.id}/snapshots/${v.id}`).set(as()).expect(409);
    expect(r.body).toMatchObject({ code: 'PUBLISHED_VERSION', details: { snapshotId: v.id, count: 60 } });
    expect(r.body.details.clients).toHaveLength(50);
    expect(r.body.details.clients[0]).toEqual({ id: expect.any(String), hostname: `${prefix}-00` });
    expect(r.body.details.clients[49].hostname).toBe(`${prefix}-49`);
    expect(r.body.message).toContain('and 10 more');
  });

  it('DELETE of an image clients are assigned to: IMAGE_IN_USE with the clients and their count', async () => {
    const img = await makeImage(ds);
    const a = await makeClient(ds, { hostname: unique('img-a'), assignedImageId: img.id });
    const b = await makeClient(ds, { hostname: unique('img-b'), assignedImageId: img.id });
    const r = await t.http
      .delete(`/api/v1/images/${img.id}`)
      .set({ Authorization: `Bearer ${t.adminToken}` })
      .expect(409);
    expect(r.body).toMatchObject({ code: 'IMAGE_IN_USE', details: { count: 2, versions: 0, openSessions: 0 } });
    expect(r.body.details.clients).toEqual([
      { id: a.id, hostname: a.hostname },
      { id: b.id, hostname: b.hostname },
    ]);
  });

  it('the OpenAPI error schema documents details', async () => {
    const doc = (await t.http.get('/docs-json').expect(200)).body;
    expect(doc.components.schemas.ApiErrorResponse.properties.details.description).toContain('`clients`');
  });
});
