import { NestExpressApplication } from '@nestjs/platform-express';
import { DataSource } from 'typeorm';
import { createApp } from '../../src/bootstrap';
import { WakeScheduleRunner } from '../../src/modules/wake';
import { makeClient, rangeBody, unique } from '../factories';
import { waitFor } from '../net/netns-harness';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(180_000);

/**
 * Wake-on-LAN through the API on a node without DHCP sockets (the test app's API-only control plane): every refusal
 * is a per-client 409 naming why, never a 500; wake schedules' validation and lifecycle; and the schedule runner —
 * a due run fires exactly once however many runners (two apps on one database) contend for it. The packets
 * themselves, on real interfaces, are test/wol/wake-on-lan.e2e-spec.ts.
 */
describe('Wake-on-LAN API and wake schedules (e2e)', () => {
  let t: TestApp;
  let ds: DataSource;
  let operator: string;
  let viewer: string;
  const as = (token: string) => ({ Authorization: `Bearer ${token}` });
  const group = async (): Promise<{ id: string; name: string }> =>
    (
      await t.http
        .post('/api/v1/client-groups')
        .set(as(operator))
        .send({ name: unique('room') })
        .expect(201)
    ).body;
  const schedule = (body: Record<string, unknown>, token = operator) => t.http.post('/api/v1/wake-schedules').set(as(token)).send(body);
  const audits = (action: string, entityId: string) =>
    ds.query<{ details: any; user_id: string | null }[]>('SELECT details, user_id FROM audit_log WHERE action = $1 AND entity_id = $2 ORDER BY at', [
      action,
      entityId,
    ]);

  beforeAll(async () => {
    // The runner's own tick is off in this app (what a user sets on a node that must not fire schedules): these
    // tests call runDue() themselves to decide when runs contend; the last test turns the tick on.
    t = await createTestApp({ DLS_WOL_SCHEDULES: 'false' });
    ds = t.app.get(DataSource);
    operator = await t.tokenFor('operator');
    viewer = await t.tokenFor('viewer');
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('waking clients', () => {
    it('a client: 409 naming why no packet left (no range, no interface, no socket on this node); 404, 400, 403', async () => {
      const nowhere = await makeClient(ds);
      const r1 = await t.http.post(`/api/v1/clients/${nowhere.id}/wake`).set(as(operator)).expect(409);
      expect(r1.body).toMatchObject({ code: 'WAKE_NO_RANGE', details: { clientId: nowhere.id } });
      expect(r1.body.message).toContain(nowhere.hostname);

      const bare = (
        await t.http
          .post('/api/v1/network-ranges')
          .set(as(t.adminToken))
          .send(rangeBody({ cidr: '10.77.1.0/24' }))
          .expect(201)
      ).body;
      const reserved = await makeClient(ds, { ipAddress: '10.77.1.20' });
      const r2 = await t.http.post(`/api/v1/clients/${reserved.id}/wake`).set(as(operator)).expect(409);
      expect(r2.body).toMatchObject({ code: 'WAKE_RANGE_NO_INTERFACE', details: { rangeId: bare.id } });
      expect(r2.body.message).toMatch(new RegExp(`range ${bare.name} has no interface configured`));

      await t.http.patch(`/api/v1/network-ranges/${bare.id}`).set(as(t.adminToken)).send({ interface: 'wolnone0' }).expect(200);
      const r3 = await t.http.post(`/api/v1/clients/${reserved.id}/wake`).set(as(operator)).expect(409);
      expect(r3.body).toMatchObject({ code: 'DHCP_DISABLED', details: { rangeId: bare.id, interface: 'wolnone0' } });
      expect(r3.body.message).toMatch(/DLS_DHCP_ENABLED=false/);

      await t.http.patch(`/api/v1/network-ranges/${bare.id}`).set(as(t.adminToken)).send({ dhcpMode: 'off' }).expect(200);
      expect((await t.http.post(`/api/v1/clients/${reserved.id}/wake`).set(as(operator)).expect(409)).body.code).toBe('WAKE_RANGE_DHCP_OFF');

      await t.http.post('/api/v1/clients/00000000-0000-4000-8000-000000000000/wake').set(as(operator)).expect(404);
      expect((await t.http.post('/api/v1/clients/nope/wake').set(as(operator)).expect(400)).body.code).toBe('INVALID_UUID');
      await t.http.post(`/api/v1/clients/${nowhere.id}/wake`).set(as(viewer)).expect(403);
      await t.http.post(`/api/v1/clients/${nowhere.id}/wake`).expect(401);
      expect(await audits('clients.wake', reserved.id)).toHaveLength(3);
    });

    it('a group: 200 with one outcome per member; one audit entry listing them', async () => {
      const g = await group();
      const range = (
        await t.http
          .post('/api/v1/network-ranges')
          .set(as(t.adminToken))
          .send(rangeBody({ cidr: '10.77.2.0/24', interface: 'wolnone1' }))
          .expect(201)
      ).body;
      const a = await makeClient(ds, { hostname: unique('a'), groupId: g.id, ipAddress: '10.77.2.10' });
      const b = await makeClient(ds, { hostname: unique('b'), groupId: g.id });
      const r = await t.http.post(`/api/v1/client-groups/${g.id}/wake`).set(as(operator)).expect(200);
      expect(r.body).toMatchObject({ groupId: g.id, group: g.name, total: 2, sent: 0, failed: 2, ports: [9] });
      const byId = Object.fromEntries(r.body.results.map((x: any) => [x.clientId, x]));
      expect(byId[a.id]).toMatchObject({ status: 'failed', code: 'DHCP_DISABLED', rangeId: range.id, interface: 'wolnone1', source: 'reservation' });
      expect(byId[b.id]).toMatchObject({ status: 'failed', code: 'WAKE_NO_RANGE' });
      const [entry] = await audits('client-groups.wake', g.id);
      expect(entry.details.clients).toEqual(expect.arrayContaining([a.id, b.id]));
      expect(entry.details.failed).toHaveLength(2);
      await t.http.post('/api/v1/client-groups/00000000-0000-4000-8000-000000000000/wake').set(as(operator)).expect(404);
      await t.http.post(`/api/v1/client-groups/${g.id}/wake`).set(as(viewer)).expect(403);
    });

    it("the bulk action 'wake' reports per client, writes nothing, and takes no parameters", async () => {
      const g = await group();
      const a = await makeClient(ds, { groupId: g.id });
      const r = await t.http.post('/api/v1/clients/actions').set(as(operator)).send({ action: 'wake', groupId: g.id }).expect(200);
      expect(r.body).toEqual({
        action: 'wake',
        total: 1,
        failed: 1,
        results: [{ clientId: a.id, hostname: a.hostname, status: 'failed', code: 'WAKE_NO_RANGE', message: expect.any(String) }],
      });
      const bad = await t.http
        .post('/api/v1/clients/actions')
        .set(as(operator))
        .send({ action: 'wake', ids: [a.id], imageId: null })
        .expect(400);
      expect(bad.body.details).toEqual({ field: 'imageId' });
    });
  });

  describe('wake schedules', () => {
    it('days + time (or cron) in a time zone; days and time read back; nextRunAt in the future', async () => {
      const g = await group();
      const r = await schedule({ groupId: g.id, days: ['fri', 'mon', 'tue', 'wed', 'thu'], time: '07:45', timezone: 'Europe/Berlin' }).expect(201);
      expect(r.body).toMatchObject({
        groupId: g.id,
        cron: '45 7 * * 1,2,3,4,5',
        days: ['mon', 'tue', 'wed', 'thu', 'fri'],
        time: '07:45',
        timezone: 'Europe/Berlin',
        enabled: true,
        lastRunAt: null,
      });
      expect(new Date(r.body.nextRunAt).getTime()).toBeGreaterThan(Date.now());
      const c = await schedule({ groupId: g.id, cron: '*/15 6-8 * * 1-5', timezone: 'UTC' }).expect(201);
      expect(c.body).toMatchObject({ cron: '*/15 6-8 * * 1-5', days: null, time: null });
      expect(new Date(c.body.nextRunAt).getUTCMinutes() % 15).toBe(0);

      const list = await t.http.get('/api/v1/wake-schedules').query({ groupId: g.id }).set(as(viewer)).expect(200);
      expect(list.body.total).toBe(2);
      await t.http.get(`/api/v1/wake-schedules/${r.body.id}`).set(as(viewer)).expect(200);
      await schedule({ groupId: g.id, cron: '0 7 * * *', timezone: 'UTC' }, viewer).expect(403);
      expect(await audits('wake-schedules.create', r.body.id)).toHaveLength(1);
    });

    it('refuses bad input with 400 naming the field, and writes nothing', async () => {
      const g = await group();
      const before = (await ds.query('SELECT count(*)::int AS n FROM wake_schedules'))[0].n;
      /** The 400's code and what it says: the pipe's messages each name their field; a service 400 has details.field. */
      const refused = async (body: Record<string, unknown>) => {
        const r = await schedule({ groupId: g.id, timezone: 'UTC', ...body }).expect(400);
        const messages: string[] = [r.body.message].flat();
        return { code: r.body.code as string, field: r.body.details?.field as string | undefined, messages };
      };
      const pipe = async (body: Record<string, unknown>, field: string, says?: RegExp) => {
        const r = await refused(body);
        expect(r.code).toBe('VALIDATION_FAILED');
        expect(r.messages).toHaveLength(1);
        expect(r.messages[0]).toMatch(new RegExp(`\\b${field}\\b`));
        if (says) expect(r.messages[0]).toMatch(says);
      };
      await pipe({ cron: '61 7 * * *' }, 'cron', /^cron is not a cron expression: Field value \(61\) is out of range/);
      await pipe({ cron: '0 0 7 * * *' }, 'cron', /must have 5 fields/);
      await pipe({ cron: '0 0 30 2 *' }, 'cron', /never fires/);
      await pipe({ days: ['mon', 'funday'], time: '07:45' }, 'days', /one of the following values: sun, mon/);
      await pipe({ days: [], time: '07:45' }, 'days');
      await pipe({ days: ['mon'], time: '24:00' }, 'time', /HH:MM/);
      await pipe({ days: ['mon'], time: '7:45' }, 'time');
      await pipe({ days: ['mon'], time: '07:45', timezone: 'Mars/Olympus' }, 'timezone', /IANA time zone/);
      await pipe({ cron: '0 7 * * *', groupId: 'x' }, 'groupId');
      const noZone = await schedule({ groupId: g.id, cron: '0 7 * * *' }).expect(400);
      expect([noZone.body.message].flat().join(' ')).toMatch(/timezone/);
      expect(await refused({ days: ['mon'], time: '07:45', cron: '0 7 * * *' })).toMatchObject({
        code: 'SCHEDULE_INVALID',
        field: 'days',
        messages: ['give either cron, or days and time, not both'],
      });
      expect((await refused({ days: ['mon'] })).field).toBe('time');
      expect((await refused({ time: '07:45' })).field).toBe('days');
      expect((await refused({})).field).toBe('cron');
      const missing = await schedule({ groupId: '00000000-0000-4000-8000-000000000000', cron: '0 7 * * *', timezone: 'UTC' }).expect(404);
      expect(missing.body).toMatchObject({ code: 'GROUP_NOT_FOUND', details: { field: 'groupId' } });
      expect((await ds.query('SELECT count(*)::int AS n FROM wake_schedules'))[0].n).toBe(before);
    });

    it('PATCH: off clears nextRunAt, on again counts from now; nulls and bad values are 400s; DELETE; a deleted group takes its schedules', async () => {
      const g = await group();
      const s = (await schedule({ groupId: g.id, days: ['sat'], time: '09:00', timezone: 'UTC' }).expect(201)).body;
      const off = await t.http.patch(`/api/v1/wake-schedules/${s.id}`).set(as(operator)).send({ enabled: false }).expect(200);
      expect(off.body).toMatchObject({ enabled: false, nextRunAt: null });
      const on = await t.http
        .patch(`/api/v1/wake-schedules/${s.id}`)
        .set(as(operator))
        .send({ enabled: true, time: '10:30', days: ['sun'] })
        .expect(200);
      expect(on.body).toMatchObject({ enabled: true, cron: '30 10 * * 0', days: ['sun'], time: '10:30' });
      expect(new Date(on.body.nextRunAt).getUTCDay()).toBe(0);
      for (const [body, f] of [
        [{ cron: null }, 'cron'],
        [{ timezone: 'Nowhere/Land' }, 'timezone'],
        [{ time: '10:00' }, 'days'],
        [{ groupId: null }, 'groupId'],
      ] as const) {
        const r = await t.http.patch(`/api/v1/wake-schedules/${s.id}`).set(as(operator)).send(body).expect(400);
        expect(JSON.stringify(r.body)).toContain(f);
      }
      await t.http.delete(`/api/v1/wake-schedules/${s.id}`).set(as(operator)).expect(204);
      await t.http.get(`/api/v1/wake-schedules/${s.id}`).set(as(viewer)).expect(404);
      await t.http.delete(`/api/v1/wake-schedules/${s.id}`).set(as(operator)).expect(404);

      const kept = (await schedule({ groupId: g.id, cron: '0 7 * * *', timezone: 'UTC' }).expect(201)).body;
      await t.http.delete(`/api/v1/client-groups/${g.id}`).set(as(operator)).expect(204);
      await t.http.get(`/api/v1/wake-schedules/${kept.id}`).set(as(viewer)).expect(404);
    });
  });

  describe('the schedule runner', () => {
    const due = async (id: string, agoSeconds: number) =>
      ds.query(`UPDATE wake_schedules SET next_run_at = now() - make_interval(secs => $2) WHERE id = $1`, [id, agoSeconds]);

    it('fires a due run exactly once with two app instances and four runner calls contending for the lock', async () => {
      const second: NestExpressApplication = await createApp(t.config, { logger: false });
      await second.init();
      try {
        const g = await group();
        const member = await makeClient(ds, { groupId: g.id });
        const s = (await schedule({ groupId: g.id, cron: '0 7 * * *', timezone: 'UTC' }).expect(201)).body;
        await due(s.id, 5);
        const runners = [t.app.get(WakeScheduleRunner), second.get(WakeScheduleRunner)];
        const reports = await Promise.all([runners[0], runners[1], runners[0], runners[1]].map((r) => r.runDue()));
        const fired = reports.flatMap((r) => r.fired).filter((f) => f.scheduleId === s.id);
        expect(fired).toHaveLength(1);
        expect(fired[0]).toMatchObject({ groupId: g.id, total: 1, failed: 1 });
        // Again, now: nothing is due any more, on either node.
        const again = await Promise.all(runners.map((r) => r.runDue()));
        expect(again.flatMap((r) => r.fired).filter((f) => f.scheduleId === s.id)).toEqual([]);

        const [row] = await ds.query('SELECT next_run_at, last_run_at, last_run_total, last_run_failed FROM wake_schedules WHERE id = $1', [s.id]);
        expect(new Date(row.next_run_at).getTime()).toBeGreaterThan(Date.now());
        expect([row.last_run_total, row.last_run_failed]).toEqual([1, 1]);
        const runs = await audits('wake-schedules.run', s.id);
        expect(runs).toHaveLength(1);
        expect(runs[0].user_id).toBeNull();
        expect(runs[0].details).toMatchObject({ groupId: g.id, group: g.name, total: 1, sent: 0, failed: 1, clients: [member.id] });
        expect(runs[0].details.problems).toEqual([{ clientId: member.id, hostname: member.hostname, code: 'WAKE_NO_RANGE' }]);
        const shown = await t.http.get(`/api/v1/wake-schedules/${s.id}`).set(as(viewer)).expect(200);
        expect(shown.body).toMatchObject({ lastRunTotal: 1, lastRunFailed: 1, lastRunAt: new Date(row.last_run_at).toISOString() });
        // …and one `wake` event on the live stream (events are written in batches: wait for it, then count).
        const wakeEvents = () => ds.query(`SELECT body FROM events WHERE type = 'wake' AND body->>'scheduleId' = $1`, [s.id]);
        await waitFor('the schedule run as a wake event', async () => ((await wakeEvents()).length > 0 ? true : null), 30_000);
        const events = await wakeEvents();
        expect(events).toHaveLength(1);
        expect(events[0].body).toMatchObject({ trigger: 'schedule', groupId: g.id, total: 1, sent: 0, failed: 1 });
        expect(events[0].body.clients).toEqual([expect.objectContaining({ clientId: member.id, status: 'failed', code: 'WAKE_NO_RANGE' })]);
      } finally {
        await second.close();
      }
    });

    it('skips a run found later than the grace (DLS was down): audited as missed, not fired', async () => {
      const g = await group();
      const s = (await schedule({ groupId: g.id, cron: '0 7 * * *', timezone: 'UTC' }).expect(201)).body;
      await due(s.id, 3600);
      const report = await t.app.get(WakeScheduleRunner).runDue();
      expect(report.fired.filter((f) => f.scheduleId === s.id)).toEqual([]);
      expect(report.missed.map((m) => m.scheduleId)).toContain(s.id);
      const [missed] = await audits('wake-schedules.missed', s.id);
      expect(missed.details).toMatchObject({ groupId: g.id, graceSeconds: 600 });
      expect(missed.details.lateSeconds).toBeGreaterThanOrEqual(3600);
      expect(await audits('wake-schedules.run', s.id)).toEqual([]);
    });

    it('a disabled schedule never fires', async () => {
      const g = await group();
      const s = (await schedule({ groupId: g.id, cron: '0 7 * * *', timezone: 'UTC', enabled: false }).expect(201)).body;
      expect(s.nextRunAt).toBeNull();
      await ds.query(`UPDATE wake_schedules SET next_run_at = now() - interval '5 seconds' WHERE id = $1`, [s.id]);
      const report = await t.app.get(WakeScheduleRunner).runDue();
      expect([...report.fired, ...report.missed].map((f) => f.scheduleId)).not.toContain(s.id);
    });

    it('with DLS_WOL_SCHEDULES on (the default), a node fires a due schedule by itself', async () => {
      const node = await createTestApp();
      try {
        const nds = node.app.get(DataSource);
        const op = await node.tokenFor('operator');
        const g = (
          await node.http
            .post('/api/v1/client-groups')
            .set(as(op))
            .send({ name: unique('room') })
            .expect(201)
        ).body;
        const s = (await node.http.post('/api/v1/wake-schedules').set(as(op)).send({ groupId: g.id, cron: '0 7 * * *', timezone: 'UTC' }).expect(201))
          .body;
        await nds.query(`UPDATE wake_schedules SET next_run_at = now() - interval '1 second' WHERE id = $1`, [s.id]);
        const run = await waitFor(
          'the tick to fire the schedule',
          async () => (await nds.query("SELECT details FROM audit_log WHERE action = 'wake-schedules.run' AND entity_id = $1", [s.id]))[0],
          90_000,
          250,
        );
        expect(run.details).toMatchObject({ groupId: g.id, total: 0 });
      } finally {
        await node.close();
      }
    });
  });
});
