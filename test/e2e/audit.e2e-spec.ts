import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AuditService } from '../../src/modules/audit/audit.service';
import { createTestApp, TestApp } from '../support/test-app';

// jest.config's per-project testTimeout is not applied by Jest 30 (global-only option).
jest.setTimeout(120_000);

interface Row {
  action: string;
  entityType: string;
  entityId: string | null;
  userId: string | null;
  username: string | null;
  details: Record<string, any> | null;
  remoteAddress: string | null;
  statusCode: number | null;
}

describe('audit (e2e)', () => {
  let t: TestApp;
  let adminId: string;
  const admin = () => ({ Authorization: `Bearer ${t.adminToken}` });
  const audit = async (query: Record<string, string | number> = {}): Promise<{ items: Row[]; total: number }> => {
    const r = await t.http.get('/api/v1/audit').query(query).set(admin()).expect(200);
    return r.body;
  };
  const rowCount = async (): Promise<number> => (await t.app.get(DataSource).query('SELECT count(*)::int AS n FROM audit_log'))[0].n;

  beforeAll(async () => {
    t = await createTestApp();
    adminId = (await t.http.get('/api/v1/auth/me').set(admin()).expect(200)).body.id;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('records a login attempt without the password', async () => {
    await t.http.post('/api/v1/auth/login').send({ username: 'admin', password: 'not-the-password' }).expect(401);
    const { items } = await audit({ action: 'auth.login', limit: 1 });
    expect(items[0]).toMatchObject({ entityType: 'auth', statusCode: 401, userId: null, remoteAddress: '127.0.0.1' });
    expect(items[0].details).toEqual({ body: { username: 'admin', password: '[REDACTED]' }, error: 'INVALID_CREDENTIALS' });
    expect(JSON.stringify(items)).not.toContain('not-the-password');
  });

  it('every mutating call leaves a row: create, update, delete, with actor, entity id and status', async () => {
    const before = await rowCount();
    const created = await t.http
      .post('/api/v1/users')
      .set(admin())
      .send({ username: 'audited', password: 'secret-password-1', role: 'viewer' })
      .expect(201);
    const id = created.body.id;
    await t.http.patch(`/api/v1/users/${id}`).set(admin()).send({ enabled: false, password: 'another-secret-2' }).expect(200);
    await t.http.delete(`/api/v1/users/${id}`).set(admin()).expect(204);
    expect(await rowCount()).toBe(before + 3);

    const { items, total } = await audit({ entityType: 'users', entityId: id });
    expect(total).toBe(3);
    expect(items.map((r) => [r.action, r.statusCode])).toEqual([
      ['users.delete', 204],
      ['users.update', 200],
      ['users.create', 201],
    ]);
    for (const r of items) expect(r).toMatchObject({ userId: adminId, username: 'admin', entityId: id, remoteAddress: '127.0.0.1' });
    expect(items[2].details!.body).toEqual({ username: 'audited', password: '[REDACTED]', role: 'viewer' });
    expect(items[1].details!.body).toEqual({ enabled: false, password: '[REDACTED]' });
    expect(JSON.stringify(items)).not.toMatch(/secret-password-1|another-secret-2/);
  });

  it('records failures too: validation, conflicts, not found', async () => {
    await t.http.post('/api/v1/users').set(admin()).send({ username: 'X', password: 'p', role: 'viewer' }).expect(400);
    const missing = randomUUID();
    await t.http.patch(`/api/v1/users/${missing}`).set(admin()).send({ enabled: true }).expect(404);
    await t.http.delete(`/api/v1/users/${adminId}`).set(admin()).expect(409);
    const { items } = await audit({ userId: adminId, limit: 3 });
    expect(items.map((r) => [r.action, r.statusCode, r.details?.error])).toEqual([
      ['users.delete', 409, 'LAST_ADMIN'],
      ['users.update', 404, 'USER_NOT_FOUND'],
      ['users.create', 400, 'VALIDATION_FAILED'],
    ]);
    expect(items[1].entityId).toBe(missing);
    expect(items[2].details!.body.password).toBe('[REDACTED]');
  });

  it('does not record reads', async () => {
    const before = await rowCount();
    await t.http.get('/api/v1/users').set(admin()).expect(200);
    await t.http.get('/api/v1/auth/me').set(admin()).expect(200);
    expect(await rowCount()).toBe(before);
  });

  it('AuditService.record works for non-HTTP callers and redacts secrets', async () => {
    await t.app.get(AuditService).record({
      action: 'dhcp.lease-offered',
      entityType: 'clients',
      entityId: 'c-1',
      details: { mac: '52:54:00:12:34:56', chapSecret: 'shh' },
      remoteAddress: '::ffff:192.0.2.7',
    });
    const { items } = await audit({ action: 'dhcp.lease-offered' });
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ userId: null, entityId: 'c-1', remoteAddress: '192.0.2.7', statusCode: null });
    expect(items[0].details).toEqual({ mac: '52:54:00:12:34:56', chapSecret: '[REDACTED]' });
  });

  it('records calls carrying NUL or an unpaired surrogate (PostgreSQL stores neither), with U+FFFD in their place', async () => {
    const body = '{"name":"evil\\u0000name","description":"\\ud800","sizeBytes":"nope"}';
    await t.http.post('/api/v1/images').set(admin()).set('Content-Type', 'application/json').send(body).expect(400);
    await t.http.patch('/api/v1/images/x%00y').set(admin()).send({ description: 'x' }).expect(400);
    const { items } = await audit({ entityType: 'images', limit: 2 });
    expect(items.map((r) => [r.action, r.statusCode, r.entityId])).toEqual([
      ['images.update', 400, 'x\ufffdy'],
      ['images.create', 400, null],
    ]);
    expect(items[1].details).toMatchObject({ body: { name: 'evil\ufffdname', description: '\ufffd' } });
  });

  it('never fails the caller when the insert fails', async () => {
    await expect(t.app.get(AuditService).record({ action: 'x.y', entityType: 'x', userId: 'not-a-uuid' })).resolves.toBeUndefined();
  });

  it('filters by time range and pages', async () => {
    const future = new Date(Date.now() + 3600_000).toISOString();
    expect((await audit({ from: future })).total).toBe(0);
    const all = await audit({ to: future });
    expect(all.total).toBeGreaterThan(2);
    const page = await audit({ limit: 2, offset: 1 });
    expect(page.items).toHaveLength(2);
    expect(page.total).toBe(all.total);
    const bad = await t.http.get('/api/v1/audit').query({ from: future, to: new Date().toISOString() }).set(admin()).expect(400);
    expect(bad.body.code).toBe('INVALID_TIME_RANGE');
    const r = await t.http.get('/api/v1/audit?from=yesterday').set(admin()).expect(400);
    expect(JSON.stringify(r.body.message)).toContain('from');
    await t.http.get('/api/v1/audit?userId=nope').set(admin()).expect(400);
  });

  it('filters by a status code range', async () => {
    await t.http.post('/api/v1/images').set(admin()).send({}).expect(400);
    const refused = await audit({ statusMin: 400, statusMax: 499 });
    expect(refused.total).toBeGreaterThan(0);
    expect(refused.items.every((r) => r.statusCode !== null && r.statusCode >= 400 && r.statusCode <= 499)).toBe(true);
    const ok = await audit({ statusMax: 299 });
    expect(ok.items.every((r) => r.statusCode !== null && r.statusCode <= 299)).toBe(true);
    const bad = await t.http.get('/api/v1/audit').query({ statusMin: 500, statusMax: 400 }).set(admin()).expect(400);
    expect(bad.body.code).toBe('INVALID_STATUS_RANGE');
    const nan = await t.http.get('/api/v1/audit?statusMin=abc').set(admin()).expect(400);
    expect(JSON.stringify(nan.body.message)).toContain('statusMin');
  });

  it('is admin-only', async () => {
    const operator = await t.tokenFor('operator');
    await t.http
      .get('/api/v1/audit')
      .set({ Authorization: `Bearer ${operator}` })
      .expect(403);
    await t.http.get('/api/v1/audit').expect(401);
  });
});
