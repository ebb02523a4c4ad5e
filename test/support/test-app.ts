import { NestExpressApplication } from '@nestjs/platform-express';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import request from 'supertest';
import { createApp } from '../../src/bootstrap';
import { AppConfig, loadConfig } from '../../src/config/config.loader';
import { createTestDatabase } from './database';

export const ADMIN = { username: 'admin', password: 'admin-password-1' };

export interface TestApp {
  app: NestExpressApplication;
  config: AppConfig;
  http: ReturnType<typeof request>;
  dataDir: string;
  /** Access token of the bootstrap admin. */
  adminToken: string;
  /** Creates a user with `role` and returns its access token. */
  tokenFor(role: 'admin' | 'operator' | 'viewer'): Promise<string>;
  close(): Promise<void>;
}

/**
 * Boots the whole Nest app on its own database and data dir, with the boot-plane servers off unless `env` turns
 * them on. Env values are passed explicitly (never read from process.env).
 */
export async function createTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dls-e2e-'));
  const config = loadConfig({
    DATABASE_URL: db.url,
    // Every install picks where its state lives (the default ./data depends on the working directory); each test app
    // has its own, as several installs on one host would.
    DLS_DATA_DIR: dataDir,
    // A user sets the first admin's name and password to log in without reading the printed one; the tests log in.
    DLS_ADMIN_USER: ADMIN.username,
    DLS_ADMIN_PASSWORD: ADMIN.password,
    LOG_LEVEL: 'error',
    // API tests run DLS as an API-only control plane (what a user sets on a second admin node): no DHCP, TFTP, tgtd or
    // RAs, so nothing binds on the host's interfaces; boot-plane tests turn them on inside namespaces. The test disks
    // live in a tmp dir whose free space is not the test's subject.
    DLS_DHCP_ENABLED: 'false',
    DLS_TFTP_ENABLED: 'false',
    DLS_ISCSI_ENABLED: 'false',
    DLS_IPV6_RA: 'false',
    DLS_STORAGE_MIN_FREE: '0',
    // Many apps run in one process: none binds the metrics port unless a test asks (127.0.0.1:0).
    DLS_METRICS_ADDRESS: 'off',
    ...env,
  });
  const app = await createApp(config, { logger: false });
  try {
    await app.init();
  } catch (err) {
    // A start the test expects to fail (a refused configuration) leaves nothing running behind it.
    await app.close().catch(() => undefined);
    await db.drop();
    await fs.rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  const http = request(app.getHttpServer());
  const login = async (username: string, password: string) => {
    const r = await request(app.getHttpServer()).post('/api/v1/auth/login').send({ username, password });
    if (r.status !== 200 && r.status !== 201) throw new Error(`login ${username} failed: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.accessToken as string;
  };
  let adminToken = '';
  try {
    adminToken = await login(ADMIN.username, ADMIN.password);
  } catch {
    // the auth module may not be part of this build yet; tests that need it will fail loudly on use
  }
  let n = 0;
  return {
    app,
    config,
    http,
    dataDir,
    adminToken,
    async tokenFor(role) {
      const username = `${role}-${++n}-${process.pid}`;
      const password = 'password-for-' + username;
      const r = await request(app.getHttpServer())
        .post('/api/v1/users')
        .set('Authorization', `Bearer ${adminToken}`)
        .send({ username, password, role });
      if (r.status !== 201) throw new Error(`create user failed: ${r.status} ${JSON.stringify(r.body)}`);
      return login(username, password);
    },
    async close() {
      await app.close();
      await db.drop();
      await stopLeftoverDaemon(dataDir);
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Backstop: the app's qemu-storage-daemon (overlay disks) must be gone after `app.close()`. One was seen still running
 * after a full suite run, its data dir deleted; if this finds one, it says so (the leak is a bug to find) and ends
 * that process, named by the app's pid file and checked against /proc, so no later suite inherits it.
 */
async function stopLeftoverDaemon(dataDir: string): Promise<void> {
  const pidFile = path.join(dataDir, 'storage', 'run', 'qsd.pid');
  const pid = Number((await fs.readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 1) return;
  const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.startsWith('qemu-storage-daemon') || !cmdline.includes(dataDir)) return;
  console.warn(`test app: qemu-storage-daemon pid ${pid} still ran after app.close() (data dir ${dataDir}); killing it`);
  process.kill(pid, 'SIGKILL');
}
