import { ReadinessRegistry } from '../../src/modules/health';
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

  it('GET /api/v1/health/ready reports each enabled part: the database and storage (iSCSI is off here)', async () => {
    const r = await t.http.get('/api/v1/health/ready').expect(200);
    expect(r.body).toMatchObject({
      status: 'ok',
      info: { database: { status: 'up' }, storage: { status: 'up', driver: 'dir', root: expect.any(String), freeBytes: expect.any(Number) } },
      error: {},
    });
    expect(Object.keys(r.body.details).sort()).toEqual(['database', 'storage']); // no tgtd part while iSCSI is disabled
  });

  it('GET /api/v1/health/ready answers 503 naming a registered part that is down, and 200 once it is back', async () => {
    let up = false;
    const unregister = t.app.get(ReadinessRegistry).register('probe-test', async () => ({ up, detail: { reason: up ? undefined : 'switched off' } }));
    try {
      const down = await t.http.get('/api/v1/health/ready').expect(503);
      expect(down.body).toMatchObject({
        status: 'error',
        error: { 'probe-test': { status: 'down', reason: 'switched off' } },
        info: { database: { status: 'up' } },
      });
      up = true;
      await t.http.get('/api/v1/health/ready').expect(200);
    } finally {
      unregister();
    }
  });

  it('serves the OpenAPI document', async () => {
    const r = await t.http.get('/docs-json').expect(200);
    expect(r.body.openapi).toMatch(/^3\./);
    expect(Object.keys(r.body.paths)).toContain('/api/v1/health/live');
  });
});
