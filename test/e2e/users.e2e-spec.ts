import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createApp } from '../../src/bootstrap';
import { ADMIN, createTestApp, TestApp } from '../support/test-app';

// jest.config's per-project testTimeout is not applied by Jest 30 (global-only option).
jest.setTimeout(120_000);

describe('users (e2e)', () => {
  let t: TestApp;
  const admin = () => ({ Authorization: `Bearer ${t.adminToken}` });

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('creates, gets, lists, updates and deletes a user; never shows the hash', async () => {
    const created = await t.http
      .post('/api/v1/users')
      .set(admin())
      .send({ username: 'alice', password: 'alice-password', role: 'operator' })
      .expect(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      username: 'alice',
      role: 'operator',
      enabled: true,
      lastLoginAt: null,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      version: 1,
    });
    const id = created.body.id;
    const got = await t.http.get(`/api/v1/users/${id}`).set(admin()).expect(200);
    expect(got.body).toEqual(created.body);
    const list = await t.http.get('/api/v1/users?limit=500&offset=0').set(admin()).expect(200);
    expect(list.body.total).toBe(2);
    expect(list.body.items.map((u: { username: string }) => u.username)).toEqual(['admin', 'alice']);
    expect(JSON.stringify(list.body)).not.toMatch(/hash|argon/i);
    const [row] = await t.app.get(DataSource).query('SELECT password_hash FROM users WHERE id = $1', [id]);
    expect(row.password_hash).toMatch(/^\$argon2id\$/);

    const patched = await t.http.patch(`/api/v1/users/${id}`).set(admin()).send({ role: 'viewer', enabled: false }).expect(200);
    expect(patched.body).toMatchObject({ id, role: 'viewer', enabled: false });
    await t.http.delete(`/api/v1/users/${id}`).set(admin()).expect(204);
    await t.http.get(`/api/v1/users/${id}`).set(admin()).expect(404);
  });

  it("a login stamps lastLoginAt without changing the user's version: an edit opened before it still saves", async () => {
    const created = await t.http
      .post('/api/v1/users')
      .set(admin())
      .send({ username: 'login-stamp', password: 'login-stamp-password', role: 'viewer' })
      .expect(201);
    const { id, version } = created.body as { id: string; version: number };
    await t.http.post('/api/v1/auth/login').send({ username: 'login-stamp', password: 'login-stamp-password' }).expect(200);
    const after = await t.http.get(`/api/v1/users/${id}`).set(admin()).expect(200);
    expect(after.body).toMatchObject({ version, lastLoginAt: expect.any(String) });
    await t.http.patch(`/api/v1/users/${id}`).set(admin()).set('If-Match', `"${version}"`).send({ role: 'operator' }).expect(200);
  });

  it('pages with limit/offset and bounds limit', async () => {
    const page = await t.http.get('/api/v1/users?limit=1&offset=0').set(admin()).expect(200);
    expect(page.body.items).toHaveLength(1);
    expect(page.body.total).toBeGreaterThanOrEqual(1);
    for (const q of ['limit=0', 'limit=501', 'offset=-1', 'limit=abc']) {
      const r = await t.http.get(`/api/v1/users?${q}`).set(admin()).expect(400);
      expect(JSON.stringify(r.body.message)).toContain(q.split('=')[0]);
    }
  });

  it('validation errors answer 400 naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ username: 'Bad Name', password: 'long-enough', role: 'viewer' }, 'username'],
      [{ username: 'ok-name', password: 'short', role: 'viewer' }, 'password'],
      [{ username: 'ok-name', password: 'x'.repeat(257), role: 'viewer' }, 'password'],
      [{ username: 'ok-name', password: 'long-enough', role: 'root' }, 'role'],
      [{ username: 'ok-name', password: 'long-enough', role: 'viewer', isAdmin: true }, 'isAdmin'],
    ];
    for (const [body, field] of cases) {
      const r = await t.http.post('/api/v1/users').set(admin()).send(body).expect(400);
      expect(r.body.code).toBe('VALIDATION_FAILED');
      expect(JSON.stringify(r.body.message)).toContain(field);
    }
    const r = await t.http.patch(`/api/v1/users/${randomUUID()}`).set(admin()).send({ enabled: 'yes' }).expect(400);
    expect(JSON.stringify(r.body.message)).toContain('enabled');
  });

  it('refuses easy-to-guess passwords on create and on change: 400 naming the field and saying why', async () => {
    for (const weak of ['12345678', 'password', '        ', 'qwerty123', 'carol-smith1']) {
      const r = await t.http.post('/api/v1/users').set(admin()).send({ username: 'carol-smith', password: weak, role: 'viewer' }).expect(400);
      expect(r.body.code).toBe('VALIDATION_FAILED');
      expect(r.body.message).toEqual([expect.stringMatching(/^password is too easy to guess \(it .+\)/)]);
    }
    const created = await t.http
      .post('/api/v1/users')
      .set(admin())
      .send({ username: 'carol-smith', password: 'violet-canoe-thunder', role: 'viewer' })
      .expect(201);
    const r = await t.http.patch(`/api/v1/users/${created.body.id}`).set(admin()).send({ password: 'password1' }).expect(400);
    expect(r.body.message).toEqual([expect.stringMatching(/^password is too easy to guess/)]);
    await t.http.post('/api/v1/auth/login').send({ username: 'carol-smith', password: 'violet-canoe-thunder' }).expect(200);
  });

  it('unknown id → 404, non-UUID id → 400', async () => {
    const r = await t.http.get(`/api/v1/users/${randomUUID()}`).set(admin()).expect(404);
    expect(r.body.code).toBe('USER_NOT_FOUND');
    await t.http.patch(`/api/v1/users/${randomUUID()}`).set(admin()).send({ enabled: true }).expect(404);
    await t.http.delete(`/api/v1/users/${randomUUID()}`).set(admin()).expect(404);
    await t.http.get('/api/v1/users/not-a-uuid').set(admin()).expect(400);
    await t.http.delete('/api/v1/users/123').set(admin()).expect(400);
  });

  it('duplicate username → 409 with a plain message', async () => {
    await t.http.post('/api/v1/users').set(admin()).send({ username: 'dup-user', password: 'dup-user-passphrase-1', role: 'viewer' }).expect(201);
    const r = await t.http
      .post('/api/v1/users')
      .set(admin())
      .send({ username: 'dup-user', password: 'dup-user-passphrase-2', role: 'admin' })
      .expect(409);
    expect(r.body).toMatchObject({ code: 'USERNAME_TAKEN', message: 'user "dup-user" already exists' });
  });

  it('malformed JSON → 400', async () => {
    await t.http.post('/api/v1/users').set(admin()).set('Content-Type', 'application/json').send('{"username":').expect(400);
  });

  describe('last enabled admin', () => {
    it('cannot be deleted, disabled or demoted (409 LAST_ADMIN); can once another admin exists', async () => {
      const me = await t.http.get('/api/v1/auth/me').set(admin()).expect(200);
      const selfId = me.body.id;
      for (const [method, body] of [
        ['delete', undefined],
        ['patch', { enabled: false }],
        ['patch', { role: 'operator' }],
      ] as const) {
        const req = method === 'delete' ? t.http.delete(`/api/v1/users/${selfId}`) : t.http.patch(`/api/v1/users/${selfId}`).send(body);
        const r = await req.set(admin()).expect(409);
        expect(r.body.code).toBe('LAST_ADMIN');
      }
      // a disabled admin does not count
      const other = await t.http
        .post('/api/v1/users')
        .set(admin())
        .send({ username: 'admin-two', password: 'admin-two-passphrase', role: 'admin' })
        .expect(201);
      await t.http.patch(`/api/v1/users/${other.body.id}`).set(admin()).send({ enabled: false }).expect(200);
      await t.http.patch(`/api/v1/users/${selfId}`).set(admin()).send({ role: 'viewer' }).expect(409);
      // with a second enabled admin, the first may be demoted — then the second is the last one
      await t.http.patch(`/api/v1/users/${other.body.id}`).set(admin()).send({ enabled: true }).expect(200);
      const login2 = await t.http.post('/api/v1/auth/login').send({ username: 'admin-two', password: 'admin-two-passphrase' }).expect(200);
      const admin2 = { Authorization: `Bearer ${login2.body.accessToken}` };
      await t.http.patch(`/api/v1/users/${selfId}`).set(admin2).send({ role: 'operator' }).expect(200);
      await t.http.delete(`/api/v1/users/${other.body.id}`).set(admin2).expect(409);
      await t.http.patch(`/api/v1/users/${selfId}`).set(admin2).send({ role: 'admin' }).expect(200);
      await t.http.delete(`/api/v1/users/${other.body.id}`).set(admin()).expect(204);
    });

    it('concurrent demotions of the two remaining admins leave one admin', async () => {
      const b = await t.http
        .post('/api/v1/users')
        .set(admin())
        .send({ username: 'admin-three', password: 'password-three', role: 'admin' })
        .expect(201);
      const me = await t.http.get('/api/v1/auth/me').set(admin()).expect(200);
      const rs = await Promise.all([
        t.http.patch(`/api/v1/users/${me.body.id}`).set(admin()).send({ role: 'viewer' }),
        t.http.patch(`/api/v1/users/${b.body.id}`).set(admin()).send({ role: 'viewer' }),
      ]);
      expect(rs.map((r) => r.status).sort()).toEqual([200, 409]);
      const [{ n }] = await t.app.get(DataSource).query(`SELECT count(*)::int AS n FROM users WHERE role = 'admin' AND enabled`);
      expect(n).toBe(1);
    });
  });
});

describe('first admin bootstrap (e2e)', () => {
  it('generates and prints a password once when none is configured, and never again', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const t = await createTestApp({ DLS_ADMIN_PASSWORD: '' }); // unset, as on a fresh install: the subject here
    try {
      const printed = warn.mock.calls.map((c) => String(c[0])).filter((m) => m.includes('INITIAL ADMIN CREDENTIALS'));
      expect(printed).toHaveLength(1);
      const password = /password: (\S+)/.exec(printed[0])![1];
      expect(t.adminToken).toBe(''); // the harness' fixed password is not the generated one
      await t.http.post('/api/v1/auth/login').send({ username: ADMIN.username, password }).expect(200);

      // a second start on the same database (existing users) prints nothing and creates nobody
      warn.mockClear();
      const again = await createApp(t.config, { logger: false });
      await again.init();
      try {
        expect(warn.mock.calls.some((c) => String(c[0]).includes('INITIAL ADMIN'))).toBe(false);
        await request(again.getHttpServer()).post('/api/v1/auth/login').send({ username: ADMIN.username, password }).expect(200);
      } finally {
        await again.close();
      }
      const [{ n }] = await t.app.get(DataSource).query('SELECT count(*)::int AS n FROM users');
      expect(n).toBe(1);
    } finally {
      warn.mockRestore();
      await t.close();
    }
  });
});
