/**
 * THE PROOF: real PXE clients (QEMU, SeaBIOS/OVMF with their iPXE NIC ROMs) boot from DLS — DLS's own DHCP,
 * iPXE script endpoint, client disks and tgtd — inside a private network namespace.
 *
 * One DLS (built `dist/src/main.js`, embedded PostgreSQL, data dir in a temp dir) serves the whole file; each test
 * registers its own clients (own MACs), so the tests do not depend on each other's state. The proxy-DHCP test
 * switches the range to `proxy` and puts it back to `full` in its `finally`.
 *
 * DLS runs with the README's defaults (no DLS_BOOT_SERVER_IP, tgtd on DLS_ISCSI_PORTAL 0.0.0.0:3260): a user sets only
 * the range, the image and the clients, so every boot here is also the "first boot with the defaults" (BIOS: up to
 * DLS-BOOT-OK; UEFI: up to the iSCSI login). See startDlsInLab for the few variables it does set, and why.
 *
 * Needs root and the Debian packages qemu-system-x86, ipxe-qemu, ipxe, ovmf, nasm, tgt, dnsmasq-base, curl.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestDisk, parseSerial, readCounter } from '../lab/disk';
import { createLab, Lab, LabProcess } from '../lab/netns';
import { dnsmasqBaseArgs } from '../lab/reference-stack';
import { bootClient, BootClientOptions, QemuClient } from '../lab/qemu';
import { addClient, addLabRange, buildDls, DlsInLab, provisionImage, sessionsOf, startDlsInLab, waitFor } from './dls-lab';

jest.setTimeout(240_000);

const DISK_BYTES = 8 * 1024 * 1024;
const LABEL = 'dls-e2e-pxe';
const GRACE_SEC = 3;
/** tgt drops a dead initiator after nop_interval 5 s × nop_count 3; then the grace period and a monitor tick. */
const SHUTDOWN_WAIT_MS = 45_000;

const MAC = {
  resetA: '52:54:00:d1:e2:0a',
  persistB: '52:54:00:d1:e2:0b',
  unknown: '52:54:00:d1:e2:0f',
  uefi: '52:54:00:d1:e2:0e',
  proxy: '52:54:00:d1:e2:0c',
};

describe('PXE boot through DLS (QEMU clients in a network namespace)', () => {
  let lab: Lab;
  let dls: DlsInLab;
  let work: string;
  let imageId: string;
  let versionId: string;
  let rangeId: string;
  const vms: QemuClient[] = [];
  const times: string[] = [];

  const boot = async (opts: Omit<BootClientOptions, 'logDir'>, name: string): Promise<QemuClient> => {
    const vm = await bootClient(lab, { timeoutMs: 150_000, ...opts, logDir: join(work, 'vm', name) });
    vms.push(vm);
    return vm;
  };

  /** Boots a BIOS client until the payload's DLS-END and returns its report; prints the boot time. */
  const bootToEnd = async (mac: string, nic: BootClientOptions['nic'], name: string) => {
    const vm = await boot({ mac, firmware: 'bios', nic }, name);
    try {
      const ok = await vm.waitFor(/DLS-BOOT-OK/, 60_000).catch((e: Error) => {
        // DLS's own messages: the API request lines this suite's polling writes would fill the excerpt otherwise.
        const own = dls
          .logTail(200_000)
          .split('\n')
          .filter((l) => !l.includes('"req":{'))
          .join('\n');
        throw new Error(`${e.message}\n--- DLS log (without request lines) ---\n${own.slice(-6000)}`);
      });
      await vm.waitFor(/DLS-END/, 10_000);
      // The script named the address the client reached DLS on as the portal, not tgtd's listen address 0.0.0.0.
      expect(vm.consoleText()).toContain(`boots from ${lab.serverIp}`);
      const line = `${name} (${nic}): QEMU start → DLS-BOOT-OK ${(ok.elapsedMs / 1000).toFixed(2)} s`;
      times.push(line);
      console.log(line);
      return parseSerial(vm.serialText());
    } finally {
      await vm.kill();
    }
  };

  // Through DLS's own view of the filesystem: `ip netns exec` gives it a mount namespace of its own, where the dir
  // driver's overlay disks are mounted (tgtd, its child, sees them there too).
  const diskPathOf = async (clientId: string): Promise<string> =>
    `/proc/${dls.proc.pid}/root${(await dls.ok('GET', `/api/v1/clients/${clientId}/disk`)).path}`;

  const waitSession = (clientId: string, what: string, pred: (s: any) => boolean, timeoutMs: number) =>
    waitFor(`${what} (client ${clientId})`, async () => (await sessionsOf(dls, clientId)).find(pred), timeoutMs, 500).catch((e: Error) => {
      throw new Error(`${e.message}\n--- DLS log ---\n${dls.logTail(4000)}`);
    });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'dls-pxe-e2e-'));
    await buildDls();
    lab = await createLab();
    const diskPath = join(work, 'disk.img');
    await buildTestDisk(diskPath, { label: LABEL, counter: 0, sizeBytes: DISK_BYTES });
    dls = await startDlsInLab(lab, {
      dataDir: join(work, 'data'),
      logFile: join(work, 'dls.log'),
      // A room that wants a powered-off reset-policy PC's disk reset sooner lowers the grace (default 60 s); here it
      // keeps the shutdown → reset step inside SHUTDOWN_WAIT_MS.
      env: { DLS_SESSION_GRACE: String(GRACE_SEC) },
    });
    ({ imageId, versionId } = await provisionImage(dls, 'lab-disk', diskPath, DISK_BYTES));
    const range = await addLabRange(dls, lab, 'lab');
    rangeId = range.id;
  });

  afterAll(async () => {
    for (const vm of vms) await vm.kill().catch(() => undefined);
    if (times.length) console.log(`boot times:\n  ${times.join('\n  ')}`);
    try {
      await dls?.stop();
    } finally {
      await lab?.destroy();
      if (work) rmSync(work, { recursive: true, force: true });
    }
  });

  it('serves the iPXE loaders over TFTP on the boot network once a range names its interface', async () => {
    const loader = '/usr/lib/ipxe/undionly.kpxe';
    const want = statSync(loader).size;
    const got = await waitFor(
      'TFTP on the lab bridge',
      async () => {
        const r = await lab
          .exec(['curl', '-sS', '-m', '10', '-o', '/dev/null', '-w', '%{size_download}', `tftp://${lab.serverIp}/undionly.kpxe`])
          .catch(() => null);
        return r && Number(r.stdout) > 0 ? Number(r.stdout) : null;
      },
      30_000,
      500,
    );
    expect(got).toBe(want);
    const escape = await lab.exec(['curl', '-sS', '-m', '10', '-o', '/dev/null', `tftp://${lab.serverIp}/../../etc/passwd`]).catch((e: Error) => e);
    expect(escape).toBeInstanceOf(Error);
  });

  it('boots a reset-policy client (e1000) from its own clone, reaches running, and discards its writes after shutdown', async () => {
    const a = await addClient(dls, { mac: MAC.resetA, hostname: 'lab-a', imageId, diskPolicy: 'reset' });
    const first = await bootToEnd(MAC.resetA, 'e1000', 'A boot 1');
    expect(first).toMatchObject({ bootOk: true, label: LABEL, count: 0, writeOk: true });

    // The write went to A's clone only.
    const aDisk = await diskPathOf(a.id);
    expect(await readCounter(aDisk)).toBe(1);
    const versionFile = join(dls.dataDir, 'storage', 'images', imageId, 'versions', `${versionId}.raw`);
    for (const f of [versionFile, join(dls.dataDir, 'storage', 'images', imageId, 'disk.raw')]) {
      if (existsSync(f)) expect(await readCounter(f)).toBe(0);
    }
    expect(existsSync(versionFile) || existsSync(join(dls.dataDir, 'storage', 'images', imageId, 'disk.raw'))).toBe(true);

    const running = await waitSession(a.id, 'session running', (s) => s.status === 'running' || (s.bootTimeSeconds ?? null) !== null, 20_000);
    expect(running.bootTimeSeconds).toEqual(expect.any(Number));
    // Each stage stamped once, in order: DHCP, (a loader over TFTP, when the ROM is not iPXE already), the script,
    // the iSCSI login, running.
    const st = running.stages as Record<string, string | null>;
    for (const k of ['dhcpAt', 'scriptAt', 'iscsiLoginAt', 'runningAt']) expect(st[k]).toEqual(expect.any(String));
    const order = ['dhcpAt', 'loaderAt', 'scriptAt', 'iscsiLoginAt', 'runningAt'].filter((k) => st[k] !== null).map((k) => Date.parse(st[k]!));
    expect(order).toEqual([...order].sort((x, y) => x - y));
    expect(Date.parse(st.dhcpAt!)).toBeGreaterThanOrEqual(Date.parse(running.startedAt));
    console.log(`A session: running, boot_time_seconds=${running.bootTimeSeconds}, stages ${JSON.stringify(st)}`);

    // The VM is gone (killed, no logout): tgt drops the login, the grace period passes → shutdown → disk reset.
    await waitSession(a.id, 'session shutdown', (s) => s.id === running.id && s.status === 'shutdown', SHUTDOWN_WAIT_MS);
    await waitFor('A disk reset', async () => (await readCounter(await diskPathOf(a.id)).catch(() => -1)) === 0, 20_000, 500);

    const second = await bootToEnd(MAC.resetA, 'e1000', 'A boot 2');
    expect(second).toMatchObject({ bootOk: true, label: LABEL, count: 0, writeOk: true });
  });

  it('boots a persistent client (virtio-net) twice and keeps its writes', async () => {
    const b = await addClient(dls, { mac: MAC.persistB, hostname: 'lab-b', imageId, diskPolicy: 'persistent' });
    expect(await bootToEnd(MAC.persistB, 'virtio-net-pci', 'B boot 1')).toMatchObject({ bootOk: true, count: 0, writeOk: true });
    // Rebooting at once: the new DHCPDISCOVER closes the running session (a persistent disk is kept).
    expect(await bootToEnd(MAC.persistB, 'virtio-net-pci', 'B boot 2')).toMatchObject({ bootOk: true, count: 1, writeOk: true });
    expect(await readCounter(await diskPathOf(b.id))).toBe(2);
    const sessions = await sessionsOf(dls, b.id);
    expect(sessions.length).toBeGreaterThanOrEqual(2);
    expect(sessions.some((s) => s.status === 'shutdown')).toBe(true);
  });

  it('gives an unknown MAC nothing: no boot, no disk, no export', async () => {
    const before = await dls.showTargets();
    const vm = await boot({ mac: MAC.unknown, firmware: 'bios', nic: 'e1000' }, 'unknown');
    try {
      await expect(vm.waitFor(/DLS-BOOT-OK/, 20_000)).rejects.toThrow(/timeout/);
    } finally {
      await vm.kill();
    }
    // Both script URLs refuse a request from loopback (no boot network: what a reverse proxy looks like) with 403
    // and a plain-text iPXE script that names nothing.
    for (const path of [`/boot/${MAC.unknown}.ipxe`, `/boot/script.ipxe?mac=${MAC.unknown.replace(/:/g, '-')}`]) {
      const { stdout } = await lab.exec(['curl', '-sS', '-i', `http://127.0.0.1:${dls.httpPort}${path}`]);
      expect(stdout).toMatch(/^HTTP\/1\.1 403/);
      expect(stdout).toMatch(/content-type: text\/plain/i);
      expect(stdout).toContain(`\r\n\r\n#!ipxe\necho DLS: this machine (${MAC.unknown}) is not set up for network boot here.\n`);
      expect(stdout).not.toMatch(/sanboot|image|iqn/i);
    }
    const clients = await dls.ok('GET', `/api/v1/clients?limit=100`);
    const list: any[] = Array.isArray(clients) ? clients : clients.items;
    expect(list.map((c) => c.macAddress)).not.toContain(MAC.unknown);
    // No target appeared (others may have gone meanwhile: a reset-policy disk is unexported at shutdown).
    const iqns = (text: string) => new Set(text.match(/^Target \d+: (\S+)/gm)?.map((l) => l.split(' ')[2]) ?? []);
    const earlier = iqns(before);
    expect([...iqns(await dls.showTargets())].filter((iqn) => !earlier.has(iqn))).toEqual([]);
  });

  it('UEFI (OVMF, q35, e1000 iPXE EFI ROM): gets the script and logs in to its target', async () => {
    const u = await addClient(dls, { mac: MAC.uefi, hostname: 'lab-uefi', imageId, diskPolicy: 'reset' });
    const vm = await boot({ mac: MAC.uefi, firmware: 'uefi', nic: 'e1000' }, 'uefi');
    try {
      // Evidence of the iSCSI login: the monitor saw it (running), tgt lists a session on the client's target, or
      // iPXE reported 0x7f22208e ("Not found") from the sanboot: it logged in, registered the disk as EFI block
      // device and found no \EFI\BOOT\BOOTX64.EFI on it (the test disk has no UEFI payload). A failed login or
      // CHAP rejection reports a different error. Without a payload the login lasts well under the monitor's 2 s
      // tick, so the last form is the usual one.
      const evidence = await waitFor(
        'UEFI client iSCSI login',
        async () => {
          const all = await sessionsOf(dls, u.id);
          const s = all.find((x) => x.status === 'running' || x.bootTimeSeconds != null);
          if (s) return `session ${s.status}, boot_time_seconds=${s.bootTimeSeconds}`;
          const notFound = all.find((x) => x.status === 'error' && /^sanboot failed: iPXE error 0x7f22208e/.test(x.errorMessage ?? ''));
          if (notFound) return `sanboot logged in, then: ${notFound.errorMessage}`;
          const targets = await dls.showTargets();
          const block = targets.split(/^Target \d+: /m).find((t) => t.startsWith(`iqn`) && t.includes(u.id));
          return block && /Initiator: /.test(block) ? 'tgt lists the login' : undefined;
        },
        120_000,
        200,
      ).catch((e: Error) => {
        throw new Error(`${e.message}\n--- COM1 ---\n${vm.serialText().slice(-2000)}\n--- DLS log ---\n${dls.logTail(4000)}`);
      });
      times.push(`UEFI e1000: iSCSI login seen after ${(vm.elapsedMs() / 1000).toFixed(2)} s (${evidence})`);
      console.log(times[times.length - 1]);
    } finally {
      await vm.kill();
    }
  });

  it('proxy DHCP: addresses from dnsmasq, boot instructions from DLS', async () => {
    let dnsmasq: LabProcess | undefined;
    await addClient(dls, { mac: MAC.proxy, hostname: 'lab-proxy', imageId, diskPolicy: 'reset' });
    try {
      await dls.ok('PATCH', `/api/v1/network-ranges/${rangeId}`, { dhcpMode: 'proxy' });
      await waitFor('DLS to serve the range in proxy mode', async () => /DHCP serving lab=[^ ]+\/proxy@/.test(dls.logTail(20_000)), 70_000, 250);
      dnsmasq = lab.spawn([...dnsmasqBaseArgs(lab, work), `--dhcp-range=${lab.subnet}.50,${lab.subnet}.90,255.255.255.0,1h`], {
        logFile: join(work, 'dnsmasq.log'),
      });
      const report = await bootToEnd(MAC.proxy, 'e1000', 'proxy-mode boot');
      expect(report).toMatchObject({ bootOk: true, label: LABEL, count: 0, writeOk: true });
    } finally {
      dnsmasq?.kill('SIGKILL');
      await dnsmasq?.exited;
      await dls.ok('PATCH', `/api/v1/network-ranges/${rangeId}`, { dhcpMode: 'full' });
    }
  });
});
