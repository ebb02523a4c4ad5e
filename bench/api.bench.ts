/**
 * API hot-path benchmark: `GET /api/v1/clients/by-mac/:mac` against `GET /api/v1/health/live` (the floor: guardless,
 * no database) on the same app, same process, same run.
 *
 *   npx ts-node --transpile-only bench/api.bench.ts [seconds=10] [connections=50]
 *
 * Starts the whole app on its own embedded PostgreSQL under a temporary data dir, inserts 10,000 clients in one
 * statement, logs in as admin and drives both routes with autocannon. Targets: by-mac p99 < 10 ms and
 * by-mac/health req/s >= 0.6. Everything it started (app, embedded PostgreSQL, temp dir) is stopped/removed at the end.
 */
import 'reflect-metadata';
import autocannon from 'autocannon';
import { promises as fs } from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { createApp } from '../src/bootstrap';
import { loadConfig } from '../src/config/config.loader';

const CLIENTS = 10_000;
const DURATION = Number(process.argv[2] ?? 10);
const CONNECTIONS = Number(process.argv[3] ?? 50);
const ADMIN = { username: 'admin', password: 'bench-admin-password' };
const TARGET_P99_MS = 10;
const TARGET_RATIO = 0.6;

function macOf(i: number): string {
  const hex = (0x5254_0000_0000 + i).toString(16).padStart(12, '0');
  return hex.match(/../g)!.join(':');
}

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function drive(url: string, opts: Partial<autocannon.Options>, seconds: number): Promise<Figures> {
  const r = await autocannon({ url, connections: CONNECTIONS, duration: seconds, pipelining: 1, workers: 1, ...opts });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors + r.timeouts };
}

async function main(): Promise<void> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dls-bench-'));
  const config = loadConfig({
    // Its own data dir (a user picks one), loopback only, and the first admin's password chosen so the bench can log in.
    DLS_DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: '3000', // not bound: the bench listens on an ephemeral port itself (app.listen(0) below)
    DLS_ADMIN_USER: ADMIN.username,
    DLS_ADMIN_PASSWORD: ADMIN.password,
    LOG_LEVEL: 'error',
    // An API-only control plane, as a user runs a second admin node: the bench measures the API, not the boot plane,
    // and nothing may bind on the host's interfaces. Its disks live in a tmp dir whose free space is not the subject.
    DLS_DHCP_ENABLED: 'false',
    DLS_TFTP_ENABLED: 'false',
    DLS_ISCSI_ENABLED: 'false',
    DLS_IPV6_RA: 'false',
    DLS_STORAGE_MIN_FREE: '0',
  });
  const app = await createApp(config, { logger: false });
  try {
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    const base = `http://127.0.0.1:${port}`;

    const ds = app.get(DataSource);
    const t0 = Date.now();
    const macs = Array.from({ length: CLIENTS }, (_, i) => macOf(i));
    await ds.query('INSERT INTO clients (mac_address, hostname) SELECT m, h FROM unnest($1::varchar[], $2::varchar[]) AS t(m, h)', [
      macs,
      macs.map((_, i) => `bench-${i}`),
    ]);
    await ds.query('ANALYZE clients');
    console.log(`inserted ${CLIENTS} clients in ${Date.now() - t0} ms`);

    const login = await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ADMIN),
    });
    if (!login.ok) throw new Error(`login failed: ${login.status} ${await login.text()}`);
    const { accessToken } = (await login.json()) as { accessToken: string };

    const check = await fetch(`${base}/api/v1/clients/by-mac/${macs[42].replace(/:/g, '-')}`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    if (check.status !== 200) throw new Error(`by-mac sanity check failed: ${check.status} ${await check.text()}`);

    const byMacOpts: Partial<autocannon.Options> = {
      headers: { authorization: `Bearer ${accessToken}` },
      // 2,000 random known MACs; each connection cycles through them. Plain data (no setupRequest function) so the
      // load generator can run in a worker thread instead of competing with the app for this event loop.
      requests: Array.from({ length: 2000 }, () => ({
        method: 'GET' as const,
        path: `/api/v1/clients/by-mac/${macs[(Math.random() * CLIENTS) | 0]}`,
      })),
    };
    // Short warm-ups (JIT, connection pool, principal cache), not counted.
    await drive(`${base}/api/v1/health/live`, {}, 2);
    await drive(`${base}/api/v1/clients/by-mac/${macs[0]}`, byMacOpts, 2);

    const health = await drive(`${base}/api/v1/health/live`, {}, DURATION);
    const byMac = await drive(`${base}/api/v1/clients/by-mac/${macs[0]}`, byMacOpts, DURATION);

    const row = (name: string, f: Figures) =>
      `${name.padEnd(34)} ${f.rps.toFixed(0).padStart(8)} req/s   p50 ${String(f.p50).padStart(4)} ms   p99 ${String(f.p99).padStart(4)} ms   non-2xx ${f.non2xx}   errors ${f.errors}`;
    const ratio = byMac.rps / health.rps;
    console.log(`\n${DURATION} s each, ${CONNECTIONS} connections, ${os.cpus().length} CPUs`);
    console.log(row('GET /api/v1/health/live', health));
    console.log(row('GET /api/v1/clients/by-mac/:mac', byMac));
    console.log(`ratio by-mac/health req/s: ${ratio.toFixed(2)} (target >= ${TARGET_RATIO})`);
    const ok = byMac.p99 < TARGET_P99_MS && ratio >= TARGET_RATIO && byMac.non2xx === 0 && byMac.errors === 0;
    console.log(`by-mac p99 ${byMac.p99} ms (target < ${TARGET_P99_MS} ms) → ${ok ? 'PASS' : 'FAIL'}`);
    process.exitCode = ok ? 0 : 1;
  } finally {
    await app.close(); // also stops the embedded PostgreSQL it started
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
