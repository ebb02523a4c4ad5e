import { DataSource } from 'typeorm';
import { clientBody, imageBody, makeClient, makeImage } from '../factories';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(120_000);

/**
 * NUL (which PostgreSQL cannot store) and the other control characters, in any text field of any route: a 400 that
 * names the field, never a 500, never a row written. The rule lives in the global pipe, so it also covers fields and
 * routes not listed here.
 */
describe('control characters in input (e2e)', () => {
  let t: TestApp;
  let ds: DataSource;
  let admin: string;
  const as = (token: string) => ({ Authorization: `Bearer ${token}` });
  const NUL = 'a\u0000b';
  const count = async (table: string) => (await ds.query(`SELECT count(*)::int AS n FROM ${table}`))[0].n as number;
  const expectNamed = (body: { statusCode: number; message: unknown }, field: string) => {
    expect(body.statusCode).toBe(400);
    expect(body.message).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^${field.replace(/[.\\]/g, '\\$&')}( |: )`))]));
    expect(JSON.stringify(body.message)).toContain('control characters');
  };

  beforeAll(async () => {
    t = await createTestApp();
    ds = t.app.get(DataSource);
    admin = t.adminToken;
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each(['name', 'description', 'osType'])('images: %s with a NUL byte → 400 on POST and PATCH, nothing written', async (field) => {
    const before = await count('images');
    const r = await t.http
      .post('/api/v1/images')
      .set(as(admin))
      .send(imageBody({ [field]: NUL }));
    expectNamed(r.body, field);
    expect(await count('images')).toBe(before);
    const img = await makeImage(ds);
    const p = await t.http
      .patch(`/api/v1/images/${img.id}`)
      .set(as(admin))
      .send({ [field]: NUL });
    expectNamed(p.body, field);
    expect((await ds.query('SELECT name, description, os_type FROM images WHERE id = $1', [img.id]))[0]).toEqual({
      name: img.name,
      description: null,
      os_type: null,
    });
  });

  it('images: a NUL in a tag, and other C0 controls, are refused naming the path', async () => {
    expectNamed(
      (
        await t.http
          .post('/api/v1/images')
          .set(as(admin))
          .send(imageBody({ tags: ['ok', NUL] }))
      ).body,
      'tags.1',
    );
    expectNamed(
      (
        await t.http
          .post('/api/v1/images')
          .set(as(admin))
          .send(imageBody({ description: 'bell\u0007' }))
      ).body,
      'description',
    );
    // line breaks and tabs are text, not control codes
    await t.http
      .post('/api/v1/images')
      .set(as(admin))
      .send(imageBody({ description: 'two\nlines\twith a tab' }))
      .expect(201);
  });

  it.each(['tag', 'osType'])('GET /images?%s=%00 → 400 naming the parameter', async (param) => {
    const r = await t.http.get(`/api/v1/images?${param}=%00`).set(as(admin));
    expectNamed(r.body, param);
  });

  it('snapshots: a description with a NUL byte → 400, no version made', async () => {
    const img = await makeImage(ds);
    const r = await t.http.post(`/api/v1/images/${img.id}/snapshots`).set(as(admin)).send({ name: 'v1', description: NUL });
    expectNamed(r.body, 'description');
    const c = await t.http.post(`/api/v1/images/${img.id}/snapshots/commit`).set(as(admin)).send({ name: 'v1', description: NUL });
    expectNamed(c.body, 'description');
    expect(await count('image_snapshots')).toBe(0);
  });

  it('clients: customBootParams, hostname and networkConfig (values and keys) with a NUL → 400 on POST, PATCH and bulk', async () => {
    const before = await count('clients');
    for (const [field, over] of [
      ['customBootParams', { customBootParams: NUL }],
      ['hostname', { hostname: NUL }],
      ['networkConfig.dns.0', { networkConfig: { dns: [NUL] } }],
      ['networkConfig."k\\u0000"', { networkConfig: { 'k\u0000': 1 } }],
    ] as const) {
      expectNamed((await t.http.post('/api/v1/clients').set(as(admin)).send(clientBody(over))).body, field);
      expectNamed(
        (
          await t.http
            .post('/api/v1/clients/bulk')
            .set(as(admin))
            .send([clientBody(), clientBody(over)])
        ).body,
        `1.${field}`,
      );
    }
    expect(await count('clients')).toBe(before);
    const c = await makeClient(ds, { customBootParams: 'quiet' });
    expectNamed((await t.http.patch(`/api/v1/clients/${c.id}`).set(as(admin)).send({ customBootParams: NUL })).body, 'customBootParams');
    expect((await ds.query('SELECT custom_boot_params FROM clients WHERE id = $1', [c.id]))[0].custom_boot_params).toBe('quiet');
  });

  it('path parameters: a NUL in a MAC → 400 naming it', async () => {
    expectNamed((await t.http.get('/api/v1/clients/by-mac/52:54:00:12:34:5%00').set(as(admin))).body, 'mac');
  });

  it('users: PATCH with password null → 400 naming password (not a 500), role null too', async () => {
    const u = await t.http.post('/api/v1/users').set(as(admin)).send({ username: 'nuller', password: 'nuller-password', role: 'viewer' }).expect(201);
    const r = await t.http.patch(`/api/v1/users/${u.body.id}`).set(as(admin)).send({ password: null }).expect(400);
    expect(JSON.stringify(r.body.message)).toContain('password');
    const q = await t.http.patch(`/api/v1/users/${u.body.id}`).set(as(admin)).send({ role: null }).expect(400);
    expect(JSON.stringify(q.body.message)).toContain('role');
    await t.http.post('/api/v1/auth/login').send({ username: 'nuller', password: 'nuller-password' }).expect(200);
    await t.http.patch(`/api/v1/users/${u.body.id}`).set(as(admin)).send({ enabled: false }).expect(200);
  });
});
