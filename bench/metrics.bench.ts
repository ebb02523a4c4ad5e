/**
 * `/metrics` scrape time with 10,000 clients: each client with a bound DHCP lease and a boot session (a tenth open),
 * over two ranges. Scrapes the real listener (DLS_METRICS_ADDRESS=127.0.0.1:0) cold — the scrape-time snapshot
 * (database, storage, readiness) expired, as for a Prometheus scraping less often than every 5 s — and warm (snapshot
 * cached). Target: cold p50 < 50 ms.
 *
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/metrics.bench.ts [scrapes=30]
 */
import 'reflect-metadata';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { createApp } from '../src/bootstrap';
import { loadConfig } from '../src/config/config.loader';
import { MetricsServer } from '../src/modules/metrics';
import { ScrapeGauges } from '../src/modules/metrics/scrape-gauges';
import { makeImage } from '../test/factories';

const CLIENTS = 10_000;
const SCRAPES = Number(process.argv[2] ?? 30);
const TARGET_COLD_P50_MS = 50;

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];

async function main(): Promise<void> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dls-bench-metrics-'));
  const config = loadConfig({
    // Its own data dir (a user picks one), and the first admin's password chosen so the bench can log in.
    DLS_DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: '3000', // not bound: the bench listens on an ephemeral port itself (app.listen(0) below)
    DLS_ADMIN_PASSWORD: 'bench-admin-password',
    LOG_LEVEL: 'error',
    // An API-only control plane, as a user runs a second admin node: the bench measures the API, not the boot plane,
    // and nothing may bind on the host's interfaces. Its disks live in a tmp dir whose free space is not the subject.
    DLS_DHCP_ENABLED: 'false',
    DLS_TFTP_ENABLED: 'false',
    DLS_ISCSI_ENABLED: 'false',
    DLS_IPV6_RA: 'false',
    DLS_STORAGE_MIN_FREE: '0',
    // A user picks the metrics address too; port 0 because the host's 9464 may be taken by another run.
    DLS_METRICS_ADDRESS: '127.0.0.1:0',
  });
  const app = await createApp(config, { logger: false });
  try {
    await app.init();
    const ds = app.get(DataSource);
    const t0 = Date.now();
    const imageId = (await makeImage(ds)).id;
    await ds.query(
      `INSERT INTO network_ranges (name, cidr, dhcp_mode, interface) VALUES ('room-a', '10.10.0.0/18', 'full', 'br-a'), ('room-b', '10.10.64.0/18', 'full', 'br-b')`,
    );
    const ranges = await ds.query<{ id: string }[]>(`SELECT id FROM network_ranges ORDER BY name`);
    await ds.query(
      `INSERT INTO clients (mac_address, hostname, assigned_image_id)
       SELECT lpad(to_hex(i), 12, '0'), 'bench-' || i, $1 FROM generate_series(1, $2) AS i`,
      [imageId, CLIENTS],
    );
    await ds.query(`UPDATE clients SET mac_address = regexp_replace(mac_address, '(..)(?!$)', '\\1:', 'g')`);
    await ds.query(
      `INSERT INTO dhcp_leases (range_id, ip, mac, client_id, state, expires_at)
       SELECT CASE WHEN n % 2 = 0 THEN $1::uuid ELSE $2::uuid END,
              CASE WHEN n % 2 = 0 THEN '10.10.0.0'::inet + 2 + n / 2 ELSE '10.10.64.0'::inet + 2 + n / 2 END,
              c.mac_address, c.id, 'bound', now() + interval '1 hour'
         FROM (SELECT id, mac_address, row_number() OVER (ORDER BY id) AS n FROM clients) c`,
      [ranges[0].id, ranges[1].id],
    );
    await ds.query(
      `INSERT INTO boot_sessions (client_id, image_id, status, ended_at)
       SELECT id, $1, CASE WHEN n % 10 = 0 THEN 'running' ELSE 'shutdown' END, CASE WHEN n % 10 = 0 THEN NULL ELSE now() END
         FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM clients) c`,
      [imageId],
    );
    await ds.query('ANALYZE');
    console.log(`inserted ${CLIENTS} clients, leases and boot sessions in ${Date.now() - t0} ms`);

    const { port } = app.get(MetricsServer).bound!;
    const gauges: { cached: unknown } = app.get<ScrapeGauges, { cached: unknown }>(ScrapeGauges);
    const scrape = async (cold: boolean): Promise<{ ms: number; text: string }> => {
      if (cold) gauges.cached = null;
      const s = process.hrtime.bigint();
      const r = await fetch(`http://127.0.0.1:${port}/metrics`);
      const text = await r.text();
      if (r.status !== 200) throw new Error(`scrape: ${r.status} ${text}`);
      return { ms: Number(process.hrtime.bigint() - s) / 1e6, text };
    };
    const first = await scrape(true);
    if (!/dls_dhcp_leases\{range="room-a",state="bound"\} 5000/.test(first.text))
      throw new Error('unexpected lease gauge:\n' + first.text.slice(0, 3000));
    for (let i = 0; i < 5; i++) await scrape(true); // warm-up
    const cold: number[] = [];
    const warm: number[] = [];
    for (let i = 0; i < SCRAPES; i++) cold.push((await scrape(true)).ms);
    for (let i = 0; i < SCRAPES; i++) warm.push((await scrape(false)).ms);
    console.log(`/metrics: ${first.text.length} bytes, ${first.text.split('\n').filter((l) => l && !l.startsWith('#')).length} samples`);
    console.log(
      `cold (snapshot refreshed) p50 ${pct(cold, 50).toFixed(1)} ms  p95 ${pct(cold, 95).toFixed(1)} ms  max ${Math.max(...cold).toFixed(1)} ms`,
    );
    console.log(
      `warm (snapshot cached)    p50 ${pct(warm, 50).toFixed(1)} ms  p95 ${pct(warm, 95).toFixed(1)} ms  max ${Math.max(...warm).toFixed(1)} ms`,
    );
    const ok = pct(cold, 50) < TARGET_COLD_P50_MS;
    console.log(`cold p50 target < ${TARGET_COLD_P50_MS} ms → ${ok ? 'PASS' : 'FAIL'}`);
    process.exitCode = ok ? 0 : 1;
  } finally {
    await app.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

void main();
