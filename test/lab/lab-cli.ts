/**
 * `npm run lab`: a newcomer demo of the boot chain. Creates a private network namespace, builds the test disk,
 * starts the reference stack (dnsmasq + HTTP script + tgtd) in it, network-boots one QEMU client and prints what
 * the client shows, then tears everything down.
 *
 * Usage: node dist/test/lab/lab-cli.js [--firmware bios|uefi] [--nic e1000|virtio-net-pci|rtl8139|e1000e]
 *                                      [--label TEXT] [--logs DIR]
 * Needs root (ip netns, tap devices) and the Debian packages qemu-system-x86, ipxe-qemu, ovmf, nasm,
 * dnsmasq-base, tgt.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildTestDisk, parseSerial, readCounter } from './disk';
import { createLab } from './netns';
import { bootClient, Firmware, NicModel } from './qemu';
import { startReferenceStack } from './reference-stack';

const NICS: NicModel[] = ['e1000', 'virtio-net-pci', 'rtl8139', 'e1000e'];

function parseArgs(argv: string[]): { firmware: Firmware; nic: NicModel; label: string; logs?: string } {
  const out: { firmware: Firmware; nic: NicModel; label: string; logs?: string } = {
    firmware: 'bios',
    nic: 'e1000',
    label: 'hello from the DLS lab',
  };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case '--firmware':
        if (value !== 'bios' && value !== 'uefi') throw new Error('--firmware bios|uefi');
        out.firmware = value;
        i++;
        break;
      case '--nic':
        if (!NICS.includes(value as NicModel)) throw new Error(`--nic ${NICS.join('|')}`);
        out.nic = value as NicModel;
        i++;
        break;
      case '--label':
        out.label = value ?? '';
        i++;
        break;
      case '--logs':
        out.logs = resolve(value ?? '.');
        i++;
        break;
      default:
        throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dir = args.logs ?? mkdtempSync(join(tmpdir(), 'dls-lab-'));
  const mac = '52:54:00:d1:5c:01';
  const lab = await createLab();
  if (!args.logs) lab.onDestroy(() => rmSync(dir, { recursive: true, force: true }));
  const v6 = lab.serverIp6 ? ` ${lab.serverIp6}/64` : '';
  console.log(`lab: namespace ${lab.ns}, bridge ${lab.bridge} ${lab.serverIp}/24${v6}`);
  try {
    const diskPath = join(dir, 'disk.img');
    await buildTestDisk(diskPath, { label: args.label, counter: 0 });
    const stack = await startReferenceStack(lab, { diskPath, macs: [mac], workDir: join(dir, 'ref') });
    console.log(`reference stack up: DHCP → ${stack.scriptUrl} → iSCSI ${stack.iqn} LUN 1 = ${diskPath}`);
    try {
      const { firmware, nic } = args;
      const vm = await bootClient(lab, { mac, firmware, nic, logDir: dir, timeoutMs: 120_000 });
      console.log(`QEMU pid ${vm.pid} (${args.firmware}, ${args.nic}, ${mac}); logs in ${dir}`);
      try {
        // UEFI has no payload: the disk's MBR code cannot run there, so iPXE's sanboot fails after the iSCSI login.
        const marker = args.firmware === 'bios' ? /DLS-END/ : /DLS-SANBOOT-FAILED/;
        const { elapsedMs } = await vm.waitFor(marker, 100_000);
        console.log(`--- client screen (${args.firmware === 'bios' ? 'COM2 sercon' : 'COM1'}) ---`);
        console.log((args.firmware === 'bios' ? vm.consoleText() : vm.serialText()).replace(/\r/g, '').trim());
        console.log('---');
        console.log(`marker after ${(elapsedMs / 1000).toFixed(2)} s`);
        if (args.firmware === 'bios') {
          console.log('payload report:', parseSerial(vm.serialText()));
          console.log(`counter on disk now: ${await readCounter(diskPath)}`);
        }
      } finally {
        await vm.kill();
      }
    } finally {
      await stack.stop();
    }
  } finally {
    await lab.destroy();
    if (!args.logs) rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
