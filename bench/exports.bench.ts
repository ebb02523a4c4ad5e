/**
 * iSCSI export creation in a boot storm: how long DLS takes to make N clients' first exports, all requested at once.
 *
 *   npm run bench:exports -- [--exports 200] [--runs 3]
 *
 * One tgtd on 127.0.0.1 (own control port, unusual portal port) per run. DLS: IscsiExportsService (in-memory stand-in
 * for its table) over the real TgtExporter/TgtAdmAdapter, N concurrent first `ensureExport`s with a boot session each
 * (tid allocation, target, LUN 1 with its SCSI identity, CHAP account, binding, ACL). Reference: the same exports made
 * by the shortest hand-written sequence of `tgtadm` calls (target new, LUN new, LUN update, account new, account
 * bind, ACL bind), one export after another. Prints ms per export per run, medians and the DLS/reference ratio.
 * Load is bounded: N ≤ 2000 sparse 1 MiB files, each run killed after 10 min. Take /tmp/dls-heavy-tests.lock
 * (the npm script does) so benches don't measure each other.
 */
import { Logger } from '@nestjs/common';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../src/config/config.loader';
import { IscsiExportsService } from '../src/modules/iscsi/iscsi-exports.service';
import { MemoryExports } from '../src/modules/iscsi/testing/memory-exports';
import { TgtAdmAdapter } from '../src/modules/iscsi/tgt.adapter';
import { TgtExporter } from '../src/modules/iscsi/tgt-exporter';
import { TgtdSupervisor } from '../src/modules/iscsi/tgtd.supervisor';
import { LOOPBACK, pickControlPort, pickPortalPort } from '../test/iscsi/iscsi-test-helpers';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

function tgtadm(cp: number, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('tgtadm', ['-C', String(cp), '--lld', 'iscsi', ...args], (err, _o, stderr) =>
      err ? reject(new Error(`tgtadm ${args.join(' ')}: ${stderr}`)) : resolve(),
    );
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const clientId = (i: number): string => `${String(i).padStart(8, '0')}-be0c-4000-8000-000000000000`;

async function oneRun(kind: 'dls' | 'reference', n: number, salt: number): Promise<number> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), `dls-exports-bench-${process.pid}-`));
  const port = await pickPortalPort(salt);
  const controlPort = pickControlPort(salt);
  const adapter = new TgtAdmAdapter({ controlPort, timeoutMs: 30_000 });
  const supervisor = new TgtdSupervisor({ controlPort, portal: { address: LOOPBACK, port }, adapter, nopInterval: 5, nopCount: 3 });
  const disks: string[] = [];
  for (let i = 0; i < n; i++) {
    disks.push(path.join(dir, `disk-${i}.raw`));
    await fsp.writeFile(disks[i], '');
    await fsp.truncate(disks[i], 1024 * 1024);
  }
  const repo = new MemoryExports();
  const config = loadConfig({ DLS_DATA_DIR: path.join(dir, 'data'), DLS_ISCSI_PORTAL: `${LOOPBACK}:${port}` });
  const service = new IscsiExportsService(config, repo.asRepository(), supervisor, new TgtExporter({ adapter }), undefined, repo);
  const watchdog = setTimeout(() => {
    console.error('run exceeded 10 min; aborting');
    process.exit(2);
  }, 600_000);
  try {
    let ms: number;
    if (kind === 'dls') {
      await service.onApplicationBootstrap();
      const t0 = performance.now();
      await Promise.all(
        disks.map((d, i) => service.ensureExport(clientId(i), d, { sessionId: `b0000000-0000-4000-8000-${String(i).padStart(12, '0')}` })),
      );
      ms = performance.now() - t0;
    } else {
      await supervisor.start();
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const tid = String(i + 1);
        const user = `dls-${clientId(i).replace(/-/g, '').slice(0, 16)}`;
        await tgtadm(controlPort, ['--mode', 'target', '--op', 'new', '--tid', tid, '--targetname', `iqn.2026-11.io.dls:client-${clientId(i)}`]);
        await tgtadm(controlPort, [
          '--mode',
          'logicalunit',
          '--op',
          'new',
          '--tid',
          tid,
          '--lun',
          '1',
          '--backing-store',
          disks[i],
          '--bstype',
          'rdwr',
        ]);
        await tgtadm(controlPort, [
          '--mode',
          'logicalunit',
          '--op',
          'update',
          '--tid',
          tid,
          '--lun',
          '1',
          '--params',
          `lbppbe=3,scsi_sn=DLS${i},scsi_id=DLS${i}`,
        ]);
        await tgtadm(controlPort, ['--mode', 'account', '--op', 'new', '--user', user, '--password', 'Secret0123456789']);
        await tgtadm(controlPort, ['--mode', 'account', '--op', 'bind', '--tid', tid, '--user', user]);
        await tgtadm(controlPort, [
          '--mode',
          'target',
          '--op',
          'bind',
          '--tid',
          tid,
          '--initiator-name',
          `iqn.2026-11.io.dls:initiator-${clientId(i)}`,
        ]);
      }
      ms = performance.now() - t0;
    }
    const targets = await adapter.showTargets();
    if (targets.length !== n) throw new Error(`${kind}: tgtd exports ${targets.length} targets, expected ${n}`);
    return ms / n;
  } finally {
    clearTimeout(watchdog);
    await (kind === 'dls' ? service.onApplicationShutdown() : supervisor.stop());
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error']);
  const n = Math.min(2000, Math.max(1, Number(arg('--exports', '200'))));
  const runs = Math.min(10, Math.max(1, Number(arg('--runs', '3'))));
  const res: Record<'dls' | 'reference', number[]> = { dls: [], reference: [] };
  for (let r = 0; r < runs; r++) {
    for (const kind of ['reference', 'dls'] as const) {
      const ms = await oneRun(kind, n, 31 + r);
      res[kind].push(ms);
      console.log(`run ${r + 1} ${kind}: ${n} exports, ${ms.toFixed(1)} ms/export (${((ms * n) / 1000).toFixed(1)} s)`);
    }
  }
  const dls = median(res.dls);
  const ref = median(res.reference);
  console.log(
    `median of ${runs}: DLS ${dls.toFixed(1)} ms/export (1,000 exports ≈ ${dls.toFixed(0)} s), reference (sequential tgtadm) ${ref.toFixed(1)} ms/export, DLS/reference ${(dls / ref).toFixed(2)}`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
