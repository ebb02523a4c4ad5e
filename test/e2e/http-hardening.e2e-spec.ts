import { ADMIN, createTestApp, TestApp } from '../support/test-app';

// jest.config's per-project testTimeout is not applied by Jest 30 (global-only option).
jest.setTimeout(120_000);

const basic = (user: string, password: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

describe('HTTP hardening (e2e)', () => {
  describe('defaults: security headers, public API docs', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp();
    });
    afterAll(async () => {
      await t?.close();
    });

    it('sends no X-Powered-By and the usual security headers, on answers and on errors', async () => {
      for (const res of [await t.http.get('/api/v1/health/live').expect(200), await t.http.get('/api/v1/nothing-here').expect(404)]) {
        expect(res.headers['x-powered-by']).toBeUndefined();
        expect(res.headers['x-content-type-options']).toBe('nosniff');
        expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
        expect(res.headers['referrer-policy']).toBe('no-referrer');
        expect(res.headers['cross-origin-opener-policy']).toBe('same-origin');
        const csp = String(res.headers['content-security-policy']);
        expect(csp).toContain("default-src 'self'");
        expect(csp).toContain("frame-ancestors 'self'");
        expect(csp).toContain("object-src 'none'");
        // plain HTTP on the LAN: no upgrade of requests, no HTTPS pinning
        expect(csp).not.toContain('upgrade-insecure-requests');
        expect(res.headers['strict-transport-security']).toBeUndefined();
      }
    });

    it('Swagger UI works under the CSP: only same-origin scripts, which are served, and the document loads', async () => {
      const page = await t.http.get('/docs').redirects(2).expect(200);
      expect(page.headers['content-type']).toMatch(/text\/html/);
      const csp = String(page.headers['content-security-policy']);
      expect(csp).toMatch(/script-src 'self'(;|$)/);
      expect(csp).toMatch(/style-src [^;]*'unsafe-inline'/); // swagger-ui's page carries inline <style>
      const scripts = [...page.text.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
      expect(scripts.length).toBeGreaterThan(0);
      for (const [, attrs, body] of scripts) {
        expect(body.trim()).toBe(''); // no inline script: 'self' would block it
        const src = new URL(/src="([^"]+)"/.exec(attrs)![1], 'http://dls.test/docs');
        expect(src.origin).toBe('http://dls.test'); // same origin
        const js = await t.http.get(src.pathname).expect(200);
        expect(js.headers['content-type']).toMatch(/javascript/);
      }
      const doc = await t.http.get('/docs-json').expect(200);
      expect(doc.body.openapi).toMatch(/^3\./);
    });
  });

  describe('DLS_API_DOCS=auth', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ DLS_API_DOCS: 'auth' });
    });
    afterAll(async () => {
      await t?.close();
    });

    it('asks for a DLS login (401 with a Basic challenge) without one or with a wrong one', async () => {
      for (const path of ['/docs', '/docs/', '/docs-json', '/docs-yaml', '/docs/swagger-ui-init.js']) {
        const r = await t.http.get(path).expect(401);
        expect(r.headers['www-authenticate']).toMatch(/^Basic realm="DLS API docs"/);
        expect(r.text).not.toContain('openapi');
      }
      await t.http.get('/docs-json').set(basic(ADMIN.username, 'not-the-password')).expect(401);
      await t.http.get('/docs-json').set(basic('nobody-at-all', ADMIN.password)).expect(401);
      await t.http.get('/docs-json').set({ Authorization: 'Bearer not.a.token' }).expect(401);
    });

    it('serves the docs to any DLS user, by HTTP Basic (browsers) or a Bearer token (tools)', async () => {
      const viewer = await t.tokenFor('viewer');
      expect(
        (
          await t.http
            .get('/docs-json')
            .set({ Authorization: `Bearer ${viewer}` })
            .expect(200)
        ).body.openapi,
      ).toMatch(/^3\./);
      expect((await t.http.get('/docs-json').set(basic(ADMIN.username, ADMIN.password)).expect(200)).body.openapi).toMatch(/^3\./);
      await t.http.get('/docs').set(basic(ADMIN.username, ADMIN.password)).redirects(2).expect(200);
    });

    it('the API itself is unchanged (its own guard)', async () => {
      await t.http.get('/api/v1/health/live').expect(200);
      await t.http.get('/api/v1/users').expect(401);
    });
  });

  describe('DLS_API_DOCS=off', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ DLS_API_DOCS: 'off' });
    });
    afterAll(async () => {
      await t?.close();
    });

    it('serves no docs at all (404), even to the admin', async () => {
      for (const path of ['/docs', '/docs/', '/docs-json', '/docs-yaml']) {
        await t.http.get(path).expect(404);
        await t.http
          .get(path)
          .set({ Authorization: `Bearer ${t.adminToken}` })
          .expect(404);
      }
      await t.http.get('/api/v1/health/live').expect(200);
    });
  });
});
