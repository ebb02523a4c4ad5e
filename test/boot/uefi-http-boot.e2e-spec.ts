/**
 * UEFI HTTP boot through DLS (issue 13): OVMF's own HTTP boot — no iPXE option ROM on the NIC (`romfile=`), its PXE
 * boot options switched off — asks DHCP as an "HTTPClient" (arch 16), gets a URL to DLS's boot files route, fetches
 * `ipxe.efi` over HTTP, and that iPXE asks for its script and logs in to the client's iSCSI disk. In full mode
 * (DLS hands out the address) and in proxy mode (dnsmasq hands out addresses, DLS only the URL). Each boot's session
 * records `uefi-http` as the firmware path. The boot files route itself is checked from the boot network: the jail
 * (no `..`, no symlink out of the root), a missing file, HEAD, and a requester off the boot networks (loopback).
 *
 * DLS runs with the README's defaults: a user sets only the range, the image and the clients.
 * Needs root and the Debian packages qemu-system-x86, ovmf, ipxe, tgt, dnsmasq-base, curl.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestDisk } from '../lab/disk';
import { createLab, Lab, LabProcess } from '../lab/netns';
import { dnsmasqBaseArgs } from '../lab/reference-stack';
import { bootClient, OVMF_PXE_OFF, QemuClient, VIRTIO_NO_NIC_ROM } from '../lab/qemu';
import { addClient, addLabRange, buildDls, DlsInLab, provisionImage, sessionsOf, startDlsInLab, waitFor } from './dls-lab';

jest.setTimeout(400_000);

const DISK_BYTES = 8 * 1024 * 1024;
const MAC = { full: '52:54:00:d1:4b:01', proxy: '52:54:00:d1:4b:02' };

/** OVMF with only its HTTP boot options: no iPXE ROM on the NIC, its PXE boot options off. */
const HTTP_BOOT_ONLY = [...VIRTIO_NO_NIC_ROM, ...OVMF_PXE_OFF];

describe('UEFI HTTP boot (OVMF, no option ROM): the loader over HTTP from DLS', () => {
  let lab: Lab;
  let dls: DlsInLab;
  let work: string;
  let imageId: string;
  let rangeId: string;
  const vms: QemuClient[] = [];
  let cli: string;

  /** curl from the client namespace; status and body. */
  const curl = (args: string[]): { status: number; body: Buffer; headers: string } => {
    const out = join(work, `body-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    const hdr = `${out}.h`;
    const code = execFileSync('ip', ['netns', 'exec', cli, 'curl', '-sS', '-m', '15', '-D', hdr, '-o', out, '-w', '%{http_code}', ...args], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    const body = readFileSync(out);
    const headers = readFileSync(hdr, 'utf8');
    rmSync(out, { force: true });
    rmSync(hdr, { force: true });
    return { status: Number(code), body, headers };
  };
  const base = () => `http://${lab.serverIp}:${dls.httpPort}`;

  /** Boots an HTTP-boot-only OVMF client until iPXE (loaded over HTTP) logged in to its disk; returns the evidence. */
  const httpBoot = async (mac: string, clientId: string, name: string): Promise<string> => {
    const vm = await bootClient(lab, {
      mac,
      firmware: 'uefi',
      nic: 'virtio-net-pci',
      timeoutMs: 300_000,
      logDir: join(work, 'vm', name),
      extraArgs: HTTP_BOOT_ONLY,
    });
    vms.push(vm);
    try {
      // The same evidence of the login as the UEFI case of pxe-boot.e2e: the test disk has no \EFI\BOOT\BOOTX64.EFI,
      // so iPXE logs in, finds nothing to start and reports 0x7f22208e ("Not found") — or the monitor saw it running.
      return await waitFor(
        `${name}: iPXE loaded over HTTP boot logs in to its disk`,
        async () => {
          const all = await sessionsOf(dls, clientId);
          const s = all.find((x) => x.status === 'running' || x.bootTimeSeconds != null);
          if (s) return `session ${s.status}`;
          const notFound = all.find((x) => x.status === 'error' && /^sanboot failed: iPXE error 0x7f22208e/.test(x.errorMessage ?? ''));
          return notFound ? `sanboot logged in, then: ${notFound.errorMessage}` : undefined;
        },
        280_000,
        500,
      ).catch((e: Error) => {
        throw new Error(`${e.message}\n--- COM1 ---\n${vm.serialText().slice(-3000)}\n--- DLS log ---\n${dls.logTail(5000)}`);
      });
    } finally {
      await vm.kill();
    }
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'dls-httpboot-e2e-'));
    await buildDls();
    lab = await createLab();
    const diskPath = join(work, 'disk.img');
    await buildTestDisk(diskPath, { label: 'dls-httpboot', counter: 0, sizeBytes: DISK_BYTES });
    dls = await startDlsInLab(lab, { dataDir: join(work, 'data'), logFile: join(work, 'dls.log') });
    ({ imageId } = await provisionImage(dls, 'httpboot-disk', diskPath, DISK_BYTES));
    rangeId = (await addLabRange(dls, lab, 'lab')).id;

    // A LAN host to fetch the route from: its own namespace with a veth in the lab bridge.
    cli = `${lab.ns}-cli`;
    execFileSync('ip', ['netns', 'add', cli]);
    await lab.exec(['ip', 'link', 'add', 'hb0', 'type', 'veth', 'peer', 'name', 'hb1']);
    await lab.exec(['ip', 'link', 'set', 'hb0', 'master', lab.bridge, 'up']);
    await lab.exec(['ip', 'link', 'set', 'hb1', 'netns', cli]);
    for (const argv of [
      ['ip', 'addr', 'add', `${lab.subnet}.249/24`, 'dev', 'hb1'],
      ['ip', 'link', 'set', 'hb1', 'up'],
      ['ip', 'link', 'set', 'lo', 'up'],
    ]) {
      execFileSync('ip', ['netns', 'exec', cli, ...argv]);
    }
  });

  afterAll(async () => {
    for (const vm of vms) await vm.kill().catch(() => undefined);
    try {
      await dls?.stop();
    } finally {
      if (cli) execFileSync('ip', ['netns', 'del', cli], { stdio: 'ignore' });
      await lab?.destroy();
      if (work) rmSync(work, { recursive: true, force: true });
    }
  });

  it('serves the loaders over HTTP to the boot network only, inside the root', async () => {
    const tftpRoot = join(dls.dataDir, 'tftp');
    await waitFor('the loaders in the boot files root', async () => curl([`${base()}/boot/files/ipxe.efi`]).status === 200, 60_000);
    const efi = curl([`${base()}/boot/files/ipxe.efi`]);
    expect(efi.body.equals(readFileSync('/usr/lib/ipxe/ipxe.efi'))).toBe(true);
    expect(efi.headers).toMatch(/content-type: application\/efi/i);
    const head = curl(['-I', `${base()}/boot/files/ipxe.efi`]);
    expect(head.status).toBe(200);
    expect(head.headers).toMatch(new RegExp(`content-length: ${efi.body.length}`, 'i'));

    writeFileSync(join(work, 'secret.txt'), 'not a boot file\n');
    symlinkSync(join(work, 'secret.txt'), join(tftpRoot, 'escape.txt'));
    expect(curl([`${base()}/boot/files/escape.txt`]).status).toBe(403);
    expect(curl(['--path-as-is', `${base()}/boot/files/../../etc/passwd`]).status).toBe(403);
    expect(curl([`${base()}/boot/files/..%2f..%2fetc%2fpasswd`]).status).toBe(403);
    expect(curl([`${base()}/boot/files/nope.efi`]).status).toBe(404);
    // From loopback in DLS's own namespace (not a boot network): refused, whatever the file.
    const local = execFileSync(
      'ip',
      ['netns', 'exec', lab.ns, 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${dls.httpPort}/boot/files/ipxe.efi`],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(local).toBe('403');
  });

  it('full mode: OVMF HTTP boot gets ipxe.efi by URL, which boots the client from its disk; the session says uefi-http', async () => {
    const c = await addClient(dls, { mac: MAC.full, hostname: 'http-full', imageId, diskPolicy: 'reset' });
    const evidence = await httpBoot(MAC.full, c.id, 'full');
    const sessions = await sessionsOf(dls, c.id);
    expect(sessions[sessions.length - 1].firmware).toBe('uefi-http');
    expect(sessions[sessions.length - 1].stages.loaderAt).not.toBeNull();
    console.log(`UEFI HTTP boot, full mode: ${evidence}`);
  });

  it('proxy mode: addresses from dnsmasq, the HTTP boot URL from DLS', async () => {
    let dnsmasq: LabProcess | undefined;
    const c = await addClient(dls, { mac: MAC.proxy, hostname: 'http-proxy', imageId, diskPolicy: 'reset' });
    try {
      await dls.ok('PATCH', `/api/v1/network-ranges/${rangeId}`, { dhcpMode: 'proxy' });
      await waitFor('DLS to serve the range in proxy mode', async () => /DHCP serving lab=[^ ]+\/proxy@/.test(dls.logTail(20_000)), 70_000, 250);
      dnsmasq = lab.spawn([...dnsmasqBaseArgs(lab, work), `--dhcp-range=${lab.subnet}.50,${lab.subnet}.90,255.255.255.0,1h`], {
        logFile: join(work, 'dnsmasq.log'),
      });
      const evidence = await httpBoot(MAC.proxy, c.id, 'proxy');
      const sessions = await sessionsOf(dls, c.id);
      expect(sessions[sessions.length - 1].firmware).toBe('uefi-http');
      console.log(`UEFI HTTP boot, proxy mode: ${evidence}`);
    } finally {
      dnsmasq?.kill('SIGKILL');
      await dnsmasq?.exited;
      await dls.ok('PATCH', `/api/v1/network-ranges/${rangeId}`, { dhcpMode: 'full' });
    }
  });
});
