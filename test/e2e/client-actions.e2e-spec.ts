import { DataSource } from 'typeorm';
import { makeClient, makeImage, makeSnapshot, unique } from '../factories';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(120_000);

const NIL = '00000000-0000-4000-8000-000000000000';

describe('bulk client actions (e2e)', () => {
  let t: TestApp;
  let ds: DataSource;
  let operator: string;
  let viewer: string;
  const as = (token: string) => ({ Authorization: `Bearer ${token}` });
  const act = (body: Record<string, unknown>, token = operator) => t.http.post('/api/v1/clients/actions').set(as(token)).send(body);
  const row = async (id: string) =>
    (await ds.query('SELECT enabled, group_id, assigned_image_id, pinned_snapshot_id FROM clients WHERE id = $1', [id]))[0];

  beforeAll(async () => {
    t = await createTestApp();
    ds = t.app.get(DataSource);
    operator = await t.tokenFor('operator');
    viewer = await t.tokenFor('viewer');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('enables and disables by ids, by group and by filter; one audit entry lists the clients', async () => {
    const prefix = unique('blk');
    const a = await makeClient(ds, { hostname: `${prefix}-a` });
    const b = await makeClient(ds, { hostname: `${prefix}-b` });
    await act({ action: 'disable', ids: [a.id] }, viewer).expect(403);
    const r = await act({ action: 'disable', ids: [a.id, b.id] }).expect(200);
    expect(r.body).toMatchObject({ action: 'disable', total: 2, failed: 0 });
    expect(r.body.results.map((x: { hostname: string }) => x.hostname)).toEqual([a.hostname, b.hostname]);
    expect((await row(a.id)).enabled).toBe(false);
    const byFilter = await act({ action: 'enable', filter: { q: prefix } }).expect(200);
    expect(byFilter.body.total).toBe(2);
    expect((await row(b.id)).enabled).toBe(true);

    const audit = await ds.query("SELECT details FROM audit_log WHERE action LIKE 'clients.%' AND details::text LIKE $1 ORDER BY id DESC LIMIT 1", [
      `%${a.id}%`,
    ]);
    expect(audit).toHaveLength(1);
    expect(audit[0].details.clients).toEqual(expect.arrayContaining([a.id, b.id]));
  });

  it('moves clients to a group and assigns an image; a group selection acts on its members', async () => {
    const img = await makeImage(ds);
    const g = (
      await t.http
        .post('/api/v1/client-groups')
        .set(as(operator))
        .send({ name: unique('g') })
        .expect(201)
    ).body;
    const a = await makeClient(ds);
    const b = await makeClient(ds);
    await act({ action: 'move-to-group', ids: [a.id, b.id], targetGroupId: g.id }).expect(200);
    expect((await row(a.id)).group_id).toBe(g.id);
    const r = await act({ action: 'assign-image', groupId: g.id, imageId: img.id }).expect(200);
    expect(r.body.total).toBe(2);
    expect((await row(b.id)).assigned_image_id).toBe(img.id);
    await act({ action: 'move-to-group', ids: [a.id], targetGroupId: NIL }).expect(404);
    await act({ action: 'move-to-group', ids: [a.id], targetGroupId: null }).expect(200);
    expect((await row(a.id)).group_id).toBeNull();
  });

  it('all or nothing: one blocking client → 400 naming it, nothing written', async () => {
    const imgA = await makeImage(ds);
    const imgB = await makeImage(ds);
    const v = await makeSnapshot(ds, imgA.id);
    const good = await makeClient(ds, { assignedImageId: imgA.id });
    const bad = await makeClient(ds, { assignedImageId: imgB.id });
    const r = await act({ action: 'assign-version', ids: [good.id, bad.id], pinnedSnapshotId: v.id }).expect(400);
    expect(r.body.code).toBe('BULK_ACTION_INVALID');
    expect(r.body.details.clients).toEqual([expect.objectContaining({ clientId: bad.id, hostname: bad.hostname })]);
    expect((await row(good.id)).pinned_snapshot_id).toBeNull();

    const missing = await act({ action: 'disable', ids: [good.id, NIL] }).expect(400);
    expect(missing.body.details.clients).toEqual([expect.objectContaining({ clientId: NIL, code: 'CLIENT_NOT_FOUND' })]);
    expect((await row(good.id)).enabled).toBe(true);
  });

  it('refuses malformed requests with 400 and writes nothing', async () => {
    const a = await makeClient(ds);
    await act({ action: 'disable' }).expect(400); // no selection
    await act({ action: 'disable', ids: [a.id], groupId: NIL }).expect(400); // two selections
    await act({ action: 'disable', filter: {} }).expect(400);
    await act({ action: 'explode', ids: [a.id] }).expect(400);
    await act({ action: 'disable', ids: ['x'] }).expect(400);
    await act({ action: 'enable', ids: [a.id], imageId: NIL }).expect(400); // parameter of another action
    await act({ action: 'assign-version', ids: [a.id] }).expect(400);
    await act({ action: 'disable', ids: Array.from({ length: 1001 }, () => NIL) }).expect(400);
    expect((await row(a.id)).enabled).toBe(true);
  });

  it('caps a selection at 1000 clients', async () => {
    const q = unique('cap');
    const base = Math.floor(Math.random() * 0xffff) * 0x10000;
    await ds.query(
      `INSERT INTO clients (mac_address, hostname, enabled)
       SELECT '02:cc:' || substr(h, 1, 2) || ':' || substr(h, 3, 2) || ':' || substr(h, 5, 2) || ':' || substr(h, 7, 2), $1 || '-' || n, true
       FROM (SELECT n, lpad(to_hex($2::bigint + n), 8, '0') AS h FROM generate_series(1, 1001) AS n) s`,
      [q, base],
    );
    const r = await act({ action: 'disable', filter: { q } }).expect(400);
    expect(r.body.code).toBe('SELECTION_TOO_LARGE');
    expect((await ds.query('SELECT count(*)::int AS n FROM clients WHERE hostname LIKE $1 AND NOT enabled', [`${q}-%`]))[0].n).toBe(0);
    await ds.query('DELETE FROM clients WHERE hostname LIKE $1', [`${q}-%`]);
  });

  it('reset-disk and delete report their side effects per client', async () => {
    const img = await makeImage(ds);
    const noImage = await makeClient(ds); // nothing to boot: its disk reset fails, the others' do not matter
    const other = await makeClient(ds, { assignedImageId: img.id }); // no published version either
    const r = await act({ action: 'reset-disk', ids: [noImage.id, other.id] }).expect(200);
    expect(r.body.failed).toBe(2);
    const byId = Object.fromEntries(r.body.results.map((x: { clientId: string }) => [x.clientId, x]));
    expect(byId[noImage.id]).toMatchObject({ status: 'failed', code: 'CLIENT_HAS_NO_IMAGE' });
    expect(byId[other.id]).toMatchObject({ status: 'failed', code: 'NO_BOOTABLE_VERSION' });

    const d = await act({ action: 'delete', ids: [noImage.id, other.id] }).expect(200);
    expect(d.body).toMatchObject({ total: 2, failed: 0 });
    expect(await ds.query('SELECT id FROM clients WHERE id = ANY($1::uuid[])', [[noImage.id, other.id]])).toEqual([]);
  });
});
