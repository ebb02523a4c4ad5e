import { promises as fs } from 'node:fs';
import request from 'supertest';
import { MetricsServer } from '../../src/modules/metrics';
import { ScrapeGauges, SPACE_USAGE_CACHE_MS } from '../../src/modules/metrics/scrape-gauges';
import { simulateBoot } from '../support/boot-simulation';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(120_000);

/** The value of one sample line `name{labels} value` in the exposition text (labels given as written, sorted). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics, request ids and CORS (e2e)', () => {
  let t: TestApp;
  let scrape: () => Promise<{ status: number; text: string; type: string }>;

  beforeAll(async () => {
    // Both what a user with a dashboard on another origin sets; port 0 because test apps share this host.
    t = await createTestApp({ DLS_METRICS_ADDRESS: '127.0.0.1:0', DLS_CORS_ORIGINS: 'https://dash.example:8443,http://localhost:5173' });
    const bound = t.app.get(MetricsServer).bound!;
    scrape = async () => {
      const r = await fetch(`http://127.0.0.1:${bound.port}/metrics`);
      return { status: r.status, text: await r.text(), type: r.headers.get('content-type') ?? '' };
    };
  });
  afterAll(() => t?.close());

  it('serves the Prometheus text format on its own port, with the boot plane, database and process series', async () => {
    const { rangeName } = await simulateBoot(t);
    await t.http.get('/api/v1/health/live').expect(200);
    const r = await scrape();
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(sample(r.text, `dls_dhcp_packets_total{type="discover",outcome="offer",range="${rangeName}"}`)).toBe(1);
    expect(sample(r.text, 'dls_boot_duration_seconds_count')).toBe(1);
    expect(sample(r.text, 'dls_boot_stage_duration_seconds_count{stage="starting"}')).toBe(1);
    expect(sample(r.text, 'dls_boot_stage_duration_seconds_count{stage="booting"}')).toBe(1);
    expect(sample(r.text, 'dls_boot_session_transitions_total{status="running"}')).toBe(1);
    expect(sample(r.text, `dls_dhcp_leases{range="${rangeName}",state="offered"}`)).toBe(1);
    expect(sample(r.text, `dls_dhcp_pool_size{range="${rangeName}",mode="full"}`)).toBe(100);
    expect(sample(r.text, 'dls_boot_sessions{status="running"}')).toBe(1);
    expect(sample(r.text, 'dls_clients')).toBeGreaterThanOrEqual(1);
    expect(sample(r.text, 'dls_storage_bytes{kind="free"}')).toBeGreaterThan(0);
    expect(sample(r.text, 'dls_component_up{component="storage"}')).toBe(1);
    expect(sample(r.text, 'dls_db_pool_connections{state="max"}')).toBe(20);
    expect(r.text).toMatch(/^dls_http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/health\/live",status="200"\} \d+$/m);
    expect(r.text).toMatch(/^dls_http_request_duration_seconds_count\{method="PATCH",route="\/api\/v1\/boot-sessions\/:id",status="200"\} 2$/m);
    expect(r.text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    expect(r.text).toMatch(/^process_cpu_user_seconds_total \d/m);
  });

  it('reports the space each version and each client disk holds', async () => {
    const admin = { Authorization: `Bearer ${t.adminToken}` };
    const MiB = 1024 * 1024;
    const img = (
      await t.http
        .post('/api/v1/images')
        .set(admin)
        .send({ name: `space-${Date.now()}`, sizeBytes: 4 * MiB, format: 'raw' })
        .expect(201)
    ).body;
    await t.http
      .put(`/api/v1/images/${img.id}/content?format=raw`)
      .set(admin)
      .set('Content-Type', 'application/octet-stream')
      .send(Buffer.alloc(2 * MiB, 7))
      .expect(200);
    const v = (await t.http.post(`/api/v1/images/${img.id}/snapshots`).set(admin).send({ name: 'v1' }).expect(201)).body;
    await t.http.post(`/api/v1/images/${img.id}/snapshots/${v.id}/publish`).set(admin).expect(200);
    const c = (
      await t.http
        .post('/api/v1/clients')
        .set(admin)
        .send({ macAddress: '52:54:00:aa:bb:01', hostname: `space-${Date.now()}`, assignedImageId: img.id })
        .expect(201)
    ).body;
    const disk = (await t.http.put(`/api/v1/clients/${c.id}/disk`).set(admin).expect(200)).body;
    const { cloneMethod } = (await t.http.get('/api/v1/storage').set(admin).expect(200)).body;
    // The reading is kept a minute (it walks every disk): move its clock past that rather than wait.
    let clock = Date.now() + SPACE_USAGE_CACHE_MS;
    await t.app.get(ScrapeGauges).spaceUsage(clock);
    let r = await scrape();
    expect(sample(r.text, `dls_storage_version_bytes{image_id="${img.id}",version_id="${v.id}"}`)).toBeGreaterThanOrEqual(2 * MiB);
    expect(r.text).toMatch(/^# HELP dls_storage_client_disk_bytes /m);
    const clientBytes = () => sample(r.text, `dls_storage_client_disk_bytes{client_id="${c.id}"}`);
    if (cloneMethod !== 'overlay') {
      // A sparse copy, or a reflink whose shared blocks st_blocks counts too.
      expect(clientBytes()).toBeGreaterThanOrEqual(2 * MiB);
      return;
    }
    // The default dir driver without reflink: an overlay holds only what the client wrote — nothing yet, then 1 MiB.
    expect(clientBytes()).toBeGreaterThan(0);
    expect(clientBytes()).toBeLessThan(MiB);
    const fh = await fs.open(disk.path, 'r+');
    await fh.write(Buffer.alloc(MiB, 0x42), 0, MiB, 0);
    await fh.sync();
    await fh.close();
    clock += SPACE_USAGE_CACHE_MS;
    await t.app.get(ScrapeGauges).spaceUsage(clock);
    r = await scrape();
    expect(clientBytes()).toBeGreaterThanOrEqual(MiB);
    expect(clientBytes()).toBeLessThan(2 * MiB);
  });

  it('answers only GET /metrics there, and /metrics is neither on the API port nor in the API docs', async () => {
    const bound = t.app.get(MetricsServer).bound!;
    expect((await fetch(`http://127.0.0.1:${bound.port}/other`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${bound.port}/metrics`, { method: 'POST' })).status).toBe(405);
    await t.http.get('/metrics').expect(404);
    const docs = await t.http.get('/docs-json').expect(200);
    expect(Object.keys(docs.body.paths as object).filter((p) => p.includes('metrics'))).toEqual([]);
  });

  it('gives every request an id: a sane X-Request-Id is echoed, anything else replaced by a UUID', async () => {
    const given = await t.http.get('/api/v1/health/live').set('X-Request-Id', 'dash-1234.abc:7').expect(200);
    expect(given.headers['x-request-id']).toBe('dash-1234.abc:7');
    for (const bad of ['x'.repeat(129), 'a b', '<script>']) {
      const r = await t.http.get('/api/v1/health/live').set('X-Request-Id', bad).expect(200);
      expect(r.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
    const none = await t.http.get('/api/v1/health/live').expect(200);
    expect(none.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('allows a preflight from a configured origin and refuses one from any other', async () => {
    const ok = await t.http
      .options('/api/v1/clients')
      .set('Origin', 'https://dash.example:8443')
      .set('Access-Control-Request-Method', 'PATCH')
      .set('Access-Control-Request-Headers', 'authorization,content-type');
    expect(ok.status).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('https://dash.example:8443');
    expect(ok.headers['access-control-allow-methods']).toContain('PATCH');
    expect(ok.headers['access-control-allow-headers']).toMatch(/Authorization/i);
    const other = await t.http.options('/api/v1/clients').set('Origin', 'https://evil.example').set('Access-Control-Request-Method', 'DELETE');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    const get = await t.http.get('/api/v1/health/live').set('Origin', 'https://evil.example').expect(200);
    expect(get.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('lets a dashboard on a configured origin edit with If-Match and read the ETag', async () => {
    const pre = await t.http
      .options('/api/v1/client-groups/00000000-0000-4000-8000-000000000000')
      .set('Origin', 'http://localhost:5173')
      .set('Access-Control-Request-Method', 'PATCH')
      .set('Access-Control-Request-Headers', 'authorization,content-type,if-match');
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-headers']).toMatch(/If-Match/i);
    const admin = { Authorization: `Bearer ${t.adminToken}`, Origin: 'http://localhost:5173' };
    const created = await t.http.post('/api/v1/client-groups').set(admin).send({ name: 'cors-room' }).expect(201);
    const read = await t.http.get(`/api/v1/client-groups/${created.body.id}`).set(admin).expect(200);
    expect(read.headers.etag).toBe('"1"');
    expect(read.headers['access-control-expose-headers']).toMatch(/(^|,\s*)ETag(,|$)/);
  });

  it('sends no CORS headers at all by default (same-origin only)', async () => {
    const plain = await createTestApp();
    try {
      const r = await request(plain.app.getHttpServer())
        .options('/api/v1/clients')
        .set('Origin', 'https://dash.example:8443')
        .set('Access-Control-Request-Method', 'GET');
      expect(r.headers['access-control-allow-origin']).toBeUndefined();
      expect(r.headers['access-control-allow-methods']).toBeUndefined();
    } finally {
      await plain.close();
    }
  });
});
