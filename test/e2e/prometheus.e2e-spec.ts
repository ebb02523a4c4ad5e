/**
 * A real Prometheus (Debian's `prometheus` package, see .ci/run) scrapes a DLS app that has just seen a simulated
 * client boot; the boot-duration and DHCP series are then read back through Prometheus' query API. Also checks the
 * shipped example config and alerting rules with promtool.
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MetricsServer } from '../../src/modules/metrics';
import { waitFor } from '../net/netns-harness';
import { simulateBoot } from '../support/boot-simulation';
import { createTestApp, TestApp } from '../support/test-app';
import { freePort } from '../support/free-port';

jest.setTimeout(180_000);

const run = promisify(execFile);
const DEPLOY = join(__dirname, '..', '..', 'deploy', 'prometheus');

describe('Prometheus scrapes DLS (e2e)', () => {
  let t: TestApp;
  let dir: string;
  let prom: ChildProcess | undefined;
  let promLog = '';

  beforeAll(async () => {
    // A user picks the metrics address; port 0 because test apps share this host (the default is served in the lab).
    t = await createTestApp({ DLS_METRICS_ADDRESS: '127.0.0.1:0' });
    dir = mkdtempSync(join(tmpdir(), 'dls-prometheus-'));
  });
  afterAll(async () => {
    if (prom?.pid && prom.exitCode === null) {
      const exited = new Promise((r) => prom!.once('exit', r));
      process.kill(prom.pid, 'SIGTERM');
      await exited;
    }
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ships a scrape config and alerting rules that promtool accepts', async () => {
    await run('promtool', ['check', 'config', join(DEPLOY, 'prometheus.yml')]);
    const rules = await run('promtool', ['check', 'rules', join(DEPLOY, 'dls-alerts.yml')]);
    expect(rules.stdout).toMatch(/SUCCESS: 5 rules found/);
  });

  it('sees the boot duration and the DHCP counters of a simulated boot through its query API', async () => {
    const { rangeName } = await simulateBoot(t);
    const target = t.app.get(MetricsServer).bound!;
    const port = await freePort();
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        'scrape_configs:',
        '  - job_name: dls',
        `    static_configs: [{ targets: ['127.0.0.1:${target.port}'] }]`,
        '',
      ].join('\n'),
    );
    prom = spawn(
      'prometheus',
      [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prom.stdout!.on('data', (b: Buffer) => (promLog = (promLog + b.toString()).slice(-8000)));
    prom.stderr!.on('data', (b: Buffer) => (promLog = (promLog + b.toString()).slice(-8000)));

    const query = async (q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
      if (prom!.exitCode !== null) throw new Error(`prometheus exited (${prom!.exitCode}):\n${promLog}`);
      try {
        const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`);
        if (r.status !== 200) return [];
        return ((await r.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data.result;
      } catch {
        return []; // not listening yet
      }
    };
    try {
      const boot = await waitFor(
        'dls_boot_duration_seconds_count in Prometheus',
        async () => {
          const res = await query('dls_boot_duration_seconds_count{job="dls"}');
          return res.length ? res : null;
        },
        60_000,
        250,
      );
      expect(Number(boot[0].value[1])).toBe(1);
      const dhcp = await waitFor(
        'dls_dhcp_packets_total in Prometheus',
        async () => {
          const res = await query(`dls_dhcp_packets_total{type="discover",outcome="offer",range="${rangeName}"}`);
          return res.length ? res : null;
        },
        30_000,
        250,
      );
      expect(Number(dhcp[0].value[1])).toBe(1);
      const up = await query('up{job="dls"}');
      expect(up[0]?.value[1]).toBe('1');
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- prometheus ---\n${promLog}`, { cause: e });
    }
  });
});
