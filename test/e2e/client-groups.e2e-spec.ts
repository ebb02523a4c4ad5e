import { DataSource } from 'typeorm';
import { BootPolicyService, ClientDirectory } from '../../src/modules/catalog';
import { clientBody, makeImage, makeSnapshot, unique, uniqueMac } from '../factories';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(120_000);

describe('client groups (e2e)', () => {
  let t: TestApp;
  let ds: DataSource;
  let operator: string;
  let viewer: string;
  const as = (token: string) => ({ Authorization: `Bearer ${token}` });

  beforeAll(async () => {
    t = await createTestApp();
    ds = t.app.get(DataSource);
    operator = await t.tokenFor('operator');
    viewer = await t.tokenFor('viewer');
  });
  afterAll(async () => {
    await t?.close();
  });

  /** An image with a published, bootable version (storage not touched: the boot policy only reads the rows). */
  const bootableImage = async () => {
    const img = await makeImage(ds, { defaultDiskPolicy: 'reset' });
    const v = await makeSnapshot(ds, img.id, { storageRef: `ref-${img.id}`, isPublished: true });
    return { img, v };
  };

  it('CRUD with roles: viewer reads, operator writes; 409 on a taken name; audit entries', async () => {
    const name = unique('room');
    await t.http.post('/api/v1/client-groups').set(as(viewer)).send({ name }).expect(403);
    const g = await t.http.post('/api/v1/client-groups').set(as(operator)).send({ name, description: 'room A', bootLoader: 'ipxe.efi' }).expect(201);
    expect(g.body).toMatchObject({ name, description: 'room A', bootLoader: 'ipxe.efi', imageId: null, version: 1 });
    await t.http.post('/api/v1/client-groups').set(as(operator)).send({ name }).expect(409);
    expect((await t.http.get(`/api/v1/client-groups/${g.body.id}`).set(as(viewer)).expect(200)).body).toEqual(g.body);
    const list = await t.http.get('/api/v1/client-groups').set(as(viewer)).expect(200);
    expect(list.body.items.map((x: { id: string }) => x.id)).toContain(g.body.id);
    const u = await t.http.patch(`/api/v1/client-groups/${g.body.id}`).set(as(operator)).send({ bootParams: 'quiet' }).expect(200);
    expect(u.body).toMatchObject({ bootParams: 'quiet', version: 2 });
    await t.http.patch(`/api/v1/client-groups/${g.body.id}`).set(as(operator)).send({ name: null }).expect(400);
    await t.http.patch(`/api/v1/client-groups/${g.body.id}`).set(as(operator)).send({ bootParams: 'a$b' }).expect(400);
    await t.http
      .post('/api/v1/client-groups')
      .set(as(operator))
      .send({ name: unique('g'), imageId: '00000000-0000-4000-8000-000000000000' })
      .expect(404);
    const audit = await ds.query("SELECT action FROM audit_log WHERE entity_type = 'client-groups' AND entity_id = $1 ORDER BY id", [g.body.id]);
    expect(audit.map((a: { action: string }) => a.action)).toEqual(
      expect.arrayContaining([expect.stringMatching(/create$/), expect.stringMatching(/update$/)]),
    );
    await t.http.delete(`/api/v1/client-groups/${g.body.id}`).set(as(operator)).expect(204);
    await t.http.get(`/api/v1/client-groups/${g.body.id}`).set(as(viewer)).expect(404);
  });

  it('a client inherits what it leaves unset; GET /clients/:id shows effective values and their source', async () => {
    const { img, v } = await bootableImage();
    const g = await t.http
      .post('/api/v1/client-groups')
      .set(as(operator))
      .send({ name: unique('lab'), imageId: img.id, pinnedSnapshotId: v.id, diskPolicy: 'persistent', bootLoader: 'ipxe.efi', bootParams: 'quiet' })
      .expect(201);
    const c = await t.http
      .post('/api/v1/clients')
      .set(as(operator))
      .send(clientBody({ groupId: g.body.id, customBootParams: 'nomodeset' }))
      .expect(201);
    const got = await t.http.get(`/api/v1/clients/${c.body.id}`).set(as(viewer)).expect(200);
    expect(got.body).toMatchObject({ groupId: g.body.id, assignedImageId: null, customBootParams: 'nomodeset' });
    expect(got.body.effective).toEqual({
      imageId: { value: img.id, source: 'group' },
      pinnedSnapshotId: { value: v.id, source: 'group' },
      diskPolicy: { value: 'persistent', source: 'group' },
      bootLoader: { value: 'ipxe.efi', source: 'group' },
      customBootParams: { value: 'nomodeset', source: 'client' },
    });
    // Without a group: defaults.
    const lone = await t.http.post('/api/v1/clients').set(as(operator)).send(clientBody()).expect(201);
    expect(lone.body.effective.diskPolicy).toEqual({ value: null, source: 'default' });
    expect(lone.body.effective.imageId).toEqual({ value: null, source: 'default' });

    // The boot policy and the DHCP cache answer with the effective settings.
    const policy = t.app.get(BootPolicyService);
    const target = await policy.target(c.body.id);
    expect(target).toMatchObject({ image: { id: img.id }, version: { id: v.id }, policy: 'persistent' });
    const facts = await t.app.get(ClientDirectory).lookup(c.body.macAddress);
    expect(facts).toMatchObject({ assignedImageId: img.id, bootLoader: 'ipxe.efi' });

    // A group in use is not deleted; emptied, it is.
    const del = await t.http.delete(`/api/v1/client-groups/${g.body.id}`).set(as(operator)).expect(409);
    expect(del.body).toMatchObject({ code: 'GROUP_IN_USE' });
    expect(del.body.message).toContain(c.body.hostname);
    await t.http.patch(`/api/v1/clients/${c.body.id}`).set(as(operator)).send({ groupId: null }).expect(200);
    await t.http.delete(`/api/v1/client-groups/${g.body.id}`).set(as(operator)).expect(204);
    await t.http.patch(`/api/v1/clients/${c.body.id}`).set(as(operator)).send({ groupId: g.body.id }).expect(404);
  });

  it("moving a client between groups, or changing a group's image, changes what it boots at once (its disk follows the version rule)", async () => {
    const a = await bootableImage();
    const b = await bootableImage();
    const ga = (
      await t.http
        .post('/api/v1/client-groups')
        .set(as(operator))
        .send({ name: unique('ga'), imageId: a.img.id })
        .expect(201)
    ).body;
    const gb = (
      await t.http
        .post('/api/v1/client-groups')
        .set(as(operator))
        .send({ name: unique('gb'), imageId: b.img.id })
        .expect(201)
    ).body;
    const c = (
      await t.http
        .post('/api/v1/clients')
        .set(as(operator))
        .send(clientBody({ groupId: ga.id }))
        .expect(201)
    ).body;
    const policy = t.app.get(BootPolicyService);
    const dir = t.app.get(ClientDirectory);
    expect((await policy.target(c.id)).version.id).toBe(a.v.id);
    expect(await dir.lookup(c.macAddress)).toMatchObject({ assignedImageId: a.img.id });

    await t.http.patch(`/api/v1/clients/${c.id}`).set(as(operator)).send({ groupId: gb.id }).expect(200);
    expect((await policy.target(c.id)).version.id).toBe(b.v.id);
    expect(await dir.lookup(c.macAddress)).toMatchObject({ assignedImageId: b.img.id });

    // The group's image changes: members follow (cached entries are dropped by the group subscriber).
    await t.http.patch(`/api/v1/client-groups/${gb.id}`).set(as(operator)).send({ imageId: a.img.id }).expect(200);
    expect((await policy.target(c.id)).version.id).toBe(a.v.id);
    expect(await dir.lookup(c.macAddress)).toMatchObject({ assignedImageId: a.img.id });

    // A client's own image wins over its group's.
    await t.http.patch(`/api/v1/clients/${c.id}`).set(as(operator)).send({ assignedImageId: b.img.id }).expect(200);
    expect((await policy.target(c.id)).version.id).toBe(b.v.id);
  });

  it("a group's pin must be a version of its image; another image drops the pin", async () => {
    const a = await bootableImage();
    const b = await bootableImage();
    await t.http
      .post('/api/v1/client-groups')
      .set(as(operator))
      .send({ name: unique('p'), imageId: b.img.id, pinnedSnapshotId: a.v.id })
      .expect(400);
    const g = (
      await t.http
        .post('/api/v1/client-groups')
        .set(as(operator))
        .send({ name: unique('p'), imageId: a.img.id, pinnedSnapshotId: a.v.id })
        .expect(201)
    ).body;
    const u = await t.http.patch(`/api/v1/client-groups/${g.id}`).set(as(operator)).send({ imageId: b.img.id }).expect(200);
    expect(u.body).toMatchObject({ imageId: b.img.id, pinnedSnapshotId: null });
  });

  it('DHCP registers unknown MACs of a range into its default group', async () => {
    const range = (
      await t.http
        .post('/api/v1/network-ranges')
        .set(as(t.adminToken))
        .send({
          name: unique('net'),
          cidr: `10.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}.0/24`,
          unknownClientPolicy: 'register',
        })
        .expect(201)
    ).body;
    const g = (
      await t.http
        .post('/api/v1/client-groups')
        .set(as(operator))
        .send({ name: unique('def'), defaultForRangeId: range.id })
        .expect(201)
    ).body;
    await t.http
      .post('/api/v1/client-groups')
      .set(as(operator))
      .send({ name: unique('def'), defaultForRangeId: range.id })
      .expect(409);
    const mac = uniqueMac();
    const facts = await t.app.get(ClientDirectory).register(mac, range.id);
    const row = await ds.query('SELECT group_id FROM clients WHERE id = $1', [facts.id]);
    expect(row[0].group_id).toBe(g.id);
  });
});
