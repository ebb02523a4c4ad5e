import { rangeBody } from '../factories';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(120_000);

const NIL = '00000000-0000-4000-8000-000000000000';

describe('network ranges (e2e)', () => {
  let t: TestApp;
  let admin: string;
  let operator: string;
  let viewer: string;
  const as = (token: string) => ({ Authorization: `Bearer ${token}` });

  beforeAll(async () => {
    t = await createTestApp();
    admin = t.adminToken;
    operator = await t.tokenFor('operator');
    viewer = await t.tokenFor('viewer');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('creates (normalising the CIDR), reads, updates and deletes a range', async () => {
    const body = {
      name: 'lab-a',
      cidr: '192.168.50.7/24',
      gateway: '192.168.50.1',
      dnsServers: ['192.168.50.1', '9.9.9.9'],
      dhcpMode: 'full',
      poolStart: '192.168.50.100',
      poolEnd: '192.168.50.199',
      leaseSeconds: 600,
      nextServer: '192.168.50.2',
      interface: 'veth-dls0',
      unknownClientPolicy: 'register',
      enabled: false,
    };
    const c = await t.http.post('/api/v1/network-ranges').set(as(admin)).send(body).expect(201);
    expect(c.body).toMatchObject({ ...body, cidr: '192.168.50.0/24' });
    expect((await t.http.get(`/api/v1/network-ranges/${c.body.id}`).set(as(viewer)).expect(200)).body).toEqual(c.body);
    const list = await t.http.get('/api/v1/network-ranges').set(as(viewer)).expect(200);
    expect(list.body.items.map((r: { id: string }) => r.id)).toContain(c.body.id);

    const u = await t.http
      .patch(`/api/v1/network-ranges/${c.body.id}`)
      .set(as(admin))
      .send({ poolStart: null, poolEnd: null, dhcpMode: 'proxy' })
      .expect(200);
    expect(u.body).toMatchObject({ poolStart: null, poolEnd: null, dhcpMode: 'proxy' });
    await t.http.delete(`/api/v1/network-ranges/${c.body.id}`).set(as(admin)).expect(204);
    await t.http.get(`/api/v1/network-ranges/${c.body.id}`).set(as(viewer)).expect(404);
  });

  it('allows full mode without a pool (reservations only) and applies defaults', async () => {
    const r = await t.http
      .post('/api/v1/network-ranges')
      .set(as(admin))
      .send(rangeBody({ cidr: '10.20.0.0/16' }))
      .expect(201);
    expect(r.body).toMatchObject({
      dhcpMode: 'full',
      poolStart: null,
      leaseSeconds: 3600,
      unknownClientPolicy: 'ignore',
      enabled: true,
      dnsServers: [],
    });
  });

  it('rejects an overlapping CIDR with 409 naming the other range', async () => {
    await t.http
      .post('/api/v1/network-ranges')
      .set(as(admin))
      .send(rangeBody({ name: 'outer', cidr: '10.30.0.0/16' }))
      .expect(201);
    const r = await t.http
      .post('/api/v1/network-ranges')
      .set(as(admin))
      .send(rangeBody({ cidr: '10.30.5.0/24' }))
      .expect(409);
    expect(r.body).toMatchObject({ code: 'NETWORK_RANGE_OVERLAP' });
    expect(r.body.message).toBe('cidr 10.30.5.0/24 overlaps network range "outer" (10.30.0.0/16)');
    const other = await t.http
      .post('/api/v1/network-ranges')
      .set(as(admin))
      .send(rangeBody({ cidr: '10.31.0.0/24' }))
      .expect(201);
    await t.http.patch(`/api/v1/network-ranges/${other.body.id}`).set(as(admin)).send({ cidr: '10.0.0.0/8' }).expect(409);
    // changing other fields of a range does not count as overlapping itself
    await t.http.patch(`/api/v1/network-ranges/${other.body.id}`).set(as(admin)).send({ cidr: '10.31.0.0/24', leaseSeconds: 120 }).expect(200);
  });

  it('rejects a duplicate name with 409', async () => {
    await t.http
      .post('/api/v1/network-ranges')
      .set(as(admin))
      .send(rangeBody({ name: 'dup', cidr: '10.40.0.0/24' }))
      .expect(201);
    const r = await t.http
      .post('/api/v1/network-ranges')
      .set(as(admin))
      .send(rangeBody({ name: 'dup', cidr: '10.41.0.0/24' }))
      .expect(409);
    expect(r.body.message).toBe('a network range named "dup" already exists');
  });

  it.each([
    ['poolEnd', { poolStart: '10.50.0.10' }, 'poolEnd is required'],
    ['poolStart', { poolEnd: '10.50.0.10' }, 'poolStart is required'],
    ['poolStart', { poolStart: '10.51.0.10', poolEnd: '10.50.0.20' }, 'poolStart 10.51.0.10 is outside 10.50.0.0/24'],
    ['poolEnd', { poolStart: '10.50.0.10', poolEnd: '10.50.1.20' }, 'poolEnd 10.50.1.20 is outside 10.50.0.0/24'],
    ['poolEnd', { poolStart: '10.50.0.20', poolEnd: '10.50.0.10' }, 'poolEnd 10.50.0.10 is below poolStart 10.50.0.20'],
    ['gateway', { gateway: '10.99.0.1' }, 'gateway 10.99.0.1 is outside 10.50.0.0/24'],
  ])('rejects a bad pool/gateway (%s) with a 400 naming it', async (_field, over, message) => {
    const r = await t.http
      .post('/api/v1/network-ranges')
      .set(as(admin))
      .send(rangeBody({ cidr: '10.50.0.0/24', ...over }))
      .expect(400);
    expect(r.body.code).toBe('NETWORK_RANGE_INVALID');
    expect(r.body.message).toContain(message);
  });

  it('validates a PATCH against the merged range', async () => {
    const c = await t.http
      .post('/api/v1/network-ranges')
      .set(as(admin))
      .send(rangeBody({ cidr: '10.60.0.0/24', poolStart: '10.60.0.10', poolEnd: '10.60.0.20' }))
      .expect(201);
    const r = await t.http.patch(`/api/v1/network-ranges/${c.body.id}`).set(as(admin)).send({ cidr: '10.61.0.0/24' }).expect(400);
    expect(r.body.message).toContain('poolStart 10.60.0.10 is outside 10.61.0.0/24');
    expect((await t.http.get(`/api/v1/network-ranges/${c.body.id}`).set(as(viewer))).body.cidr).toBe('10.60.0.0/24');
    await t.http.patch(`/api/v1/network-ranges/${c.body.id}`).set(as(admin)).send({ leaseSeconds: null }).expect(400);
  });

  it.each([
    ['cidr', { cidr: '10.0.0.0' }],
    ['cidr', { cidr: '10.0.0.0/33' }],
    ['cidr', { cidr: '300.0.0.0/8' }],
    ['cidr', { cidr: 'fe80::/64' }],
    ['name', { name: '' }],
    ['gateway', { gateway: 'x' }],
    ['dnsServers', { dnsServers: ['1.1.1.1', 'nope'] }],
    ['dnsServers', { dnsServers: '1.1.1.1' }],
    ['dhcpMode', { dhcpMode: 'relay' }],
    ['leaseSeconds', { leaseSeconds: 59 }],
    ['leaseSeconds', { leaseSeconds: 2_592_001 }],
    ['nextServer', { nextServer: '1.2.3' }],
    ['interface', { interface: 'way-too-long-ifname' }],
    ['interface', { interface: 'eth 0' }],
    ['unknownClientPolicy', { unknownClientPolicy: 'allow' }],
    ['enabled', { enabled: 1 }],
    ['bogus', { bogus: 1 }],
  ])('rejects bad %s', async (field, over) => {
    const r = await t.http
      .post('/api/v1/network-ranges')
      .set(as(admin))
      .send(rangeBody({ cidr: '10.70.0.0/24', ...over }))
      .expect(400);
    expect(JSON.stringify(r.body.message)).toContain(field);
  });

  it('answers 400 for bad ids, 404 for unknown ones, 400 for malformed JSON', async () => {
    await t.http.get('/api/v1/network-ranges/abc').set(as(viewer)).expect(400);
    await t.http.get(`/api/v1/network-ranges/${NIL}`).set(as(viewer)).expect(404);
    await t.http.patch(`/api/v1/network-ranges/${NIL}`).set(as(admin)).send({ enabled: false }).expect(404);
    await t.http.delete(`/api/v1/network-ranges/${NIL}`).set(as(admin)).expect(404);
    await t.http.post('/api/v1/network-ranges').set(as(admin)).set('Content-Type', 'application/json').send('{').expect(400);
  });

  it('roles: viewer and operator may not write ranges', async () => {
    const c = await t.http
      .post('/api/v1/network-ranges')
      .set(as(admin))
      .send(rangeBody({ cidr: '10.80.0.0/24' }))
      .expect(201);
    await t.http.get('/api/v1/network-ranges').expect(401);
    for (const token of [viewer, operator]) {
      await t.http.get('/api/v1/network-ranges').set(as(token)).expect(200);
      await t.http
        .post('/api/v1/network-ranges')
        .set(as(token))
        .send(rangeBody({ cidr: '10.81.0.0/24' }))
        .expect(403);
      await t.http.patch(`/api/v1/network-ranges/${c.body.id}`).set(as(token)).send({ enabled: false }).expect(403);
      await t.http.delete(`/api/v1/network-ranges/${c.body.id}`).set(as(token)).expect(403);
    }
  });
});
