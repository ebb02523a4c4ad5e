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

  // The exclusion constraint alone lets concurrent inserts of overlapping rows deadlock (each waits for the other's
  // index entry): rounds of truly concurrent requests must all answer 201 or a plain 409 naming the other range.
  it('concurrent creates of two overlapping CIDRs: one 201 per round, the rest 409 naming the winner, never a 500', async () => {
    for (let round = 0; round < 5; round++) {
      const cidrs = [`10.9${round}.0.0/16`, `10.9${round}.7.0/24`];
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          t.http
            .post('/api/v1/network-ranges')
            .set(as(admin))
            .send(rangeBody({ name: `race-${round}-${i}`, cidr: cidrs[i % 2] })),
        ),
      );
      expect(answers.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409, 409, 409, 409, 409]);
      const winner = answers.find((r) => r.status === 201)!.body;
      for (const r of answers.filter((a) => a.status === 409)) {
        expect(r.body).toMatchObject({ code: 'NETWORK_RANGE_OVERLAP' });
        expect(r.body.message).toMatch(new RegExp(`overlaps network range "${winner.name}" \\(${winner.cidr.replace(/\./g, '\\.')}\\)$`));
      }
    }
  });

  it('concurrent PATCHes moving two ranges onto overlapping CIDRs: one 200, one 409, never a 500', async () => {
    for (let round = 0; round < 5; round++) {
      const a = await t.http
        .post('/api/v1/network-ranges')
        .set(as(admin))
        .send(rangeBody({ cidr: `10.96.${round * 2}.0/24` }))
        .expect(201);
      const b = await t.http
        .post('/api/v1/network-ranges')
        .set(as(admin))
        .send(rangeBody({ cidr: `10.96.${round * 2 + 1}.0/24` }))
        .expect(201);
      const answers = await Promise.all([
        t.http
          .patch(`/api/v1/network-ranges/${a.body.id}`)
          .set(as(admin))
          .send({ cidr: `10.97.${round}.0/24` }),
        t.http
          .patch(`/api/v1/network-ranges/${b.body.id}`)
          .set(as(admin))
          .send({ cidr: `10.97.${round}.128/25` }),
      ]);
      expect(answers.map((r) => r.status).sort()).toEqual([200, 409]);
      expect(answers.find((r) => r.status === 409)!.body.code).toBe('NETWORK_RANGE_OVERLAP');
    }
  });

  it.each([
    ['0.0.0.0/8', '0.0.0.0/8'],
    ['0.0.0.0/1', '0.0.0.0/8'],
    ['127.0.0.0/8', '127.0.0.0/8'],
    ['127.1.2.0/24', '127.0.0.0/8'],
    ['169.254.0.0/16', '169.254.0.0/16'],
    ['224.0.0.0/4', '224.0.0.0/4'],
    ['239.1.0.0/16', '224.0.0.0/4'],
    ['240.0.0.0/4', '240.0.0.0/4'],
    ['255.255.255.255/32', '240.0.0.0/4'],
  ])('refuses the special-purpose CIDR %s (POST and PATCH) with a 400 naming cidr', async (cidr, block) => {
    const r = await t.http.post('/api/v1/network-ranges').set(as(admin)).send(rangeBody({ cidr })).expect(400);
    expect(r.body.message).toEqual([expect.stringMatching(new RegExp(`^cidr ${cidr.replace(/\./g, '\\.')} (overlaps|lies in) ${block}`))]);
    const ok = await t.http
      .post('/api/v1/network-ranges')
      .set(as(admin))
      .send(rangeBody({ cidr: '10.88.0.0/24' }))
      .expect(201);
    const p = await t.http.patch(`/api/v1/network-ranges/${ok.body.id}`).set(as(admin)).send({ cidr }).expect(400);
    expect(JSON.stringify(p.body.message)).toContain(`cidr ${cidr}`);
    await t.http.delete(`/api/v1/network-ranges/${ok.body.id}`).set(as(admin)).expect(204);
  });

  it.each([
    ['poolStart', { poolStart: '10.89.0.0', poolEnd: '10.89.0.50' }, 'the pool 10.89.0.0-10.89.0.50 includes the network address 10.89.0.0'],
    ['poolEnd', { poolStart: '10.89.0.200', poolEnd: '10.89.0.255' }, 'the pool 10.89.0.200-10.89.0.255 includes the broadcast address 10.89.0.255'],
    [
      'gateway',
      { gateway: '10.89.0.120', poolStart: '10.89.0.100', poolEnd: '10.89.0.199' },
      'the pool 10.89.0.100-10.89.0.199 includes the gateway 10.89.0.120',
    ],
    ['gateway', { gateway: '10.89.0.0' }, 'gateway 10.89.0.0 is the network address of 10.89.0.0/24'],
    ['gateway', { gateway: '10.89.0.255' }, 'gateway 10.89.0.255 is the broadcast address of 10.89.0.0/24'],
  ])('refuses a pool or gateway on a reserved address (%s)', async (field, over, message) => {
    const r = await t.http
      .post('/api/v1/network-ranges')
      .set(as(admin))
      .send(rangeBody({ cidr: '10.89.0.0/24', ...over }))
      .expect(400);
    expect(r.body).toMatchObject({ code: 'NETWORK_RANGE_INVALID', message });
    expect(r.body.details.fields).toEqual([{ field, message }]);
  });

  it('checks the pool against the merged range on PATCH, and allows /31 and /32 pools', async () => {
    const c = await t.http
      .post('/api/v1/network-ranges')
      .set(as(admin))
      .send(rangeBody({ cidr: '10.87.0.0/24', gateway: '10.87.0.1', poolStart: '10.87.0.100', poolEnd: '10.87.0.199' }))
      .expect(201);
    const r = await t.http.patch(`/api/v1/network-ranges/${c.body.id}`).set(as(admin)).send({ gateway: '10.87.0.150' }).expect(400);
    expect(r.body.message).toBe('the pool 10.87.0.100-10.87.0.199 includes the gateway 10.87.0.150');
    await t.http.patch(`/api/v1/network-ranges/${c.body.id}`).set(as(admin)).send({ poolStart: '10.87.0.0' }).expect(400);
    expect((await t.http.get(`/api/v1/network-ranges/${c.body.id}`).set(as(viewer))).body).toMatchObject({
      gateway: '10.87.0.1',
      poolStart: '10.87.0.100',
    });
    await t.http
      .post('/api/v1/network-ranges')
      .set(as(admin))
      .send(rangeBody({ cidr: '10.86.0.0/31', poolStart: '10.86.0.0', poolEnd: '10.86.0.1' }))
      .expect(201);
    await t.http
      .post('/api/v1/network-ranges')
      .set(as(admin))
      .send(rangeBody({ cidr: '10.86.1.1/32', poolStart: '10.86.1.1', poolEnd: '10.86.1.1' }))
      .expect(201);
  });

  it('refuses a NUL byte or another control character in the name (POST and PATCH) with a 400 naming it', async () => {
    for (const name of ['a\u0000b', 'a\u001bb']) {
      const r = await t.http
        .post('/api/v1/network-ranges')
        .set(as(admin))
        .send(rangeBody({ name, cidr: '10.85.0.0/24' }))
        .expect(400);
      expect(r.body.message).toEqual([expect.stringMatching(/^name must not contain control characters/)]);
    }
    const c = await t.http
      .post('/api/v1/network-ranges')
      .set(as(admin))
      .send(rangeBody({ cidr: '10.85.0.0/24' }))
      .expect(201);
    const p = await t.http.patch(`/api/v1/network-ranges/${c.body.id}`).set(as(admin)).send({ name: 'a\u0000b' }).expect(400);
    expect(p.body.message).toEqual(['name must not contain control characters (found U+0000)']);
    expect((await t.http.get(`/api/v1/network-ranges/${c.body.id}`).set(as(viewer))).body.name).toBe(c.body.name);
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
