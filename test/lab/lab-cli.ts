/**
 * `npm run lab`: the whole boot chain against DLS itself, in one command. Creates a private network namespace,
 * builds the test disk, starts the built DLS inside the namespace (embedded PostgreSQL, DHCP on the lab bridge,
 * TFTP, iPXE scripts, its own tgtd), registers an example image + client through the API, network-boots one QEMU
 * client with its serial console streamed live to the terminal, then tears everything down (also on Ctrl-C: the lab
 * kills every process it started and removes the namespace).
 *
 * Usage: node dist/test/lab/lab-cli.js [--firmware bios|uefi] [--nic e1000|virtio-net-pci|rtl8139|e1000e]
 *                                      [--label TEXT] [--logs DIR]
 * Needs root (ip netns, tap devices), a build (`npm run lab` builds first) and the Debian packages qemu-system-x86,
 * ipxe-qemu, ipxe, ovmf, nasm, tgt, curl.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { addClient, addLabRange, provisionImage, sessionsOf, startDlsInLab } from '../boot/dls-lab';
import { buildTestDisk, parseSerial, readCounter } from './disk';
import { createLab } from './netns';
import { bootClient, Firmware, NicModel, stripAnsi } from './qemu';

const NICS: NicModel[] = ['e1000', 'virtio-net-pci', 'rtl8139', 'e1000e'];
const DISK_BYTES = 8 * 1024 * 1024;

interface Args {
  firmware: Firmware;
  nic: NicModel;
  label: string;
  logs?: string;
}

function parseArgs(argv: string[]): Args {
  const out: Args = { firmware: 'bios', nic: 'e1000', label: 'hello from the DLS lab' };
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

/** Prints what is appended to `file` (ANSI escapes removed), each line prefixed, until stopped. */
function follow(file: string, prefix: string): () => void {
  let offset = 0;
  let partial = '';
  const tick = (): void => {
    if (!existsSync(file)) return;
    const buf = readFileSync(file);
    if (buf.length <= offset) return;
    const text = partial + stripAnsi(buf.subarray(offset).toString('latin1')).replace(/\r/g, '');
    offset = buf.length;
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (l.trim()) process.stdout.write(`${prefix} ${l}\n`);
  };
  const timer = setInterval(tick, 100);
  return () => {
    clearInterval(timer);
    tick();
    if (partial.trim()) process.stdout.write(`${prefix} ${partial}\n`);
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dir = args.logs ?? mkdtempSync(join(tmpdir(), 'dls-lab-'));
  const mac = '52:54:00:d1:5c:01';
  const lab = await createLab();
  if (!args.logs) lab.onDestroy(() => rmSync(dir, { recursive: true, force: true }));
  console.log(`lab: namespace ${lab.ns}, bridge ${lab.bridge} ${lab.serverIp}/24${lab.serverIp6 ? ` ${lab.serverIp6}/64` : ''}`);
  try {
    const diskPath = join(dir, 'disk.img');
    await buildTestDisk(diskPath, { label: args.label, counter: 0, sizeBytes: DISK_BYTES });
    console.log('starting DLS in the namespace (embedded PostgreSQL, DHCP, TFTP, iPXE scripts, tgtd)…');
    const dls = await startDlsInLab(lab, { dataDir: join(dir, 'dls-data'), logFile: join(dir, 'dls.log') });
    try {
      const { imageId } = await provisionImage(dls, 'lab-example', diskPath, DISK_BYTES);
      await addLabRange(dls, lab, 'lab');
      const client = await addClient(dls, { mac, hostname: 'lab-pc', imageId, diskPolicy: 'persistent' });
      console.log(`DLS up (log ${dls.logFile}): image ${imageId} published, client lab-pc = ${mac}`);

      const vm = await bootClient(lab, { mac, firmware: args.firmware, nic: args.nic, logDir: dir, timeoutMs: 150_000 });
      console.log(`QEMU pid ${vm.pid} (${args.firmware}, ${args.nic}, ${mac}); streaming its console:`);
      const stops = [follow(vm.com1Path, '[com1]'), ...(vm.consolePath ? [follow(vm.consolePath, '[screen]')] : [])];
      try {
        // UEFI has no payload: the disk's MBR code cannot run there, so iPXE's sanboot fails after the iSCSI login.
        const marker = args.firmware === 'bios' ? /DLS-END/ : /SAN boot failed|DLS-SANBOOT-FAILED/;
        const { elapsedMs } = await vm.waitFor(marker, 120_000);
        stops.forEach((s) => s());
        console.log(`--- marker after ${(elapsedMs / 1000).toFixed(2)} s`);
        if (args.firmware === 'bios') {
          console.log('payload report:', parseSerial(vm.serialText()));
          // Through DLS's mount namespace (`ip netns exec` made one): an overlay disk is a FUSE mount made in it.
          const disk = `/proc/${dls.proc.pid}/root${(await dls.ok('GET', `/api/v1/clients/${client.id}/disk`)).path}`;
          console.log(`counter on the client's disk now: ${await readCounter(disk)}`);
        }
        const [s] = await sessionsOf(dls, client.id);
        if (s) console.log(`boot session ${s.id}: ${s.status}${s.bootTimeSeconds != null ? `, boot time ${s.bootTimeSeconds} s` : ''}`);
      } finally {
        stops.forEach((s) => s());
        await vm.kill();
      }
    } finally {
      await dls.stop();
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
