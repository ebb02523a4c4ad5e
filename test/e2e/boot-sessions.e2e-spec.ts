import { DataSource } from 'typeorm';
import { BootSessionsService } from '../../src/modules/catalog/boot-sessions/boot-sessions.service';
import { makeClient, makeImage, makeSession } from '../factories';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(120_000);

const NIL = '00000000-0000-4000-8000-000000000000';

describe('boot sessions (e2e)', () => {
  let t: TestApp;
  let ds: DataSource;
  let operator: string;
  let viewer: string;
  const as = (token: string) => ({ Authorization: `Bearer ${token}` });
  const newClient = async (over = {}) => makeClient(ds, { assignedImageId: (await makeImage(ds)).id, ...over });
  const open = (clientId: string) => t.http.post('/api/v1/boot-sessions').set(as(operator)).send({ clientId });
  const move = (id: string, status: string, errorMessage?: string) =>
    t.http
      .patch(`/api/v1/boot-sessions/${id}`)
      .set(as(operator))
      .send(errorMessage ? { status, errorMessage } : { status });
  const bootCount = async (clientId: string) =>
    (await t.http.get(`/api/v1/clients/${clientId}`).set(as(viewer)).expect(200)).body as { bootCount: number; lastBootAt: string | null };

  beforeAll(async () => {
    t = await createTestApp();
    ds = t.app.get(DataSource);
    operator = await t.tokenFor('operator');
    viewer = await t.tokenFor('viewer');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('runs the lifecycle starting → booting → running → shutdown and counts the boot once', async () => {
    const client = await newClient();
    const s = await open(client.id).expect(201);
    expect(s.body).toMatchObject({ clientId: client.id, imageId: client.assignedImageId, status: 'starting', endedAt: null, bootTimeSeconds: null });

    expect(s.body.stages).toEqual({ dhcpAt: null, loaderAt: null, scriptAt: null, iscsiLoginAt: null, runningAt: null });
    await move(s.body.id, 'booting').expect(200);
    const running = await move(s.body.id, 'running').expect(200);
    expect(running.body.status).toBe('running');
    // Through the API only `running` is stamped (the other stages are what the boot plane sees).
    expect(running.body.stages).toEqual({ dhcpAt: null, loaderAt: null, scriptAt: null, iscsiLoginAt: null, runningAt: expect.any(String) });
    expect(Date.parse(running.body.stages.runningAt)).toBeGreaterThanOrEqual(Date.parse(s.body.startedAt));
    expect(running.body.bootTimeSeconds).toBeGreaterThanOrEqual(0);
    expect(running.body.endedAt).toBeNull();
    const afterRun = await bootCount(client.id);
    expect(afterRun.bootCount).toBe(1);
    expect(afterRun.lastBootAt).not.toBeNull();

    const again = await move(s.body.id, 'running').expect(409);
    expect(again.body).toMatchObject({ code: 'ILLEGAL_TRANSITION' });
    expect(again.body.message).toContain('from running to running');

    const down = await move(s.body.id, 'shutdown').expect(200);
    expect(down.body.endedAt).not.toBeNull();
    expect((await bootCount(client.id)).bootCount).toBe(1);

    const back = await move(s.body.id, 'booting').expect(409);
    expect(back.body.message).toContain('from shutdown to booting');
    expect((await t.http.get(`/api/v1/boot-sessions/${s.body.id}`).set(as(viewer)).expect(200)).body.status).toBe('shutdown');
  });

  it('rejects illegal transitions over HTTP', async () => {
    const client = await newClient();
    const s = (await open(client.id).expect(201)).body;
    const skip = await move(s.id, 'running').expect(409);
    expect(skip.body).toMatchObject({ code: 'ILLEGAL_TRANSITION', details: { from: 'starting', to: 'running' } });
    await move(s.id, 'shutdown').expect(409);
    await move(s.id, 'starting').expect(409);
  });

  it('error needs an errorMessage, ends the session and is final', async () => {
    const client = await newClient();
    const s = (await open(client.id).expect(201)).body;
    const noMsg = await move(s.id, 'error').expect(400);
    expect(noMsg.body.code).toBe('ERROR_MESSAGE_REQUIRED');
    await move(s.id, 'booting', 'not allowed here').expect(400);
    const err = await move(s.id, 'error', 'iSCSI login timed out').expect(200);
    expect(err.body).toMatchObject({ status: 'error', errorMessage: 'iSCSI login timed out' });
    expect(err.body.endedAt).not.toBeNull();
    await move(s.id, 'booting').expect(409);
    expect((await bootCount(client.id)).bootCount).toBe(0);
  });

  it('allows one open session per client and a new one after the last ended', async () => {
    const client = await newClient();
    const first = (await open(client.id).expect(201)).body;
    const dup = await open(client.id).expect(409);
    expect(dup.body).toMatchObject({ code: 'SESSION_ALREADY_OPEN' });
    expect(dup.body.message).toContain(first.id);
    await move(first.id, 'error', 'boom').expect(200);
    await open(client.id).expect(201);
  });

  it('serialises concurrent opens: exactly one wins', async () => {
    const client = await newClient();
    const rs = await Promise.all([1, 2, 3, 4].map(() => open(client.id)));
    expect(rs.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
  });

  it('counts a boot exactly once under concurrent running PATCHes', async () => {
    const client = await newClient();
    const s = (await open(client.id).expect(201)).body;
    await move(s.id, 'booting').expect(200);
    const rs = await Promise.all([1, 2, 3, 4, 5].map(() => move(s.id, 'running')));
    expect(rs.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409]);
    expect((await bootCount(client.id)).bootCount).toBe(1);
  });

  it('refuses clients without an image, disabled clients and unknown clients', async () => {
    const noImage = await makeClient(ds);
    const r1 = await open(noImage.id).expect(409);
    expect(r1.body.code).toBe('CLIENT_HAS_NO_IMAGE');
    const disabled = await newClient({ enabled: false });
    const r2 = await open(disabled.id).expect(409);
    expect(r2.body.code).toBe('CLIENT_DISABLED');
    await open(NIL).expect(404);
    const bad = await t.http.post('/api/v1/boot-sessions').set(as(operator)).send({ clientId: 'x' }).expect(400);
    expect(JSON.stringify(bad.body.message)).toContain('clientId');
    await t.http.post('/api/v1/boot-sessions').set(as(operator)).send({ clientId: noImage.id, clientIp: 'x' }).expect(400);
    await t.http.post('/api/v1/boot-sessions').set(as(operator)).set('Content-Type', 'application/json').send('{').expect(400);
  });

  it('validates PATCH bodies and ids', async () => {
    const client = await newClient();
    const s = (await open(client.id).expect(201)).body;
    const r = await t.http.patch(`/api/v1/boot-sessions/${s.id}`).set(as(operator)).send({ status: 'flying' }).expect(400);
    expect(JSON.stringify(r.body.message)).toContain('status');
    await t.http.patch(`/api/v1/boot-sessions/${s.id}`).set(as(operator)).send({}).expect(400);
    await move(NIL, 'booting').expect(404);
    await t.http.patch('/api/v1/boot-sessions/nope').set(as(operator)).send({ status: 'booting' }).expect(400);
    await t.http.get(`/api/v1/boot-sessions/${NIL}`).set(as(viewer)).expect(404);
    await t.http.get('/api/v1/boot-sessions/nope').set(as(viewer)).expect(400);
  });

  it('lists with filters and shows active sessions', async () => {
    const client = await newClient();
    const old = await makeSession(ds, client, {
      status: 'shutdown',
      startedAt: new Date('2020-01-01T00:00:00Z'),
      endedAt: new Date('2020-01-01T01:00:00Z'),
    });
    const cur = (await open(client.id).expect(201)).body;
    const byClient = await t.http.get('/api/v1/boot-sessions').query({ clientId: client.id }).set(as(viewer)).expect(200);
    expect(byClient.body.total).toBe(2);
    expect(byClient.body.items[0].id).toBe(cur.id); // newest first
    const byStatus = await t.http.get('/api/v1/boot-sessions').query({ clientId: client.id, status: 'shutdown' }).set(as(viewer)).expect(200);
    expect(byStatus.body.items.map((s: { id: string }) => s.id)).toEqual([old.id]);
    const byImage = await t.http.get('/api/v1/boot-sessions').query({ imageId: client.assignedImageId }).set(as(viewer)).expect(200);
    expect(byImage.body.total).toBe(2);
    const window = await t.http
      .get('/api/v1/boot-sessions')
      .query({ clientId: client.id, from: '2019-12-31T00:00:00Z', to: '2020-01-02T00:00:00Z' })
      .set(as(viewer))
      .expect(200);
    expect(window.body.items.map((s: { id: string }) => s.id)).toEqual([old.id]);
    const active = await t.http.get('/api/v1/boot-sessions/active').query({ limit: 500 }).set(as(viewer)).expect(200);
    const ids = active.body.items.map((s: { id: string }) => s.id);
    expect(ids).toContain(cur.id);
    expect(ids).not.toContain(old.id);
    for (const q of [{ status: 'x' }, { clientId: 'x' }, { from: 'yesterday' }, { from: '2020-02-01T00:00:00Z', to: '2020-01-01T00:00:00Z' }]) {
      await t.http.get('/api/v1/boot-sessions').query(q).set(as(viewer)).expect(400);
    }
  });

  it('roles: viewers read only', async () => {
    const client = await newClient();
    const s = (await open(client.id).expect(201)).body;
    await t.http.get('/api/v1/boot-sessions').expect(401);
    await t.http.post('/api/v1/boot-sessions').set(as(viewer)).send({ clientId: client.id }).expect(403);
    await t.http.patch(`/api/v1/boot-sessions/${s.id}`).set(as(viewer)).send({ status: 'booting' }).expect(403);
    await t.http.get('/api/v1/boot-sessions/active').set(as(viewer)).expect(200);
  });

  it('exposes open/transition/findOpenForClient to the boot plane', async () => {
    const svc = t.app.get(BootSessionsService);
    const client = await newClient();
    expect(await svc.findOpenForClient(client.id)).toBeNull();
    const s = await svc.open(client.id, { clientIp: '192.168.50.21', bootServerIp: '192.168.50.1' });
    expect(s).toMatchObject({ status: 'starting', clientIp: '192.168.50.21', bootServerIp: '192.168.50.1' });
    expect((await svc.findOpenForClient(client.id))?.id).toBe(s.id);
    await svc.transition(s.id, 'booting');
    await svc.transition(s.id, 'running');
    await svc.transition(s.id, 'shutdown');
    expect(await svc.findOpenForClient(client.id)).toBeNull();
    await expect(svc.transition(s.id, 'running')).rejects.toMatchObject({ code: 'ILLEGAL_TRANSITION' });
  });
});
