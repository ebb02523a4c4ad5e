import { JwtService } from '@nestjs/jwt';
import { IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { Role } from '../../src/common/auth/role';
import { ADMIN, createTestApp, TestApp } from '../support/test-app';

// jest.config's per-project testTimeout is not applied by Jest 30 (global-only option).
jest.setTimeout(120_000);

describe('auth (e2e)', () => {
  let t: TestApp;
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
  const login = (username: string, password: string) => t.http.post('/api/v1/auth/login').send({ username, password });
  let seq = 0;
  /** Creates a user through the API; returns its id, name and password. */
  const createUser = async (role: Role) => {
    const username = `u${++seq}-auth`;
    const password = `pw-${username}-0123`;
    const r = await t.http.post('/api/v1/users').set(bearer(t.adminToken)).send({ username, password, role }).expect(201);
    return { id: r.body.id as string, username, password };
  };

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('login', () => {
    it('answers a token pair and stamps last_login_at', async () => {
      const u = await createUser(Role.Viewer);
      const r = await login(u.username, u.password).expect(200);
      expect(r.body).toEqual({
        accessToken: expect.any(String),
        refreshToken: expect.any(String),
        tokenType: 'Bearer',
        expiresIn: t.config.auth.accessTtl,
      });
      const claims = t.app.get(JwtService).decode(r.body.accessToken);
      expect(claims).toMatchObject({ sub: u.id, username: u.username, role: 'viewer', typ: 'access', iss: 'dls' });
      const me = await t.http.get('/api/v1/auth/me').set(bearer(r.body.accessToken)).expect(200);
      expect(me.body).toEqual({ id: u.id, username: u.username, role: 'viewer' });
      const user = await t.http.get(`/api/v1/users/${u.id}`).set(bearer(t.adminToken)).expect(200);
      expect(Date.parse(user.body.lastLoginAt)).toBeGreaterThan(Date.now() - 60_000);
    });

    it('answers the same 401 INVALID_CREDENTIALS for an unknown user and a wrong password', async () => {
      const unknown = await login('nobody-here', 'whatever-pass').expect(401);
      const wrong = await login(ADMIN.username, 'wrong-password').expect(401);
      expect(unknown.body.code).toBe('INVALID_CREDENTIALS');
      expect(wrong.body.code).toBe('INVALID_CREDENTIALS');
      expect(unknown.body.message).toBe(wrong.body.message);
      expect(JSON.stringify(wrong.body)).not.toContain('wrong-password');
    });

    it('refuses a disabled user, and its existing access token stops working at once', async () => {
      const u = await createUser(Role.Operator);
      const before = await login(u.username, u.password).expect(200);
      await t.http.get('/api/v1/auth/me').set(bearer(before.body.accessToken)).expect(200);
      await t.http.patch(`/api/v1/users/${u.id}`).set(bearer(t.adminToken)).send({ enabled: false }).expect(200);
      await login(u.username, u.password).expect(401);
      await t.http.get('/api/v1/auth/me').set(bearer(before.body.accessToken)).expect(401);
      const refreshed = await t.http.post('/api/v1/auth/refresh').send({ refreshToken: before.body.refreshToken }).expect(401);
      expect(refreshed.body.code).toBe('REFRESH_TOKEN_INVALID');
    });

    it('answers a disabled user exactly like a wrong password, whether or not the password is right', async () => {
      const u = await createUser(Role.Viewer);
      await t.http.patch(`/api/v1/users/${u.id}`).set(bearer(t.adminToken)).send({ enabled: false }).expect(200);
      const right = await login(u.username, u.password);
      const wrong = await login(u.username, 'not-the-password-at-all');
      const unknown = await login('nobody-at-all', u.password);
      const shape = (r: { status: number; body: Record<string, unknown> }) => ({ status: r.status, body: r.body });
      expect(shape(right)).toMatchObject({ status: 401, body: { code: 'INVALID_CREDENTIALS', message: 'invalid username or password' } });
      expect(shape(wrong)).toEqual(shape(right));
      expect(shape(unknown)).toEqual(shape(right));
    });

    it('validates the body (400 naming the field)', async () => {
      const r = await t.http.post('/api/v1/auth/login').send({ username: 'admin' }).expect(400);
      expect(JSON.stringify(r.body.message)).toContain('password');
    });

    it('answers 400 to malformed JSON', async () => {
      const r = await t.http.post('/api/v1/auth/login').set('Content-Type', 'application/json').send('{"username": ').expect(400);
      expect(r.body.code).toBe('MALFORMED_BODY');
    });

    it('answers 400 (not a stack overflow 500) to a body nested thousands deep', async () => {
      for (const body of ['['.repeat(5000) + ']'.repeat(5000), '{"a":'.repeat(5000) + '1' + '}'.repeat(5000)]) {
        const r = await t.http.post('/api/v1/auth/login').set('Content-Type', 'application/json').send(body).expect(400);
        expect(r.body).toMatchObject({ code: 'MALFORMED_BODY', message: 'request body: nested deeper than 32 levels' });
      }
    });

    it('answers 400 (not a class-transformer 500) to a constructor key at any depth, in single and bulk bodies', async () => {
      const r = await t.http
        .post('/api/v1/auth/login')
        .send({ username: 'admin', password: { constructor: 1 } })
        .expect(400);
      expect(r.body).toMatchObject({ code: 'MALFORMED_BODY', message: 'request body: key password.constructor is not allowed' });
      const rows = [{ macAddress: '02:00:00:00:00:01', hostname: 'pc-a', cpuCores: { constructor: 1 } }];
      const b = await t.http.post('/api/v1/clients/bulk').set(bearer(t.adminToken)).send(rows).expect(400);
      expect(b.body).toMatchObject({ code: 'MALFORMED_BODY', message: 'request body: key [0].cpuCores.constructor is not allowed' });
    });
  });

  describe('access tokens', () => {
    it('401 without a token, with garbage, with a wrong signature and when expired', async () => {
      const jwt = t.app.get(JwtService);
      const me = await t.http.get('/api/v1/auth/me').set(bearer(t.adminToken)).expect(200);
      const claims = { sub: me.body.id, username: ADMIN.username, role: 'admin', typ: 'access' };
      const expired = jwt.sign(claims, { expiresIn: -60 });
      const forged = jwt.sign(claims, { secret: 'x'.repeat(48) });
      const refreshTyped = jwt.sign({ ...claims, typ: 'refresh' });
      await t.http.get('/api/v1/auth/me').expect(401);
      await t.http.get('/api/v1/auth/me').set(bearer('garbage.token.here')).expect(401);
      await t.http.get('/api/v1/auth/me').set({ Authorization: 'Basic YWRtaW46YWRtaW4=' }).expect(401);
      for (const token of [expired, forged, refreshTyped]) {
        const r = await t.http.get('/api/v1/auth/me').set(bearer(token)).expect(401);
        expect(r.body.code).toBe('TOKEN_INVALID');
      }
    });

    it('viewer may read, operator is below admin, admin manages users', async () => {
      const viewer = await t.tokenFor('viewer');
      const operator = await t.tokenFor('operator');
      await t.http.get('/api/v1/auth/me').set(bearer(viewer)).expect(200);
      await t.http.get('/api/v1/auth/me').set(bearer(operator)).expect(200);
      const body = { username: 'not-created', password: 'password-123', role: 'viewer' };
      for (const token of [viewer, operator]) {
        const r = await t.http.post('/api/v1/users').set(bearer(token)).send(body).expect(403);
        expect(r.body.code).toBe('ROLE_TOO_LOW');
        await t.http.get('/api/v1/users').set(bearer(token)).expect(403);
      }
      await t.http.get('/api/v1/users').set(bearer(t.adminToken)).expect(200);
    });

    it('a demoted user loses rights at once (no re-login needed)', async () => {
      const u = await createUser(Role.Admin);
      const token = (await login(u.username, u.password).expect(200)).body.accessToken;
      await t.http.get('/api/v1/users').set(bearer(token)).expect(200);
      await t.http.patch(`/api/v1/users/${u.id}`).set(bearer(t.adminToken)).send({ role: 'viewer' }).expect(200);
      await t.http.get('/api/v1/users').set(bearer(token)).expect(403);
    });
  });

  describe('refresh tokens', () => {
    it('rotate: a refresh yields a new pair and the old refresh token is rejected after use', async () => {
      const u = await createUser(Role.Viewer);
      const first = (await login(u.username, u.password).expect(200)).body;
      const second = (await t.http.post('/api/v1/auth/refresh').send({ refreshToken: first.refreshToken }).expect(200)).body;
      expect(second.tokenType).toBe('Bearer');
      expect(second.refreshToken).not.toBe(first.refreshToken);
      await t.http.get('/api/v1/auth/me').set(bearer(second.accessToken)).expect(200);
      const reused = await t.http.post('/api/v1/auth/refresh').send({ refreshToken: first.refreshToken }).expect(401);
      expect(reused.body.code).toBe('REFRESH_TOKEN_INVALID');
      // reuse of a rotated token is treated as theft: the whole family is revoked
      await t.http.post('/api/v1/auth/refresh').send({ refreshToken: second.refreshToken }).expect(401);
    });

    it('only the stored hash is kept', async () => {
      const u = await createUser(Role.Viewer);
      const pair = (await login(u.username, u.password).expect(200)).body;
      const rows: { token_hash: string }[] = await t.app.get(DataSource).query('SELECT token_hash FROM refresh_tokens WHERE user_id = $1', [u.id]);
      expect(rows).toHaveLength(1);
      expect(rows[0].token_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(rows[0].token_hash).not.toContain(pair.refreshToken);
    });

    it('logout revokes the refresh token (204, idempotent)', async () => {
      const u = await createUser(Role.Viewer);
      const pair = (await login(u.username, u.password).expect(200)).body;
      await t.http.post('/api/v1/auth/logout').send({ refreshToken: pair.refreshToken }).expect(204);
      await t.http.post('/api/v1/auth/logout').send({ refreshToken: pair.refreshToken }).expect(204);
      await t.http.post('/api/v1/auth/refresh').send({ refreshToken: pair.refreshToken }).expect(401);
    });

    it('a password change revokes the user’s refresh tokens', async () => {
      const u = await createUser(Role.Viewer);
      const pair = (await login(u.username, u.password).expect(200)).body;
      await t.http.patch(`/api/v1/users/${u.id}`).set(bearer(t.adminToken)).send({ password: 'a-brand-new-password' }).expect(200);
      await t.http.post('/api/v1/auth/refresh').send({ refreshToken: pair.refreshToken }).expect(401);
      await login(u.username, u.password).expect(401);
      await login(u.username, 'a-brand-new-password').expect(200);
    });

    describe('revoke access tokens at once (401 TOKEN_REVOKED), not when they expire', () => {
      const me = (token: string) => t.http.get('/api/v1/auth/me').set(bearer(token));
      const expectRevoked = async (token: string) => {
        const r = await me(token).expect(401);
        expect(r.body.code).toBe('TOKEN_REVOKED');
      };

      it('on logout: every access token of the user; its other sessions refresh and go on', async () => {
        const u = await createUser(Role.Viewer);
        const a = (await login(u.username, u.password).expect(200)).body;
        const b = (await login(u.username, u.password).expect(200)).body;
        await me(a.accessToken).expect(200);
        await t.http.post('/api/v1/auth/logout').send({ refreshToken: a.refreshToken }).expect(204);
        await expectRevoked(a.accessToken);
        await expectRevoked(b.accessToken);
        const b2 = (await t.http.post('/api/v1/auth/refresh').send({ refreshToken: b.refreshToken }).expect(200)).body;
        await me(b2.accessToken).expect(200);
        // logging out again with the spent token changes nothing
        await t.http.post('/api/v1/auth/logout').send({ refreshToken: a.refreshToken }).expect(204);
        await me(b2.accessToken).expect(200);
      });

      it('on a password change', async () => {
        const u = await createUser(Role.Viewer);
        const pair = (await login(u.username, u.password).expect(200)).body;
        await me(pair.accessToken).expect(200);
        await t.http.patch(`/api/v1/users/${u.id}`).set(bearer(t.adminToken)).send({ password: 'an-entirely-new-passphrase' }).expect(200);
        await expectRevoked(pair.accessToken);
        const fresh = (await login(u.username, 'an-entirely-new-passphrase').expect(200)).body;
        await me(fresh.accessToken).expect(200);
      });

      it('on refresh-token reuse: the thief’s and the owner’s access tokens alike', async () => {
        const u = await createUser(Role.Viewer);
        const first = (await login(u.username, u.password).expect(200)).body;
        const second = (await t.http.post('/api/v1/auth/refresh').send({ refreshToken: first.refreshToken }).expect(200)).body;
        await me(second.accessToken).expect(200);
        await t.http.post('/api/v1/auth/refresh').send({ refreshToken: first.refreshToken }).expect(401);
        await expectRevoked(first.accessToken);
        await expectRevoked(second.accessToken);
      });

      it('does not touch other users', async () => {
        const u = await createUser(Role.Viewer);
        const other = await createUser(Role.Viewer);
        const mine = (await login(u.username, u.password).expect(200)).body;
        const theirs = (await login(other.username, other.password).expect(200)).body;
        await t.http.post('/api/v1/auth/logout').send({ refreshToken: mine.refreshToken }).expect(204);
        await me(theirs.accessToken).expect(200);
      });
    });

    it('rejects an unknown refresh token', async () => {
      const r = await t.http.post('/api/v1/auth/refresh').send({ refreshToken: 'not-a-token' }).expect(401);
      expect(r.body.code).toBe('REFRESH_TOKEN_INVALID');
    });
  });

  describe('login throttle (the app listens on loopback; requests come from distinct 127.0.0.x addresses)', () => {
    let port: number;
    beforeAll(async () => {
      await t.app.listen(0, '127.0.0.1');
      port = (t.app.getHttpServer().address() as AddressInfo).port;
    });
    /** POST /auth/login from `from` (a loopback address: Linux routes all of 127/8 to lo). */
    const loginFrom = (from: string, username: string, password: string) =>
      new Promise<{ status: number; headers: IncomingHttpHeaders; body: { code?: string } }>((resolve, reject) => {
        const body = JSON.stringify({ username, password });
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port,
            localAddress: from,
            agent: false, // one connection per request: nothing kept alive past the test
            method: 'POST',
            path: '/api/v1/auth/login',
            headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (text += c));
            res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) as { code?: string } }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });

    it('five wrong passwords from one address lock only that address out of that user: the right one from another gets in', async () => {
      const u = await createUser(Role.Admin);
      for (let i = 0; i < 5; i++) expect((await loginFrom('127.0.0.2', u.username, `bad-password-${i}`)).status).toBe(401);
      const refused = await loginFrom('127.0.0.2', u.username, u.password);
      expect(refused.status).toBe(429);
      expect(refused.body.code).toBe('TOO_MANY_ATTEMPTS');
      const retryAfter = Number(refused.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(300);
      expect((await loginFrom('127.0.0.3', u.username, u.password)).status).toBe(200);
      expect((await loginFrom('127.0.0.3', u.username, 'bad-password-x')).status).toBe(401);
      // and the attacker's address may still log in as someone else
      const other = await createUser(Role.Viewer);
      expect((await loginFrom('127.0.0.2', other.username, other.password)).status).toBe(200);
    });

    it('a success clears its own pair: the right password after four misses resets the count', async () => {
      const u = await createUser(Role.Viewer);
      for (let i = 0; i < 4; i++) expect((await loginFrom('127.0.0.6', u.username, `bad-password-${i}`)).status).toBe(401);
      expect((await loginFrom('127.0.0.6', u.username, u.password)).status).toBe(200);
      for (let i = 0; i < 4; i++) expect((await loginFrom('127.0.0.6', u.username, `bad-password-${i}`)).status).toBe(401);
      expect((await loginFrom('127.0.0.6', u.username, u.password)).status).toBe(200);
    });

    it('an address that sprays usernames is refused for every user; other addresses are not', async () => {
      const u = await createUser(Role.Viewer);
      for (let i = 0; i < 20; i++) expect((await loginFrom('127.0.0.4', `nobody-${i}`, 'some-wrong-password')).status).toBe(401);
      const r = await loginFrom('127.0.0.4', u.username, u.password);
      expect({ status: r.status, code: r.body.code }).toEqual({ status: 429, code: 'TOO_MANY_ATTEMPTS' });
      expect((await loginFrom('127.0.0.5', u.username, u.password)).status).toBe(200);
    });
  });
});
