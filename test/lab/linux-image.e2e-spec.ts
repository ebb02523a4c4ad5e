/**
 * A real Debian Linux boots diskless with its root filesystem on iSCSI (issue 13), without DLS: the image from
 * linux-image.ts, a standalone tgtd in a lab namespace exporting a copy of its root disk as LUN 1 with CHAP and an
 * initiator-name ACL, and QEMU's direct kernel boot (`-kernel`/`-initrd`). The login travels in an initrd fragment
 * appended to the image's initramfs, never on the kernel command line.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { decodeNewc } from '../../src/protocols/cpio/cpio-newc';
import { buildLinuxImage, concatInitrds, iscsiInitramfsFragment, LINUX_COUNT_MARKER, LINUX_OK_MARKER, linuxCmdline, LinuxImage } from './linux-image';
import { createLab, Lab, LabProcess, namespaceExists } from './netns';
import { bootClient, NicModel, QemuClient } from './qemu';

const MAC = '52:54:00:d1:13:01';
/** Our own tgtd control port (socket /var/run/tgtd/socket.237); never 0, which belongs to the host's tgtd. */
const TGT_CONTROL_PORT = 237;
const TID = 1;
const TARGET = 'iqn.2024-01.lab.dls:linux-e2e';
const INITIATOR = 'iqn.2024-01.lab.dls.initiator:linux-e2e';
const CHAP_USER = 'linux-e2e';
const CHAP_SECRET = 'dls-linux-e2e-secret-1';
/** A cold build is debootstrap + apt (about a minute here); the deadline allows a slow mirror. */
const BUILD_TIMEOUT_MS = 25 * 60_000;
/** Kernel + initramfs + login under TCG take ~11 s here; the rest is room for a loaded 2-core host. */
const BOOT_DEADLINE_MS = 180_000;
/** After "DLS-LINUX-COUNT" the init remounts / read-only and powers off; QEMU exits at once (-no-reboot). */
const POWEROFF_DEADLINE_MS = 60_000;
/** A refused login: iscsistart fails at once, then initramfs-tools waits ~30 s for the root device and gives up. */
const REFUSED_DEADLINE_MS = 240_000;

describe('Debian Linux with its root on iSCSI (standalone tgtd, CHAP, no DLS)', () => {
  let image: LinuxImage;
  let lab: Lab | undefined;
  let tgt: Tgtd | undefined;
  let dir: string;
  let disk: string;
  let coldBuildMs: number;

  beforeAll(async () => {
    const started = Date.now();
    image = await buildLinuxImage({ log: (line) => console.log(line) });
    coldBuildMs = Date.now() - started;
    dir = mkdtempSync(join(tmpdir(), 'dls-linux-e2e-'));
    disk = join(dir, 'root.raw');
    await run('cp', ['--sparse=always', image.rootDisk, disk]);
    // No IPv6 and no DHCP in this namespace: the client's address is static (ip= on the command line).
    lab = await createLab({ ipv6: false });
    tgt = await startTgtd(lab, disk, join(dir, 'tgtd.log'));
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    const ns = lab?.ns;
    try {
      await tgt?.stop();
    } finally {
      await lab?.destroy();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
    if (ns) expect(namespaceExists(ns)).toBe(false);
  }, 30_000);

  it('comes from the cache in well under a second the second time', async () => {
    const started = Date.now();
    const again = await buildLinuxImage();
    const warmMs = Date.now() - started;
    console.log(`linux image: first call ${coldBuildMs} ms, warm call ${warmMs} ms\n${image.versions}`);
    expect(again).toEqual(image);
    expect(warmMs).toBeLessThan(500);
  });

  it('carries the iSCSI machinery but no login in its own initramfs; the fragment holds only the login, 0600', () => {
    const initrd = readFileSync(image.initrd);
    expect(initrd.length % 4).toBe(0); // whatever appends a fragment finds it aligned
    const paths = decodeNewc(gunzipSync(initrd)).map((m) => m.path);
    expect(paths).toEqual(expect.arrayContaining(['usr/sbin/iscsistart', 'scripts/local-top/iscsi']));
    expect(paths).not.toContain('etc/iscsi.initramfs');
    const fragment = decodeNewc(iscsiInitramfsFragment(login(CHAP_SECRET)));
    expect(fragment.map((m) => [m.path, (m.mode & 0o7777).toString(8), m.uid])).toEqual([
      ['etc', '755', 0],
      ['etc/iscsi.initramfs', '600', 0],
    ]);
    expect(fragment[1].data.toString()).toContain(`ISCSI_PASSWORD='${CHAP_SECRET}'`);
  });

  it(
    'boots twice from the same iSCSI disk, mounted rw, and the counter persists (virtio-net, then e1000)',
    async () => {
      const first = await bootLinux(1, CHAP_SECRET, 'virtio-net-pci');
      expect(first.rootDevice).toMatch(/^\/dev\/sd[a-z]$/);
      expect(first.mode).toBe('rw');
      expect(first.count).toBe(1);
      expect(await counterOnDisk(disk)).toBe(1);

      const second = await bootLinux(2, CHAP_SECRET, 'e1000');
      expect(second.count).toBe(2);
      expect(await counterOnDisk(disk)).toBe(2);
      console.log(`linux boot to DLS-LINUX-OK under TCG: ${first.markerMs} ms (virtio-net), ${second.markerMs} ms (e1000)`);
    },
    2 * (BOOT_DEADLINE_MS + POWEROFF_DEADLINE_MS),
  );

  it(
    'does not boot with a wrong CHAP password',
    async () => {
      const vm = await startVm(3, 'wrong-password-000', 'virtio-net-pci', REFUSED_DEADLINE_MS);
      try {
        const { match } = await vm.waitFor(/DLS-LINUX-OK|Dropping to a shell/, REFUSED_DEADLINE_MS);
        expect(match[0]).toBe('Dropping to a shell');
        expect(vm.serialText()).toMatch(/iscsistart: initiator reported error \(24 - iSCSI login failed due to authorization failure\)/);
        expect(readFileSync((tgt as Tgtd).logFile, 'utf8')).toContain(`authentication of ${INITIATOR} failed`);
      } finally {
        await vm.kill();
      }
      expect(await counterOnDisk(disk)).toBe(2);
    },
    REFUSED_DEADLINE_MS + 30_000,
  );

  function login(password: string): Parameters<typeof iscsiInitramfsFragment>[0] {
    const l = lab as Lab;
    return { initiator: INITIATOR, targetName: TARGET, targetIp: l.serverIp, targetPort: 3260, username: CHAP_USER, password };
  }

  /** The image's initramfs with this boot's login appended (as iPXE would hand both over). */
  function startVm(runNo: number, password: string, nic: NicModel, deadlineMs: number): Promise<QemuClient> {
    const l = lab as Lab;
    const initrd = join(dir, `initrd-${runNo}.img`);
    writeFileSync(initrd, concatInitrds(readFileSync(image.initrd), iscsiInitramfsFragment(login(password))), { mode: 0o600 });
    chmodSync(initrd, 0o600);
    const cmdline = linuxCmdline({ clientIp: `${l.subnet}.100`, netmask: '255.255.255.0' });
    return bootClient(l, {
      mac: MAC,
      firmware: 'bios',
      nic,
      memoryMb: 256,
      logDir: join(dir, `boot${runNo}`),
      timeoutMs: deadlineMs + POWEROFF_DEADLINE_MS,
      // Direct kernel boot; the NIC's iPXE ROM would only cost time.
      extraArgs: ['-kernel', image.kernel, '-initrd', initrd, '-append', cmdline, '-global', `${nic}.romfile=`],
    });
  }

  async function bootLinux(
    runNo: number,
    password: string,
    nic: NicModel,
  ): Promise<{ rootDevice: string; mode: string; count: number; markerMs: number }> {
    const vm = await startVm(runNo, password, nic, BOOT_DEADLINE_MS);
    try {
      const ok = await vm.waitFor(LINUX_OK_MARKER, BOOT_DEADLINE_MS);
      const count = await vm.waitFor(LINUX_COUNT_MARKER, POWEROFF_DEADLINE_MS);
      // The init powers off after sync + remount ro; a clean exit shows the write got out before the VM stopped.
      expect(await withDeadline(vm.exited, POWEROFF_DEADLINE_MS)).toBe(0);
      return { rootDevice: ok.match[1], mode: ok.match[2], count: Number(count.match[1]), markerMs: Math.round(ok.elapsedMs) };
    } finally {
      await vm.kill();
    }
  }
});

/** `/dls-counter` read straight from the disk file (debugfs, no mount); tgtd writes through the page cache. */
async function counterOnDisk(disk: string): Promise<number> {
  return Number((await run('debugfs', ['-R', 'cat /dls-counter', disk])).trim());
}

interface Tgtd {
  logFile: string;
  stop(): Promise<void>;
}

/**
 * tgtd inside the namespace on its own control port, one target: LUN 1 the disk (LUN 0 is tgt's controller), an
 * incoming CHAP account bound, and an ACL on the initiator name (`--initiator-name`; tgtadm's `-I` is an address).
 */
async function startTgtd(lab: Lab, disk: string, logFile: string): Promise<Tgtd> {
  const socket = `/var/run/tgtd/socket.${TGT_CONTROL_PORT}`;
  const proc: LabProcess = lab.spawn(['tgtd', '-f', '-C', String(TGT_CONTROL_PORT), '--iscsi', `portal=${lab.serverIp}:3260`], { logFile });
  const removeSockets = (): void => {
    for (const f of [socket, `${socket}.lock`]) rmSync(f, { force: true });
  };
  lab.onDestroy(removeSockets);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // tgtd ignores SIGTERM while it has targets: delete them, then the daemon, then make sure by pid.
    await tgtadm(['--op', 'delete', '--mode', 'target', '--tid', String(TID), '--force']).catch(() => undefined);
    await tgtadm(['--op', 'delete', '--mode', 'system']).catch(() => undefined);
    proc.kill('SIGKILL');
    await withDeadline(proc.exited, 5000);
    removeSockets();
  };
  try {
    await waitForTgtd(proc, logFile);
    await tgtadm(['--op', 'new', '--mode', 'target', '--tid', String(TID), '-T', TARGET]);
    await tgtadm(['--op', 'new', '--mode', 'logicalunit', '--tid', String(TID), '--lun', '1', '-b', disk]);
    await tgtadm(['--op', 'new', '--mode', 'account', '--user', CHAP_USER, '--password', CHAP_SECRET]);
    await tgtadm(['--op', 'bind', '--mode', 'account', '--tid', String(TID), '--user', CHAP_USER]);
    await tgtadm(['--op', 'bind', '--mode', 'target', '--tid', String(TID), '--initiator-name', INITIATOR]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { logFile, stop };
}

async function waitForTgtd(proc: LabProcess, logFile: string): Promise<void> {
  let exited = false;
  void proc.exited.then(() => (exited = true));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) throw new Error(`tgtd exited at start:\n${readFileSync(logFile, 'utf8').slice(-1500)}`);
    const up = await tgtadm(['--op', 'show', '--mode', 'sys']).then(
      (out) => out.includes('State'),
      () => false,
    );
    if (up) return;
    if (Date.now() > deadline) throw new Error('tgtd did not answer on its control port');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The promise's value, or 'deadline passed' — without leaving a timer behind. */
async function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T | 'deadline passed'> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'deadline passed'>((r) => (timer = setTimeout(() => r('deadline passed'), ms)));
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function tgtadm(args: string[]): Promise<string> {
  return run('tgtadm', ['-C', String(TGT_CONTROL_PORT), '--lld', 'iscsi', ...args]);
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message.trim()} ${String(stderr).trim()}`));
      else resolve(String(stdout));
    });
  });
}
