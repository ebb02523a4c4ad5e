import { DataSource } from 'typeorm';
import { makeClient, unique, uniqueMac } from '../factories';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(120_000);

describe('range leases and pool utilisation (e2e)', () => {
  let t: TestApp;
  let ds: DataSource;
  let viewer: { Authorization: string };

  beforeAll(async () => {
    t = await createTestApp();
    ds = t.app.get(DataSource);
    viewer = { Authorization: `Bearer ${await t.tokenFor('viewer')}` };
  });
  afterAll(async () => {
    await t?.close();
  });

  it('lists leases by address with client and state, paginated; counts the pool', async () => {
    const net = `10.${150 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;
    const range = (
      await t.http
        .post('/api/v1/network-ranges')
        .set({ Authorization: `Bearer ${t.adminToken}` })
        .send({ name: unique('net'), cidr: `${net}.0/24`, dhcpMode: 'full', poolStart: `${net}.100`, poolEnd: `${net}.109` })
        .expect(201)
    ).body;
    const pc = await makeClient(ds, { hostname: unique('pc') });
    const soon = new Date(Date.now() + 3600_000);
    const past = new Date(Date.now() - 1000);
    const lease = (ip: string, mac: string, state: string, expires: Date, clientId: string | null = null) =>
      ds.query('INSERT INTO dhcp_leases (range_id, ip, mac, client_id, state, expires_at, hostname) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
        range.id,
        ip,
        mac,
        clientId,
        state,
        expires,
        'sent-name',
      ]);
    await lease(`${net}.101`, pc.macAddress, 'bound', soon, pc.id);
    await lease(`${net}.100`, uniqueMac(), 'offered', soon);
    await lease(`${net}.102`, uniqueMac(), 'declined', soon);
    await lease(`${net}.103`, uniqueMac(), 'bound', past);

    const r = await t.http.get(`/api/v1/network-ranges/${range.id}/leases`).set(viewer).expect(200);
    expect(r.body.total).toBe(4);
    expect(r.body.items.map((l: { address: string }) => l.address)).toEqual([`${net}.100`, `${net}.101`, `${net}.102`, `${net}.103`]);
    expect(r.body.items[1]).toMatchObject({ macAddress: pc.macAddress, clientId: pc.id, hostname: pc.hostname, state: 'bound', active: true });
    expect(r.body.items[0]).toMatchObject({ clientId: null, hostname: 'sent-name', active: true });
    expect(r.body.items[3]).toMatchObject({ active: false });
    const page = await t.http.get(`/api/v1/network-ranges/${range.id}/leases`).query({ limit: 1, offset: 1, state: 'bound' }).set(viewer).expect(200);
    expect(page.body).toMatchObject({ total: 2, items: [{ address: `${net}.103` }] });

    const u = await t.http.get(`/api/v1/network-ranges/${range.id}/utilisation`).set(viewer).expect(200);
    expect(u.body).toEqual({ rangeId: range.id, size: 10, inUse: 2, quarantined: 1, free: 7 });
  });

  it('404 for an unknown range, 400 for a bad id or state', async () => {
    await t.http.get('/api/v1/network-ranges/00000000-0000-4000-8000-000000000000/leases').set(viewer).expect(404);
    await t.http.get('/api/v1/network-ranges/00000000-0000-4000-8000-000000000000/utilisation').set(viewer).expect(404);
    await t.http.get('/api/v1/network-ranges/x/leases').set(viewer).expect(400);
    await t.http.get('/api/v1/network-ranges/00000000-0000-4000-8000-000000000000/leases').query({ state: 'x' }).set(viewer).expect(400);
    await t.http.get('/api/v1/network-ranges/00000000-0000-4000-8000-000000000000/leases').expect(401);
  });
});
