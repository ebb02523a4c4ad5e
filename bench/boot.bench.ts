/**
 * Boot benchmark, three scenarios (`npm run bench:boot -- [n] [--linux | --uefi]`, default n = 3):
 * - default: seconds from QEMU start to `DLS-BOOT-OK` for BIOS e1000 clients booting the lab test disk through DLS,
 *   against the same through the reference stack (dnsmasq + static script + tgtd, bench/boot-reference.ts). Same
 *   disk content, same namespace setup (a fresh lab each), same client model; both medians and the ratio DLS /
 *   reference (target ≤ 1.0);
 * - `--linux`: the real Linux (test/lab/linux-image.ts) from power-on to its init's `DLS-LINUX-OK`, BIOS e1000: DLS
 *   (kernel and initramfs from its boot files root, per-boot CHAP login fragment) against the reference stack (the
 *   same kernel, initramfs and a static login fragment, no CHAP); medians and ratio;
 * - `--uefi`: the same Linux through DLS by UEFI HTTP boot (OVMF alone, `ipxe.efi` fetched by URL) against UEFI PXE
 *   (OVMF alone, `ipxe.efi` over TFTP): medians and ratio HTTP / PXE.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addClient, addLabRange, buildDls, provisionImage, provisionLinuxImage, repoRoot, startDlsInLab } from '../test/boot/dls-lab';
import { buildTestDisk } from '../test/lab/disk';
import { createLab } from '../test/lab/netns';
import { bootClient, BootClientOptions, OVMF_PXE_OFF, VIRTIO_NO_NIC_ROM } from '../test/lab/qemu';
import { buildLinuxImage, iscsiInitramfsFragment, LINUX_COUNT_MARKER, LINUX_OK_MARKER, LINUX_ROOT_LABEL, LinuxImage } from '../test/lab/linux-image';
import { REFERENCE_IQN, startReferenceStack } from '../test/lab/reference-stack';
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

/** `n` boots of the real Linux through DLS per client model in `kinds`, in one lab; seconds to DLS-LINUX-OK per kind. */
export async function measureDlsLinuxBoots(
  linux: LinuxImage,
  n: number,
  kinds: Record<string, Omit<BootClientOptions, 'logDir' | 'mac'>>,
  log: (line: string) => void = console.log,
): Promise<Record<string, BootTimes>> {
  const dir = mkdtempSync(join(tmpdir(), 'dls-bench-linux-'));
  const lab = await createLab();
  try {
    const dls = await startDlsInLab(lab, { dataDir: join(dir, 'data'), logFile: join(dir, 'dls.log') });
    try {
      const { imageId } = await provisionLinuxImage(dls, linux, { name: 'bench-linux' });
      await addLabRange(dls, lab, 'bench');
      const out: Record<string, BootTimes> = {};
      let i = 0;
      for (const [kind, opts] of Object.entries(kinds)) {
        const mac = `52:54:00:d1:5c:${(0x10 + i++).toString(16)}`;
        await addClient(dls, { mac, hostname: `bench-${kind}`, imageId, diskPolicy: 'persistent' });
        out[kind] = await bootTimes(`DLS ${kind}`, n, log, async (run) => {
          const vm = await bootClient(lab, { mac, memoryMb: 512, timeoutMs: 300_000, ...opts, logDir: join(dir, `${kind}-${run}`) });
          try {
            const { elapsedMs } = await vm.waitFor(LINUX_OK_MARKER, 280_000);
            // Its write is done once the counter is printed (QEMU's exit is not awaited: the lab's children are
            // unref'd, and a bench process with nothing else to wait on would end there).
            await vm.waitFor(LINUX_COUNT_MARKER, 60_000);
            return elapsedMs;
          } catch (err) {
            throw new Error(`${(err as Error).message}\n--- DLS log ---\n${dls.logTail(3000)}`, { cause: err });
          } finally {
            await vm.kill();
          }
        });
      }
      return out;
    } finally {
      await dls.stop();
    }
  } finally {
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `n` BIOS e1000 boots of the real Linux through the reference stack (the same kernel and initramfs, no CHAP). */
export async function measureReferenceLinuxBoots(linux: LinuxImage, n: number, log: (line: string) => void = console.log): Promise<BootTimes> {
  const dir = mkdtempSync(join(tmpdir(), 'dls-bench-reflinux-'));
  const lab = await createLab();
  const mac = '52:54:00:d1:5c:01';
  try {
    const disk = join(dir, 'root.raw');
    copyFileSync(linux.rootDisk, disk);
    const loginFragment = iscsiInitramfsFragment({
      initiator: 'iqn.2024-01.lab.dls.initiator:bench',
      targetName: REFERENCE_IQN,
      targetIp: lab.serverIp,
    });
    const cmdline = `console=ttyS0 root=LABEL=${LINUX_ROOT_LABEL} rw ip=dhcp`;
    const stack = await startReferenceStack(lab, {
      diskPath: disk,
      macs: [mac],
      workDir: join(dir, 'ref'),
      linux: { ...linux, cmdline, loginFragment },
    });
    try {
      return await bootTimes('reference', n, log, async (run) => {
        const vm = await bootClient(lab, { mac, firmware: 'bios', nic: 'e1000', memoryMb: 512, timeoutMs: 300_000, logDir: join(dir, `run${run}`) });
        try {
          const { elapsedMs } = await vm.waitFor(LINUX_OK_MARKER, 280_000);
          await vm.waitFor(LINUX_COUNT_MARKER, 60_000);
          return elapsedMs;
        } finally {
          await vm.kill();
        }
      });
    } finally {
      await stack.stop();
    }
  } finally {
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function bootTimes(what: string, n: number, log: (line: string) => void, boot: (run: number) => Promise<number>): Promise<BootTimes> {
  const seconds: number[] = [];
  for (let i = 0; i < n; i++) {
    seconds.push((await boot(i)) / 1000);
    log(`${what} boot ${i + 1}/${n}: ${seconds[i].toFixed(2)} s`);
  }
  return { seconds, median: median(seconds) };
}

const show = (t: BootTimes) => `${t.median.toFixed(2)} s  (${t.seconds.map((s) => s.toFixed(2)).join(', ')})`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const scenario = args.includes('--linux') ? 'linux' : args.includes('--uefi') ? 'uefi' : 'bios';
  const n = Number(args.find((a) => !a.startsWith('--')) ?? 3);
  if (!Number.isInteger(n) || n < 1 || n > 20) throw new Error('usage: boot.bench [n (1..20)] [--linux | --uefi]');
  if (!existsSync(join(repoRoot(), 'dist', 'src', 'main.js'))) await buildDls();
  if (scenario === 'linux') {
    const linux = await buildLinuxImage({ log: console.log });
    const { bios } = await measureDlsLinuxBoots(linux, n, { bios: { firmware: 'bios', nic: 'e1000' } });
    const ref = await measureReferenceLinuxBoots(linux, n);
    const ratio = bios.median / ref.median;
    console.log(`\npower-on → DLS-LINUX-OK (real Linux, root on iSCSI), BIOS e1000, median of ${n}:`);
    console.log(`  DLS       ${show(bios)}`);
    console.log(`  reference ${show(ref)}`);
    console.log(`  ratio DLS/reference = ${ratio.toFixed(2)} (target ≤ 1.0) ${ratio <= 1.0 ? 'OK' : 'SLOWER'}`);
    return;
  }
  if (scenario === 'uefi') {
    const linux = await buildLinuxImage({ log: console.log });
    const t = await measureDlsLinuxBoots(linux, n, {
      http: { firmware: 'uefi', nic: 'virtio-net-pci', extraArgs: [...VIRTIO_NO_NIC_ROM, ...OVMF_PXE_OFF] },
      pxe: { firmware: 'uefi', nic: 'virtio-net-pci', extraArgs: VIRTIO_NO_NIC_ROM },
    });
    console.log(`\npower-on → DLS-LINUX-OK through DLS, OVMF virtio-net without option ROM, median of ${n}:`);
    console.log(`  UEFI HTTP boot (ipxe.efi by URL)  ${show(t.http)}`);
    console.log(`  UEFI PXE (ipxe.efi over TFTP)     ${show(t.pxe)}`);
    console.log(`  ratio HTTP/PXE = ${(t.http.median / t.pxe.median).toFixed(2)}`);
    return;
  }
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
