import { DataSource } from 'typeorm';
import { makeClient, makeImage, makeSession as makeSessionRow } from '../factories';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(120_000);

// A window of its own, far from "now", so sessions other specs or tests write do not count.
const T0 = Date.parse('2025-03-01T00:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000);
const ms = (s: number) => s * 1000;

describe('GET /api/v1/boot-sessions/stats (e2e)', () => {
  let t: TestApp;
  let ds: DataSource;
  let viewer: string;
  const stats = (qs: string) => t.http.get(`/api/v1/boot-sessions/stats${qs}`).set('Authorization', `Bearer ${viewer}`);

  beforeAll(async () => {
    t = await createTestApp();
    ds = t.app.get(DataSource);
    viewer = await t.tokenFor('viewer');
    const img = await makeImage(ds);
    const client = () => makeClient(ds, { assignedImageId: img.id });
    // Reached running: boot times 4, 12, 25 s (buckets ≤5, ≤15, ≤30), with stages one second apart for the first.
    const runs = [
      { start: 0, stages: [0, 1, 2, 3], run: 4 },
      { start: 100, stages: [0, 3, 5, 9], run: 12 },
      { start: 200, stages: [null, null, 10, 20], run: 25 },
    ];
    for (const r of runs) {
      const [d, l, s, i] = r.stages.map((x) => (x === null ? null : at(r.start + x)));
      await makeSession(await client(), {
        status: 'shutdown',
        startedAt: at(r.start),
        dhcpAt: d,
        loaderAt: l,
        scriptAt: s,
        iscsiLoginAt: i,
        runningAt: at(r.start + r.run),
        endedAt: at(r.start + 500),
        bootTimeSeconds: r.run,
      });
    }
    await makeSession(await client(), { status: 'error', startedAt: at(300), endedAt: at(400), errorMessage: 'x', dhcpAt: at(300) });
    await makeSession(await client(), { status: 'starting', startedAt: at(3600 * 30) }); // outside the first day
    // Long ago, and running now (counts in `running` whatever the window).
    await makeSession(await client(), { status: 'running', startedAt: at(-3600), runningAt: at(-3590), bootTimeSeconds: 300 });
  });
  afterAll(async () => {
    await t?.close();
  });

  function makeSession(c: Awaited<ReturnType<typeof makeClient>>, over: Record<string, unknown>) {
    return makeSessionRow(ds, c, over);
  }

  it('counts boots, errors and running sessions, and gives boot-time percentiles, histogram and stage medians', async () => {
    const r = await stats(`?from=${at(0).toISOString()}&to=${at(86_400).toISOString()}`).expect(200);
    const running = (await ds.query(`SELECT count(*)::int AS n FROM boot_sessions WHERE status = 'running'`))[0].n;
    expect(r.body).toMatchObject({ from: at(0).toISOString(), to: at(86_400).toISOString(), boots: 4, errors: 1, running });
    expect(running).toBeGreaterThanOrEqual(1);
    expect(r.body.bootTime.p50).toBe(12);
    expect(r.body.bootTime.p90).toBeCloseTo(12 + 0.8 * 13, 5); // percentile_cont between 12 and 25
    expect(r.body.bootTime.buckets).toEqual([
      { upToSeconds: 5, count: 1 },
      { upToSeconds: 10, count: 0 },
      { upToSeconds: 15, count: 1 },
      { upToSeconds: 20, count: 0 },
      { upToSeconds: 30, count: 1 },
      { upToSeconds: 45, count: 0 },
      { upToSeconds: 60, count: 0 },
      { upToSeconds: 90, count: 0 },
      { upToSeconds: 120, count: 0 },
      { upToSeconds: 180, count: 0 },
      { upToSeconds: null, count: 0 },
    ]);
    expect(r.body.stageMedians).toEqual({
      dhcpToLoaderMs: ms(2), // 1 s and 3 s
      loaderToScriptMs: ms(1.5), // 1 s and 2 s
      scriptToIscsiMs: ms(4), // 1, 4, 10 s
      iscsiToRunningMs: ms(3), // 1, 3, 5 s
      totalMs: ms(12), // 4, 12, 25 s
    });
  });

  it('answers nulls and zeros for a window without boots, and defaults to the 24 hours before `to`', async () => {
    const empty = await stats(`?from=${at(-86_400 * 10).toISOString()}&to=${at(-86_400 * 9).toISOString()}`).expect(200);
    expect(empty.body).toMatchObject({ boots: 0, errors: 0, bootTime: { p50: null, p90: null } });
    expect(empty.body.bootTime.buckets.every((b: { count: number }) => b.count === 0)).toBe(true);
    expect(Object.values(empty.body.stageMedians)).toEqual([null, null, null, null, null]);

    const byTo = await stats(`?to=${at(86_400).toISOString()}`).expect(200);
    expect(byTo.body).toMatchObject({ from: at(0).toISOString(), boots: 4 });
    const now = await stats('').expect(200);
    expect(Date.parse(now.body.to) - Date.parse(now.body.from)).toBe(86_400_000);
    expect(Math.abs(Date.parse(now.body.to) - Date.now())).toBeLessThan(60_000);
  });

  it('refuses bad input with a 400 naming the field', async () => {
    const bad = await stats('?from=yesterday').expect(400);
    expect(bad.body.code).toBe('VALIDATION_FAILED');
    expect(bad.body.message).toEqual([expect.stringMatching(/^from /)]);
    const badTo = await stats('?to=2026-13-01T00:00:00Z').expect(400);
    expect(badTo.body.message).toEqual([expect.stringMatching(/^to /)]);
    const reversed = await stats(`?from=${at(10).toISOString()}&to=${at(0).toISOString()}`).expect(400);
    expect(reversed.body).toMatchObject({ code: 'INVALID_TIME_RANGE', details: { field: 'from' } });
    const tooLong = await stats(`?from=${at(0).toISOString()}&to=${at(367 * 86_400).toISOString()}`).expect(400);
    expect(tooLong.body).toMatchObject({ code: 'INVALID_TIME_RANGE', details: { field: 'from' } });
    expect(tooLong.body.message).toContain('366 days');
    await stats(`?from=${at(0).toISOString()}&to=${at(366 * 86_400).toISOString()}`).expect(200);
    const unknown = await stats('?bogus=1').expect(400);
    expect(unknown.body.code).toBe('VALIDATION_FAILED');
  });

  it('needs a token', async () => {
    await t.http.get('/api/v1/boot-sessions/stats').expect(401);
  });
});
