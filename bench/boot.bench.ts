/**
 * Boot benchmark: seconds from QEMU start to `DLS-BOOT-OK` for BIOS e1000 clients booting the lab test disk through
 * DLS, against the same through the reference stack (dnsmasq + static script + tgtd, bench/boot-reference.ts).
 * Same disk content, same namespace setup (a fresh lab each), same client model; prints both medians and the ratio
 * DLS / reference (target ≤ 1.0).
 *
 * Run (root): `npm run build && node dist/bench/boot.bench.js [n]` (default n = 3).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addClient, addLabRange, buildDls, provisionImage, repoRoot, startDlsInLab } from '../test/boot/dls-lab';
import { buildTestDisk } from '../test/lab/disk';
import { createLab } from '../test/lab/netns';
import { bootClient } from '../test/lab/qemu';
import { BootTimes, measureReferenceBoots, median } from './boot-reference';

const DISK_BYTES = 8 * 1024 * 1024;

/** `n` BIOS e1000 boots, one after another, of one client (persistent disk) through DLS in a fresh lab. */
export async function measureDlsBoots(n = 3, log: (line: string) => void = console.log): Promise<BootTimes> {
  const dir = mkdtempSync(join(tmpdir(), 'dls-bench-dls-'));
  const lab = await createLab();
  const mac = '52:54:00:d1:5b:02';
  try {
    const diskPath = join(dir, 'disk.img');
    await buildTestDisk(diskPath, { label: 'bench-dls', counter: 0, sizeBytes: DISK_BYTES });
    const dls = await startDlsInLab(lab, { dataDir: join(dir, 'data'), logFile: join(dir, 'dls.log') });
    try {
      const { imageId } = await provisionImage(dls, 'bench', diskPath, DISK_BYTES);
      await addLabRange(dls, lab, 'bench');
      await addClient(dls, { mac, hostname: 'bench-pc', imageId, diskPolicy: 'persistent' });
      const seconds: number[] = [];
      for (let i = 0; i < n; i++) {
        const vm = await bootClient(lab, { mac, firmware: 'bios', nic: 'e1000', logDir: join(dir, `run${i}`), timeoutMs: 90_000 });
        try {
          const { elapsedMs } = await vm.waitFor(/DLS-BOOT-OK/, 60_000);
          seconds.push(elapsedMs / 1000);
          log(`DLS boot ${i + 1}/${n}: ${(elapsedMs / 1000).toFixed(2)} s`);
        } catch (err) {
          throw new Error(`${(err as Error).message}\n--- DLS log ---\n${dls.logTail(3000)}`, { cause: err });
        } finally {
          await vm.kill();
        }
      }
      const result = { seconds, median: median(seconds) };
      log(`DLS median of ${n}: ${result.median.toFixed(2)} s`);
      return result;
    } finally {
      await dls.stop();
    }
  } finally {
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 3);
  if (!Number.isInteger(n) || n < 1 || n > 20) throw new Error('usage: boot.bench [n (1..20)]');
  if (!existsSync(join(repoRoot(), 'dist', 'src', 'main.js'))) await buildDls();
  const dls = await measureDlsBoots(n);
  const ref = await measureReferenceBoots(n);
  const ratio = dls.median / ref.median;
  console.log('');
  console.log(`QEMU start → DLS-BOOT-OK, BIOS e1000, median of ${n}:`);
  console.log(`  DLS       ${dls.median.toFixed(2)} s  (${dls.seconds.map((s) => s.toFixed(2)).join(', ')})`);
  console.log(`  reference ${ref.median.toFixed(2)} s  (${ref.seconds.map((s) => s.toFixed(2)).join(', ')})`);
  console.log(`  ratio DLS/reference = ${ratio.toFixed(2)} (target ≤ 1.0) ${ratio <= 1.0 ? 'OK' : 'SLOWER'}`);
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
