/**
 * Issue 9 item 4, with a real kill: the built server is killed with SIGKILL while a chunked upload is streaming into
 * its staging area, then started again on the same data directory. The second start must find the image failed
 * ("interrupted"), its staging file gone and nothing left for reconcile to report; the image can be uploaded again.
 * The embedded PostgreSQL the killed process left running (its postmaster outlives a SIGKILLed parent) must not stop
 * the second start either.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDls, pickControlPort, repoRoot } from '../boot/dls-lab';
import { removeEmbeddedPostgres } from '../support/leftovers';
import { waitFor } from '../support/zfs-fuse';
import { DlsProcess, exitWithin, freeTcpPort, spawnDls, waitUntilReady } from './dls-process';

const MiB = 1024 * 1024;
const PASSWORD = 'kill-test-Ve7#qLx9-pass';

describe('kill -9 during an upload (built server, real process)', () => {
  const root = repoRoot();
  let dataDir: string;
  let port: number;
  let env: Record<string, string>;
  const running: DlsProcess[] = [];

  beforeAll(async () => {
    await buildDls();
    dataDir = mkdtempSync(join(tmpdir(), 'dls-kill-'));
    port = await freeTcpPort();
    env = {
      HOST: '127.0.0.1',
      PORT: String(port),
      DLS_DATA_DIR: dataDir, // the restart must find the killed run's data: a user keeps one data dir too
      // The test logs in as the first admin, so it chooses that password (a user reads the printed one instead).
      DLS_ADMIN_PASSWORD: PASSWORD,
      // Private tgtd control port and portal: other tgtds (the host's, concurrent suites) use the defaults 213/3260.
      DLS_TGTD_CONTROL_PORT: String(pickControlPort()),
      DLS_ISCSI_PORTAL: `127.0.0.1:${await freeTcpPort()}`,
    };
  }, 600_000);

  afterAll(async () => {
    // SIGTERM: a clean stop also ends the tgtd the second start took over from the killed one.
    for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
    for (const p of running) await exitWithin(p, 60_000).catch(() => undefined);
    if (dataDir) {
      await removeEmbeddedPostgres(dataDir);
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);

  async function start(): Promise<DlsProcess> {
    const dls = spawnDls(join(root, 'dist', 'src', 'main.js'), { cwd: root, env });
    running.push(dls);
    await waitUntilReady(dls, port);
    return dls;
  }

  async function api(method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; body: any }> {
    const r = await fetch(`http://127.0.0.1:${port}/api/v1${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  }

  async function login(): Promise<string> {
    const r = await api('POST', '/auth/login', undefined, { username: 'admin', password: PASSWORD });
    expect(r.status).toBe(200);
    return r.body.accessToken as string;
  }

  const stagingDir = (imageId: string) => join(dataDir, 'storage', 'images', imageId, '.staging');
  const stagingFiles = (imageId: string) => (existsSync(stagingDir(imageId)) ? readdirSync(stagingDir(imageId)) : []);

  it('the next start marks the upload failed and removes its staging file; reconcile finds nothing; it uploads again', async () => {
    const first = await start();
    let token = await login();
    const created = await api('POST', '/images', token, { name: `killed-${randomBytes(3).toString('hex')}`, sizeBytes: 64 * MiB, format: 'raw' });
    expect(created.status).toBe(201);
    const id = created.body.id as string;

    // A chunked upload (no Content-Length) that sends 4 MiB and then keeps the request open, as a slow client does.
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: 'PUT',
      path: `/api/v1/images/${id}/content?format=raw`,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' },
    });
    req.on('error', () => undefined); // the server is about to die under it
    for (let i = 0; i < 4; i++) req.write(randomBytes(MiB));
    await waitFor(async () => (await api('GET', `/images/${id}`, token)).body.contentStatus === 'importing', 60_000, 'the upload to start');
    await waitFor(async () => stagingFiles(id).length > 0, 60_000, 'a staging file');

    first.child.kill('SIGKILL');
    const gone = await exitWithin(first, 30_000);
    expect(gone.signal).toBe('SIGKILL');
    req.destroy();
    expect(stagingFiles(id).length).toBeGreaterThan(0); // the debris the kill left

    await start();
    token = await login();
    const img = (await api('GET', `/images/${id}`, token)).body;
    expect(img).toMatchObject({ contentStatus: 'failed', contentProgress: null });
    expect(img.contentError).toMatch(/interrupted/);
    expect(stagingFiles(id)).toEqual([]);
    const reconcile = await api('POST', '/storage/reconcile', token, {});
    expect(reconcile.status).toBe(200);
    expect(reconcile.body.orphans).toEqual([]);

    const again = await fetch(`http://127.0.0.1:${port}/api/v1/images/${id}/content?format=raw`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body: new Uint8Array(2 * MiB),
    });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { contentStatus: string }).contentStatus).toBe('ready');
  }, 600_000);
});
