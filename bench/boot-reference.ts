/**
 * Reference half of the boot benchmark: seconds from QEMU start to `DLS-BOOT-OK` for BIOS e1000 clients booting the
 * lab test disk through the reference stack (dnsmasq + HTTP script + tgtd; no-ping, no-pxedhcp, IPv6 RA on).
 * bench/boot.bench.ts compares DLS against these numbers.
 *
 * Run: `npx ts-node bench/boot-reference.ts [n]` or, after `npm run build`, `node dist/bench/boot-reference.js [n]`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestDisk } from '../test/lab/disk';
import { createLab } from '../test/lab/netns';
import { bootClient } from '../test/lab/qemu';
import { startReferenceStack } from '../test/lab/reference-stack';

export interface BootTimes {
  /** Per-boot seconds, in run order. */
  seconds: number[];
  median: number;
}

/** Median of a non-empty list. */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Boots `n` BIOS e1000 clients one after another (same MAC, same disk) and returns the time to `DLS-BOOT-OK`.
 * One lab and one reference stack serve all runs, so only the boot itself is measured.
 */
export async function measureReferenceBoots(n = 3, log: (line: string) => void = console.log): Promise<BootTimes> {
  const dir = mkdtempSync(join(tmpdir(), 'dls-bench-ref-'));
  const lab = await createLab();
  const mac = '52:54:00:d1:5b:01';
  try {
    const diskPath = join(dir, 'disk.img');
    await buildTestDisk(diskPath, { label: 'bench-reference', counter: 0 });
    const stack = await startReferenceStack(lab, { diskPath, macs: [mac], workDir: join(dir, 'ref') });
    try {
      const seconds: number[] = [];
      for (let i = 0; i < n; i++) {
        const logDir = join(dir, `run${i}`);
        const vm = await bootClient(lab, { mac, firmware: 'bios', nic: 'e1000', logDir, timeoutMs: 90_000 });
        try {
          const { elapsedMs } = await vm.waitFor(/DLS-BOOT-OK/, 60_000);
          seconds.push(elapsedMs / 1000);
          log(`reference boot ${i + 1}/${n}: ${(elapsedMs / 1000).toFixed(2)} s`);
        } finally {
          await vm.kill();
        }
      }
      const result = { seconds, median: median(seconds) };
      log(`reference median of ${n}: ${result.median.toFixed(2)} s`);
      return result;
    } finally {
      await stack.stop();
    }
  } finally {
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const n = Number(process.argv[2] ?? 3);
  if (!Number.isInteger(n) || n < 1 || n > 50) {
    console.error('usage: boot-reference [n (1..50)]');
    process.exit(2);
  }
  measureReferenceBoots(n).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
