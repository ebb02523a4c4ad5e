import { DataSource } from 'typeorm';
import { makeClient, makeImage, makeSession, unique } from '../factories';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(120_000);

describe('list sort and q (e2e)', () => {
  let t: TestApp;
  let ds: DataSource;
  let admin: { Authorization: string };

  beforeAll(async () => {
    t = await createTestApp();
    ds = t.app.get(DataSource);
    admin = { Authorization: `Bearer ${t.adminToken}` };
  });
  afterAll(async () => {
    await t?.close();
  });

  const get = (path: string, query: Record<string, string>) => t.http.get(`/api/v1/${path}`).query(query).set(admin);

  it.each(['clients', 'images', 'client-groups', 'network-ranges', 'users', 'boot-sessions', 'audit'])(
    '%s: 400 naming the field on an unknown or malformed sort',
    async (path) => {
      for (const sort of ['passwordHash', 'id;drop', '-hostname:asc', '__proto__']) {
        const r = await get(path, { sort }).expect(400);
        expect(JSON.stringify(r.body.message)).toContain('sort');
      }
    },
  );

  it('clients: q matches hostname prefix (any case), MAC prefix and image name; sort both ways', async () => {
    const p = unique('Lst').toLowerCase();
    const o = Math.floor(Math.random() * 0xffffff)
      .toString(16)
      .padStart(6, '0')
      .replace(/(..)(..)(..)/, '$1:$2:$3'); // random MAC middle: no other test's MAC shares the prefix
    const img = await makeImage(ds, { name: `img-${p}` });
    const a = await makeClient(ds, { hostname: `${p}-a`, macAddress: `0a:${o}:00:01` });
    const b = await makeClient(ds, { hostname: `${p}-b`, macAddress: `0a:${o}:00:02` });
    const c = await makeClient(ds, { hostname: unique('other'), macAddress: `0a:${o}:01:03`, assignedImageId: img.id });
    const names = (r: { body: { items: { id: string }[] } }) => r.body.items.map((x) => x.id);
    expect(names(await get('clients', { q: p.toUpperCase() }).expect(200))).toEqual([a.id, b.id]);
    expect(names(await get('clients', { q: p, sort: '-hostname' }).expect(200))).toEqual([b.id, a.id]);
    expect(names(await get('clients', { q: p, sort: 'hostname:desc' }).expect(200))).toEqual([b.id, a.id]);
    expect(names(await get('clients', { q: `0A-${o.replace(/:/g, '-').toUpperCase()}-00`, sort: 'macAddress' }).expect(200))).toEqual([a.id, b.id]);
    expect(names(await get('clients', { q: `IMG-${p}` }).expect(200))).toEqual([c.id]);
    expect((await get('clients', { q: '%' }).expect(200)).body.total).toBe(0); // wildcards are literal
  });

  it('images, groups, ranges, users, sessions and audit take q and sort', async () => {
    const p = unique('q').toLowerCase();
    const i1 = await makeImage(ds, { name: `${p}-b`, sizeBytes: 1 });
    const i2 = await makeImage(ds, { name: `${p}-a`, sizeBytes: 2 });
    expect((await get('images', { q: p, sort: 'name' }).expect(200)).body.items.map((x: { id: string }) => x.id)).toEqual([i2.id, i1.id]);
    expect((await get('images', { q: p, sort: '-sizeBytes' }).expect(200)).body.items.map((x: { id: string }) => x.id)).toEqual([i2.id, i1.id]);

    await t.http
      .post('/api/v1/client-groups')
      .set(admin)
      .send({ name: `${p}-g` })
      .expect(201);
    expect((await get('client-groups', { q: p.toUpperCase() }).expect(200)).body.total).toBe(1);

    await t.http
      .post('/api/v1/users')
      .set(admin)
      .send({ username: `${p}-user`, password: 'a-long-password-1', role: 'viewer' })
      .expect(201);
    expect((await get('users', { q: p, sort: '-createdAt' }).expect(200)).body.items).toHaveLength(1);

    const c = await makeClient(ds, { hostname: `${p}-pc`, assignedImageId: i1.id });
    await makeSession(ds, c);
    expect((await get('boot-sessions', { q: `${p}-p`, sort: 'startedAt:asc' }).expect(200)).body.total).toBe(1);
    expect((await get('network-ranges', { q: `${p}-nothing`, sort: 'name' }).expect(200)).body.total).toBe(0);
    const audit = await get('audit', { q: 'client-groups.', sort: '-at' }).expect(200);
    expect(audit.body.items.every((x: { action: string }) => x.action.startsWith('client-groups.'))).toBe(true);
  });

  it('10,000 clients: prefix search and the default page use indexes, not a scan', async () => {
    const qr = ds.createQueryRunner();
    await qr.connect();
    await qr.startTransaction();
    try {
      await qr.query(
        `INSERT INTO clients (mac_address, hostname)
         SELECT '02:ee:' || substr(h, 1, 2) || ':' || substr(h, 3, 2) || ':' || substr(h, 5, 2) || ':' || substr(h, 7, 2), 'bulk-' || n
         FROM (SELECT n, lpad(to_hex(n), 8, '0') AS h FROM generate_series(1, 10000) AS n) s`,
      );
      await qr.query('ANALYZE clients');
      await qr.query('ANALYZE images');
      const plan = async (sql: string, params: unknown[]) =>
        ((await qr.query(`EXPLAIN ${sql}`, params)) as { 'QUERY PLAN': string }[]).map((r) => r['QUERY PLAN']).join('\n');
      const search = await plan(
        `SELECT id FROM clients c WHERE (lower(c.hostname) LIKE $1 OR c.mac_address LIKE $1
           OR c.assigned_image_id = ANY(ARRAY(SELECT i.id FROM images i WHERE lower(i.name) LIKE $1))) ORDER BY c.hostname, c.id LIMIT 50`,
        ['bulk-99%'],
      );
      expect(search).not.toMatch(/Seq Scan on clients/);
      expect(search).toMatch(/idx_clients_lower_hostname_pattern/);
      const page = await plan('SELECT id FROM clients c ORDER BY c.hostname ASC, c.id ASC LIMIT 50 OFFSET 100', []);
      expect(page).toMatch(/idx_clients_hostname_id/);
    } finally {
      await qr.rollbackTransaction();
      await qr.release();
    }
  });
});
