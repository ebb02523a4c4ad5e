/**
 * Several DLS nodes on one PostgreSQL (issue 14): registration, `GET /nodes` from any node, one holder per range,
 * draining, hand-back on shutdown, and a second process refused a live node's name. Two (three) whole apps share one
 * real database here; their DHCP is off (API-only test apps), so the test asks each node's cluster service for the
 * ranges its DHCP would want. The kill -9 takeover with real DHCP traffic is test/boot/scale-out.e2e-spec.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { ClusterService } from '../../src/modules/cluster';
import { DlsMetrics } from '../../src/modules/metrics';
import { createTestApp, TestApp } from '../support/test-app';

/** Polls until `probe` is true (a short timer between probes, with a deadline). */
async function waitFor(what: string, probe: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('nodes on one database (/api/v1/nodes, range holds)', () => {
  let a: TestApp;
  let b: TestApp | null;
  let rangeId: string;
  let refused: Error | null;
  const importing: Record<string, string> = {};
  const as = (t: TestApp) => ({ Authorization: `Bearer ${t.adminToken}` });
  // A site with several nodes may shorten the hold to move ranges faster (3 s: takeover within ~4 s of a crash).
  const LEASE = { DLS_NODE_LEASE: '3' };
  // Each node below also gets a DLS_NODE_NAME: they all run on this host, whose name can name only one of them.

  beforeAll(async () => {
    a = await createTestApp({ ...LEASE, DLS_NODE_NAME: 'node-a' });
    // Three uploads "running" as B starts: one on A (alive), one on a node that is gone, one from before nodes existed.
    const ds = a.app.get(DataSource);
    for (const [name, node] of [
      ['on-a', a.app.get(ClusterService).id],
      ['on-gone-node', '00000000-0000-4000-8000-00000000dead'],
      ['no-node', null],
    ] as const) {
      const img = await a.http.post('/api/v1/images').set(as(a)).send({ name, sizeBytes: 1048576, format: 'raw' });
      if (img.status !== 201) throw new Error(`${img.status} ${JSON.stringify(img.body)}`);
      importing[name] = img.body.id;
      await ds.query(`UPDATE images SET content_status = 'importing', content_node_id = $2 WHERE id = $1`, [img.body.id, node]);
    }
    // Before B starts: the apps of one test process share passport's strategy, which the refused app's close breaks.
    refused = await createTestApp({ ...LEASE, DLS_NODE_NAME: 'node-a', DATABASE_URL: a.config.database.url! }).then(
      () => null,
      (err: Error) => err,
    );
    b = await createTestApp({ ...LEASE, DLS_NODE_NAME: 'node-b', DATABASE_URL: a.config.database.url! });
    const r = await a.http
      .post('/api/v1/network-ranges')
      .set(as(a))
      .send({ name: 'room-1', cidr: '10.77.0.0/24', dhcpMode: 'full', poolStart: '10.77.0.100', poolEnd: '10.77.0.199', interface: 'lab0' });
    if (r.status !== 201) throw new Error(`${r.status} ${JSON.stringify(r.body)}`);
    rangeId = r.body.id;
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const nodes = async (t: TestApp) => {
    const r = await t.http.get('/api/v1/nodes').set(as(t));
    expect(r.status).toBe(200);
    return r.body as { id: string; name: string; healthy: boolean; self: boolean; state: string; ranges: { rangeId: string; epoch: string }[] }[];
  };

  it('every node registers; any node lists them all, healthy, saying which one answered', async () => {
    const fromA = await nodes(a);
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    expect(fromA.map((n) => (n as unknown as { version: string }).version)).toEqual([pkg.version, pkg.version]);
    const fromB = await nodes(b!);
    expect(fromA.map((n) => [n.name, n.healthy, n.self])).toEqual([
      ['node-a', true, true],
      ['node-b', true, false],
    ]);
    expect(fromB.map((n) => [n.name, n.self])).toEqual([
      ['node-a', false],
      ['node-b', true],
    ]);
    // One login for the whole cluster: A's token is valid at B (the key is shared through the database, unset
    // JWT_SECRET), and B's at A.
    expect((await b!.http.get('/api/v1/nodes').set(as(a))).status).toBe(200);
    expect((await a.http.get('/api/v1/nodes').set(as(b!))).status).toBe(200);
  });

  it("a starting node fails only the interrupted uploads of its own past, of dead nodes and of no node, never a live node's", async () => {
    const status = async (id: string) => (await b!.http.get(`/api/v1/images/${id}`).set(as(b!))).body.contentStatus as string;
    expect(await status(importing['on-a'])).toBe('importing');
    expect(await status(importing['on-gone-node'])).toBe('failed');
    expect(await status(importing['no-node'])).toBe('failed');
  });

  it('one node holds a range; the other waits as standby and sees who serves it', async () => {
    const ca = a.app.get(ClusterService);
    const cb = b!.app.get(ClusterService);
    expect([...(await ca.want([rangeId]))]).toEqual([rangeId]);
    expect(ca.holds(rangeId)).toBe(true);
    expect([...(await cb.want([rangeId]))]).toEqual([]);
    expect(cb.holds(rangeId)).toBe(false);
    expect(await cb.holders([rangeId])).toEqual(new Map([[rangeId, 'node-a']]));
    // Renewals keep it with A well past one lease, while B keeps asking at every beat.
    await new Promise((r) => setTimeout(r, 4_000));
    expect(ca.holds(rangeId)).toBe(true);
    expect(cb.holds(rangeId)).toBe(false);
    const listed = (await nodes(b!)).find((n) => n.name === 'node-a')!;
    expect(listed.ranges).toEqual([expect.objectContaining({ rangeId, epoch: '1' })]);
  });

  it('draining a node (through the other node’s API) hands its range to the standby; activating it takes nothing back', async () => {
    const ca = a.app.get(ClusterService);
    const cb = b!.app.get(ClusterService);
    const idA = ca.id!;
    const drained = await b!.http.post(`/api/v1/nodes/${idA}/drain`).set(as(b!));
    expect(drained.status).toBe(200);
    expect(drained.body.state).toBe('draining');
    await waitFor('A to hand the range back', () => Promise.resolve(!ca.holds(rangeId)));
    await waitFor('B to take the range', () => Promise.resolve(cb.holds(rangeId)));
    expect((await nodes(a)).find((n) => n.name === 'node-b')!.ranges).toEqual([expect.objectContaining({ rangeId, epoch: '2' })]);
    expect([...(await ca.want([rangeId]))]).toEqual([]); // draining: takes nothing
    // Each hand-over is on the event stream (range.holder), from the node that made it.
    const ds = a.app.get(DataSource);
    const holderEvents = async () =>
      (await ds.query<{ body: Record<string, unknown> }[]>(`SELECT body FROM events WHERE type = 'range.holder' ORDER BY id`)).map((r) => r.body);
    await waitFor('the hand-over events', async () => (await holderEvents()).length >= 3);
    // And in each node's metrics: B holds room-1 now; A counted its take and its hand-back.
    expect(await b!.app.get(DlsMetrics).registry.getSingleMetricAsString('dls_range_held')).toMatch(/dls_range_held\{range="room-1"\} 1/);
    const handovers = await a.app.get(DlsMetrics).registry.getSingleMetricAsString('dls_range_handovers_total');
    expect(handovers).toMatch(/action="taken"\} 1/);
    expect(handovers).toMatch(/action="handed-back"\} 1/);
    expect(await holderEvents()).toEqual([
      { rangeId, range: 'room-1', node: 'node-a', action: 'taken', epoch: '1' },
      { rangeId, range: 'room-1', node: 'node-a', action: 'handed-back', epoch: null },
      { rangeId, range: 'room-1', node: 'node-b', action: 'taken', epoch: '2' },
    ]);

    expect((await a.http.post(`/api/v1/nodes/${idA}/activate`).set(as(a))).body.state).toBe('active');
    expect([...(await ca.want([rangeId]))]).toEqual([]); // B holds it: no reclaim while B lives
    expect(cb.holds(rangeId)).toBe(true);
  });

  it('a node shutting down hands its range back at once; a stopped node can be removed, a live one not', async () => {
    const ca = a.app.get(ClusterService);
    const idB = b!.app.get(ClusterService).id!;
    await b!.close();
    b = null;
    expect([...(await ca.want([rangeId]))]).toEqual([rangeId]); // no wait for the lease to end
    const listed = await nodes(a);
    expect(listed.find((n) => n.name === 'node-b')).toMatchObject({ healthy: false, state: 'stopped', ranges: [] });
    const alive = await a.http.delete(`/api/v1/nodes/${ca.id}`).set(as(a));
    expect(alive.status).toBe(409);
    expect(alive.body.code).toBe('NODE_ALIVE');
    expect((await a.http.delete(`/api/v1/nodes/${idB}`).set(as(a))).status).toBe(204);
    expect((await nodes(a)).map((n) => n.name)).toEqual(['node-a']);
    expect((await a.http.get(`/api/v1/nodes/${idB}`).set(as(a))).status).toBe(404);
  });

  it("a second process with a live node's name (another data directory) is refused at start, naming the fix", () => {
    expect(refused?.message).toMatch(/another DLS node named "node-a" is running.*DLS_NODE_NAME/);
  });
});
