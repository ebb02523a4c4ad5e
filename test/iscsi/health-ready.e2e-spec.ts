/**
 * `/health/ready` with iSCSI enabled and the real tgtd: `tgtd` is a part of readiness; while tgtd does not answer the
 * answer is 503 naming it, and once the supervisor has restarted it (and re-created the exports) it is 200 again.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTestApp, TestApp } from '../support/test-app';
import { LOOPBACK, pickControlPort, pickPortalPort, tgtdPidsFor, waitFor } from './iscsi-test-helpers';

let t: TestApp;
let controlPort: number;

beforeAll(async () => {
  controlPort = pickControlPort(41);
  const port = await pickPortalPort(41);
  // iSCSI on (the test app turns it off), tgtd on a loopback portal and a control port of its own — what a user sets
  // where another tgtd runs — so the test never listens on the host's interfaces.
  t = await createTestApp({ DLS_ISCSI_ENABLED: 'true', DLS_ISCSI_PORTAL: `${LOOPBACK}:${port}`, DLS_TGTD_CONTROL_PORT: String(controlPort) });
});

afterAll(async () => {
  await t?.close();
  expect(await tgtdPidsFor(controlPort)).toEqual([]);
});

describe('/health/ready with the real tgtd', () => {
  it('is 503 naming tgtd while it is down and 200 after the supervisor restarts it', async () => {
    const ok = await t.http.get('/api/v1/health/ready').expect(200);
    const [pid] = await tgtdPidsFor(controlPort);
    expect(ok.body).toMatchObject({
      status: 'ok',
      info: { database: { status: 'up' }, storage: { status: 'up' }, tgtd: { status: 'up', pid, controlPort, managed: true } },
    });
    expect((await readFile(join(t.dataDir, 'tgtd.pid'), 'utf8')).trim()).toBe(String(pid));

    // Down: tgtd stops answering its control socket (frozen), so tgtadm gets no answer.
    process.kill(pid, 'SIGSTOP');
    try {
      const down = await t.http.get('/api/v1/health/ready').expect(503);
      expect(down.body).toMatchObject({
        status: 'error',
        error: { tgtd: { status: 'down', reason: expect.any(String) } },
        info: { database: { status: 'up' } },
      });
      expect(Object.keys(down.body.error)).toEqual(['tgtd']);
    } finally {
      process.kill(pid, 'SIGKILL'); // a crash: the supervisor restarts tgtd and re-creates the exports
    }

    const back = await waitFor(
      async () => {
        const r = await t.http.get('/api/v1/health/ready');
        return r.status === 200 ? r : undefined;
      },
      30_000,
      'ready again',
    );
    expect(back.body.info.tgtd.pid).not.toBe(pid);
    expect(await tgtdPidsFor(controlPort)).toEqual([back.body.info.tgtd.pid]);
  });
});
