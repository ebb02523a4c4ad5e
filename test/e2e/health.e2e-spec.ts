import { createTestApp, TestApp } from '../support/test-app';

describe('health (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('GET /api/v1/health/live is public and ok', async () => {
    const r = await t.http.get('/api/v1/health/live').expect(200);
    expect(r.body).toEqual({ status: 'ok' });
  });

  it('GET /api/v1/health/ready checks the database', async () => {
    const r = await t.http.get('/api/v1/health/ready').expect(200);
    expect(r.body).toEqual({ status: 'ok', database: 'up' });
  });

  it('serves the OpenAPI document', async () => {
    const r = await t.http.get('/docs-json').expect(200);
    expect(r.body.openapi).toMatch(/^3\./);
    expect(Object.keys(r.body.paths)).toContain('/api/v1/health/live');
  });
});
