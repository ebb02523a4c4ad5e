import { DataSource } from 'typeorm';
import { clientBody, makeImage } from '../factories';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(600_000);

const CLIENTS = 10_000;
const BATCH = 1000;
/** Generous: the point is "one request, a fixed number of queries", not a benchmark on a shared 2-core machine. */
const DEADLINE_MS = 15_000;

describe('GET /api/v1/room with 10,000 clients (e2e)', () => {
  let t: TestApp;
  let ds: DataSource;

  beforeAll(async () => {
    t = await createTestApp();
    ds = t.app.get(DataSource);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers every client in one request', async () => {
    const as = { Authorization: `Bearer ${t.adminToken}` };
    const img = await makeImage(ds);
    const started = Date.now();
    for (let b = 0; b < CLIENTS / BATCH; b++) {
      const rows = Array.from({ length: BATCH }, (_, i) =>
        clientBody({ hostname: `pc-${String(b * BATCH + i).padStart(5, '0')}`, assignedImageId: img.id }),
      );
      await t.http.post('/api/v1/clients/bulk').set(as).send(rows).expect(201);
    }
    // A history for every client (a finished boot) and an open session, at various stages, for every fifth.
    await ds.query(
      `INSERT INTO boot_sessions (client_id, image_id, status, started_at, ended_at, boot_time_seconds, running_at)
       SELECT id, $1, 'shutdown', now() - interval '2 hours', now() - interval '1 hour', 20, now() - interval '2 hours' + interval '20 seconds'
         FROM clients`,
      [img.id],
    );
    await ds.query(
      `INSERT INTO boot_sessions (client_id, image_id, status, started_at, dhcp_at, loader_at, script_at)
       SELECT id, $1, CASE WHEN n % 2 = 0 THEN 'starting' ELSE 'booting' END, now(), now(),
              CASE WHEN n % 2 = 1 THEN now() END, CASE WHEN n % 4 = 3 THEN now() END
         FROM (SELECT id, row_number() OVER (ORDER BY hostname) AS n FROM clients) c WHERE n % 5 = 0`,
      [img.id],
    );
    process.stdout.write(`room-10k: registered ${CLIENTS} clients and their sessions in ${Date.now() - started} ms\n`);

    const timings: number[] = [];
    let body: any;
    for (let i = 0; i < 3; i++) {
      const t0 = process.hrtime.bigint();
      const r = await t.http.get('/api/v1/room').set(as).expect(200);
      timings.push(Number(process.hrtime.bigint() - t0) / 1e6);
      body = r.body;
    }
    process.stdout.write(
      `room-10k: GET /api/v1/room for ${CLIENTS} clients: ${timings.map((ms) => ms.toFixed(0)).join(' / ')} ms (cold / warm / warm), ` +
        `${Buffer.byteLength(JSON.stringify(body))} bytes\n`,
    );

    expect(body.clients).toHaveLength(CLIENTS);
    expect(body.clients[0].hostname).toBe('pc-00000');
    expect(body.clients[CLIENTS - 1].hostname).toBe('pc-09999');
    const states = new Map<string, number>();
    for (const c of body.clients) states.set(c.state, (states.get(c.state) ?? 0) + 1);
    expect(Object.fromEntries(states)).toEqual({ off: 8000, dhcp: 1000, loader: 500, script: 500 });
    expect(body.clients.every((c: any) => c.imageId === img.id && c.lastBootSeconds === 20)).toBe(true);
    expect(Math.min(...timings)).toBeLessThan(DEADLINE_MS);
  });
});
