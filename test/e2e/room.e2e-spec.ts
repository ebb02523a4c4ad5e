import { DataSource } from 'typeorm';
import { BootSession } from '../../src/modules/catalog/boot-sessions/boot-session.entity';
import { ClientGroup } from '../../src/modules/catalog/groups/client-group.entity';
import { EventsService } from '../../src/modules/events';
import { IscsiExportsService } from '../../src/modules/iscsi';
import { makeClient, makeImage, makeSession, makeSnapshot, unique } from '../factories';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(120_000);

const T0 = Date.parse('2026-12-05T10:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000);

describe('GET /api/v1/room (e2e)', () => {
  let t: TestApp;
  let ds: DataSource;
  let viewer: string;
  const as = (token: string) => ({ Authorization: `Bearer ${token}` });

  beforeAll(async () => {
    t = await createTestApp();
    ds = t.app.get(DataSource);
    viewer = await t.tokenFor('viewer');
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await t?.close();
  });

  it('needs a token', async () => {
    const r = await t.http.get('/api/v1/room').expect(401);
    expect(r.body.code).toBeDefined();
  });

  it('shows every client with its effective image, version, disk policy and live stage', async () => {
    const img = await makeImage(ds, { defaultDiskPolicy: 'persistent' });
    const published = await makeSnapshot(ds, img.id, { name: 'v-published', isPublished: true, publishedAt: new Date() });
    const pinned = await makeSnapshot(ds, img.id, { name: 'v-pinned' });
    const groups = ds.getRepository(ClientGroup);
    const group = await groups.save(groups.create({ name: unique('grp'), imageId: img.id, pinnedSnapshotId: pinned.id, diskPolicy: 'reset' }));
    const mk = (hostname: string, over = {}) => makeClient(ds, { hostname: `${hostname}-${process.pid}`, assignedImageId: img.id, ...over });

    const running = await mk('room-a-running');
    await makeSession(ds, running, {
      status: 'running',
      startedAt: at(0),
      dhcpAt: at(0),
      loaderAt: at(2),
      scriptAt: at(4),
      iscsiLoginAt: at(6),
      runningAt: at(7),
      bootTimeSeconds: 7,
    });
    const dhcp = await mk('room-b-dhcp');
    const dhcpSession = await makeSession(ds, dhcp, { status: 'starting', startedAt: at(0), dhcpAt: at(0) });
    const loader = await mk('room-c-loader');
    await makeSession(ds, loader, { status: 'booting', startedAt: at(0), dhcpAt: at(0), loaderAt: at(2) });
    const script = await mk('room-d-script');
    await makeSession(ds, script, { status: 'booting', startedAt: at(0), dhcpAt: at(0), loaderAt: at(2), scriptAt: at(4) });
    const iscsi = await mk('room-e-iscsi');
    await makeSession(ds, iscsi, { status: 'booting', startedAt: at(0), scriptAt: at(4), iscsiLoginAt: at(6) });
    const failed = await mk('room-f-error');
    await makeSession(ds, failed, { status: 'shutdown', startedAt: at(-100), endedAt: at(-50), bootTimeSeconds: 12 });
    const failedSession = await makeSession(ds, failed, { status: 'error', startedAt: at(0), endedAt: at(30), errorMessage: 'x' });
    const off = await mk('room-g-off');
    await makeSession(ds, off, { status: 'shutdown', startedAt: at(0), endedAt: at(100), runningAt: at(9), bootTimeSeconds: 9 });
    const grouped = await makeClient(ds, { hostname: `room-h-group-${process.pid}`, groupId: group.id });
    const held = await mk('room-i-held');
    const never = await makeClient(ds, { hostname: `room-j-never-${process.pid}`, enabled: false, pending: true });
    const login = { ip: '10.0.0.9', since: at(500) };
    const spy = jest.spyOn(t.app.get(IscsiExportsService), 'activeSessions').mockResolvedValue(new Map([[held.id, login]]));

    const r = await t.http.get('/api/v1/room').set(as(viewer)).expect(200);
    spy.mockRestore();
    expect(Date.parse(r.body.generatedAt)).toBeGreaterThan(Date.now() - 60_000);
    const mine = (r.body.clients as any[]).filter((c) => c.hostname.startsWith('room-'));
    expect(mine.map((c) => c.hostname)).toEqual([...mine.map((c) => c.hostname)].sort()); // by hostname
    const tile = (id: string) => mine.find((c) => c.id === id);

    expect(tile(running.id)).toEqual({
      id: running.id,
      hostname: running.hostname,
      macAddress: running.macAddress,
      ipAddress: null,
      groupId: null,
      enabled: true,
      pending: false,
      imageId: img.id,
      imageName: img.name,
      snapshotId: published.id,
      versionLabel: 'v-published',
      diskPolicy: 'persistent',
      state: 'running',
      stateSince: at(7).toISOString(),
      sessionId: expect.any(String),
      lastBootSeconds: 7,
      lastBootAt: null, // set by the service's transition to running, not by a row written directly
    });
    expect(tile(dhcp.id)).toMatchObject({ state: 'dhcp', stateSince: at(0).toISOString(), sessionId: dhcpSession.id, lastBootSeconds: null });
    expect(tile(loader.id)).toMatchObject({ state: 'loader', stateSince: at(2).toISOString() });
    expect(tile(script.id)).toMatchObject({ state: 'script', stateSince: at(4).toISOString() });
    expect(tile(iscsi.id)).toMatchObject({ state: 'iscsi', stateSince: at(6).toISOString() });
    expect(tile(failed.id)).toMatchObject({ state: 'error', stateSince: at(30).toISOString(), sessionId: failedSession.id, lastBootSeconds: 12 });
    expect(tile(off.id)).toMatchObject({ state: 'off', stateSince: at(100).toISOString(), sessionId: null, lastBootSeconds: 9 });
    expect(tile(grouped.id)).toMatchObject({
      groupId: group.id,
      imageId: img.id,
      snapshotId: pinned.id,
      versionLabel: 'v-pinned',
      diskPolicy: 'reset',
      state: 'off',
      stateSince: null,
    });
    expect(tile(held.id)).toMatchObject({ state: 'disk-in-use', stateSince: login.since.toISOString(), sessionId: null });
    expect(tile(never.id)).toMatchObject({
      enabled: false,
      pending: true,
      imageId: null,
      imageName: null,
      snapshotId: null,
      versionLabel: null,
      diskPolicy: null,
      state: 'off',
    });
  });

  it('gives the newest event id, so the stream resumed from it misses nothing', async () => {
    const events = t.app.get(EventsService);
    const probe = { sessionId: 's', clientId: 'c', status: 'starting', previousStatus: null, clientIp: null } as any;
    await events.publish('boot-session', probe);
    const [{ id }] = await ds.query('SELECT max(id)::text AS id FROM events');
    const r = await t.http.get('/api/v1/room').set(as(viewer)).expect(200);
    expect(r.body.lastEventId).toBe(id);
    await events.publish('boot-session', probe);
    const after = await ds.query('SELECT id::text FROM events WHERE id > $1', [r.body.lastEventId]);
    expect(after).toHaveLength(1);
  });

  it('reads the sessions it shows through a fixed number of queries', async () => {
    // Every client with a session: the room answers with each one's own newest session.
    const img = await makeImage(ds);
    const clients = await Promise.all(
      Array.from({ length: 20 }, (_, i) => makeClient(ds, { hostname: `room-q-${i}-${process.pid}`, assignedImageId: img.id })),
    );
    const repo = ds.getRepository(BootSession);
    for (const c of clients) {
      await repo.save(repo.create({ clientId: c.id, imageId: img.id, status: 'shutdown', startedAt: at(0), endedAt: at(1), bootTimeSeconds: 3 }));
      await repo.save(repo.create({ clientId: c.id, imageId: img.id, status: 'starting', startedAt: at(10), dhcpAt: at(10) }));
    }
    // Every statement goes through the DataSource's query logger, whatever path issued it.
    const queries: string[] = [];
    const spy = jest.spyOn(ds.logger, 'logQuery').mockImplementation((q) => void queries.push(q));
    let r;
    try {
      r = await t.http.get('/api/v1/room').set(as(viewer)).expect(200);
    } finally {
      spy.mockRestore();
    }
    const roomQueries = queries.filter((q) => /FROM (clients|images|image_snapshots)|events_id_seq/.test(q));
    expect(roomQueries).toHaveLength(4);
    for (const c of clients) {
      expect((r.body.clients as any[]).find((x) => x.id === c.id)).toMatchObject({
        state: 'dhcp',
        stateSince: at(10).toISOString(),
        lastBootSeconds: 3,
      });
    }
  });
});
