/**
 * iSCSI throughput of a client disk against the raw file it was made from, exported directly.
 *
 *   npm run bench:iscsi -- [--runs 3] [--mib 512] [--clone overlay|copy|auto] [--dir-root /abs]
 *
 * One tgtd on 127.0.0.1 (own control port, unusual portal port) exports two LUNs:
 * - reference: a raw file holding the version's bytes (what tgt serves with no storage layer in between);
 * - client: a client disk of that version made by the dir driver with README defaults (on ext4: a qcow2 overlay
 *   served through qemu-storage-daemon's FUSE export).
 * The initiator is qemu-img bench over QEMU's iSCSI driver (libiscsi): sequential 1 MiB requests, queue depth 16, over
 * `--mib` of the disk, read then write, alternating reference/client per run. A fresh client disk per write run, so
 * writes pay the overlay's cluster allocation like a booted client's first writes do. Prints MB/s per run, medians
 * and client/reference ratios (target >= 0.7). Takes /tmp/dls-heavy-tests.lock so benches don't measure each other.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DirCloneSetting, DirStorageDriver } from '../src/modules/storage/dir.driver';
import { TgtAdmAdapter } from '../src/modules/iscsi/tgt.adapter';
import { ExportSpec, TgtExporter } from '../src/modules/iscsi/tgt-exporter';
import { TgtdSupervisor } from '../src/modules/iscsi/tgtd.supervisor';
import { LOOPBACK, pickControlPort, pickPortalPort } from '../test/iscsi/iscsi-test-helpers';

const MiB = 1024 * 1024;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

function run(cmd: string, args: string[], timeoutS = 300): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('timeout', ['-s', 'KILL', String(timeoutS), cmd, ...args], { maxBuffer: 8 * MiB }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
  const runs = Number(arg('--runs', '3'));
  const mib = Number(arg('--mib', '512'));
  const clone = arg('--clone', 'auto') as DirCloneSetting;
  const base = arg('--dir-root', os.tmpdir());
  const root = path.join(base, `dls-disk-io-${process.pid}`);
  await fsp.mkdir(root, { recursive: true });
  const driver = new DirStorageDriver({ root, clone });
  const port = await pickPortalPort(77);
  const controlPort = pickControlPort(77);
  const adapter = new TgtAdmAdapter({ controlPort, timeoutMs: 30_000 });
  const supervisor = new TgtdSupervisor({ controlPort, portal: { address: LOOPBACK, port }, adapter });
  const exporter = new TgtExporter({ adapter });
  try {
    await driver.init();
    const imageId = randomUUID();
    const versionId = randomUUID();
    const disk = await driver.ensureImage(imageId);
    // A 4 GiB disk whose first `mib` MiB are random data (what the read runs read).
    const fh = await fsp.open(disk, 'w');
    await fh.truncate(4096 * MiB);
    for (let i = 0; i < mib; i++) await fh.write(randomBytes(MiB), 0, MiB, i * MiB);
    await fh.sync();
    await fh.close();
    const version = (await driver.createVersion(imageId, versionId)).ref;
    const reference = path.join(root, 'reference.raw');
    await run('cp', ['--sparse=always', version, reference]);
    await fsp.chmod(reference, 0o644);
    await supervisor.start();
    const method = (await driver.status()).cloneMethod;
    console.log(`dir driver on ${root} (${(await run('stat', ['-f', '-c', '%T', root])).out.trim()}), client disks: ${method}`);

    let tid = 0;
    const exportFile = async (file: string): Promise<ExportSpec> => {
      tid += 1;
      const spec: ExportSpec = {
        tid,
        iqn: `iqn.2025-01.lab.dls.bench:disk${tid}`,
        backingPath: file,
        chapUser: `bench${tid}`,
        chapSecret: `BenchSecret0${tid}`,
        initiatorName: `iqn.2025-01.lab.dls.bench:init${tid}`,
        serial: `DLS-BENCH-${tid}`,
      };
      await exporter.ensureExport(spec);
      return spec;
    };
    const bench = async (spec: ExportSpec, write: boolean): Promise<number> => {
      const opts = [
        'driver=iscsi',
        'transport=tcp',
        `portal=${LOOPBACK}:${port}`,
        `target=${spec.iqn}`,
        'lun=1',
        `user=${spec.chapUser}`,
        `password=${spec.chapSecret}`,
        `initiator-name=${spec.initiatorName}`,
      ].join(',');
      const t0 = process.hrtime.bigint();
      const r = await run('qemu-img', [
        'bench',
        '-c',
        String(mib),
        '-s',
        '1M',
        '-d',
        '16',
        ...(write ? ['-w', '--pattern=0x5a'] : []),
        '--image-opts',
        opts,
      ]);
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      if (r.code !== 0) throw new Error(`qemu-img bench failed: ${r.out.slice(0, 500)}`);
      const m = /Run completed in ([\d.]+) seconds/.exec(r.out);
      return (mib * MiB) / 1e6 / (m ? Number(m[1]) : s);
    };

    const refSpec = await exportFile(reference);
    const results: Record<string, number[]> = { 'read reference': [], 'read client': [], 'write reference': [], 'write client': [] };
    for (let i = 0; i < runs; i++) {
      for (const write of [false, true]) {
        const op = write ? 'write' : 'read';
        const client = await driver.ensureClientDisk(randomUUID(), imageId, versionId);
        const clientSpec = await exportFile(client.path);
        // Alternate the order so neither side always runs on a warmer cache.
        const order = i % 2 === 0 ? (['reference', 'client'] as const) : (['client', 'reference'] as const);
        for (const who of order) {
          const mbs = await bench(who === 'reference' ? refSpec : clientSpec, write);
          results[`${op} ${who}`].push(mbs);
          console.log(`run ${i + 1} ${op} ${who}: ${mbs.toFixed(0)} MB/s`);
        }
        await exporter.removeExport(clientSpec.tid, { force: true });
        await driver.destroyClientDisk(client.clientId);
      }
    }
    console.log('');
    for (const op of ['read', 'write']) {
      const ref = median(results[`${op} reference`]);
      const cli = median(results[`${op} client`]);
      console.log(
        `${op}: reference (raw file) ${ref.toFixed(0)} MB/s, client disk (${method}) ${cli.toFixed(0)} MB/s, ratio ${(cli / ref).toFixed(2)} (target >= 0.7; medians of ${runs})`,
      );
    }
  } finally {
    await supervisor.stop().catch((e) => console.error(`tgtd stop: ${(e as Error).message}`));
    await driver.close().catch((e) => console.error(`driver close: ${(e as Error).message}`));
    await fsp.rm(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
