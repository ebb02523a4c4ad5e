/**
 * A Linux kernel image's iSCSI login travels in a per-boot initrd fragment, not on the kernel command line (issue 8),
 * against a real DLS in a lab namespace with the README's defaults:
 * - the script a client gets names its image's initrd and `GET /boot/<mac>/iscsi.cpio?t=<token>` as two named
 *   initrds, and its kernel line holds no secret;
 * - the fragment, fetched from the client's address with the script's token, is a newc cpio (read back by GNU cpio)
 *   whose dracut config carries this boot's CHAP secret — the one the admin API shows, and one tgt accepts;
 * - from another address on the boot LAN, from loopback, or with a stale token: 403 and no secret.
 * The client stands in as a second namespace whose veth sits in the lab bridge (as in boot-trust.e2e-spec.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { signBootToken } from '../../src/modules/pxe-boot/boot-trust/boot-token';
import { buildTestDisk } from '../lab/disk';
import { createLab, Lab } from '../lab/netns';
import { addClient, addLabRange, buildDls, DlsInLab, provisionImage, sessionsOf, startDlsInLab, waitFor } from './dls-lab';

jest.setTimeout(300_000);

const DISK_BYTES = 8 * 1024 * 1024;
const MAC = { linux: '52:54:00:d1:7b:01', other: '52:54:00:d1:7b:0f' };
const CONF = 'etc/cmdline.d/90-dls-iscsi.conf';

describe('kernel boot: the iSCSI login travels in a per-boot initrd, never on the kernel command line', () => {
  let lab: Lab;
  let dls: DlsInLab;
  let work: string;
  let cli: string;
  let linux: { id: string };
  let key: Buffer;
  const clientIp = () => `${lab.subnet}.251`;
  const otherIp = () => `${lab.subnet}.250`;

  /** curl from a namespace (default: the client's), optionally from one of its addresses; the body is saved as bytes. */
  const fetch = (url: string, from: { ns?: string; iface?: string } = {}): { status: number; body: Buffer } => {
    const out = join(work, `body-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    const argv = ['netns', 'exec', from.ns ?? cli, 'curl', '-sS', '-m', '15', '-o', out, '-w', '%{http_code}'];
    const code = execFileSync('ip', [...argv, ...(from.iface ? ['--interface', from.iface] : []), url], { encoding: 'utf8', timeout: 20_000 });
    const body = readFileSync(out);
    rmSync(out, { force: true });
    return { status: Number(code), body };
  };
  const base = () => `http://${lab.serverIp}:${dls.httpPort}`;
  const token = (mac: string, ip: string | null, nowSec = Date.now() / 1000) => signBootToken(key, mac, ip, nowSec);
  const noSecret = (body: Buffer, secret?: string) => {
    const text = body.toString('latin1');
    expect(text).not.toMatch(/netroot|rd\.iscsi|password|chap|070701/i);
    expect(body.subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))).toBe(false); // no (gzip-compressed) fragment either
    if (secret) expect(text).not.toContain(secret);
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'dls-kinitrd-e2e-'));
    await buildDls();
    lab = await createLab();
    const diskPath = join(work, 'disk.img');
    await buildTestDisk(diskPath, { label: 'dls-kinitrd', counter: 0, sizeBytes: DISK_BYTES });
    dls = await startDlsInLab(lab, { dataDir: join(work, 'data'), logFile: join(work, 'dls.log') });
    const { imageId } = await provisionImage(dls, 'linux-disk', diskPath, DISK_BYTES);
    // A Linux image booted by kernel + initramfs (the files live on any web server; the script only names them).
    await dls.ok('PATCH', `/api/v1/images/${imageId}`, {
      bootKernel: `http://${lab.serverIp}:8081/linux/vmlinuz`,
      bootInitrd: `http://${lab.serverIp}:8081/linux/initramfs.img`,
      bootCmdline: 'root=LABEL=dls-kinitrd ro console=ttyS0',
    });
    await addLabRange(dls, lab, 'lab');
    linux = await addClient(dls, { mac: MAC.linux, hostname: 'linux-1', imageId, diskPolicy: 'persistent' });
    // A reservation, so this test can stand in for the client at its address.
    await dls.ok('PATCH', `/api/v1/clients/${linux.id}`, { ipAddress: clientIp() });
    key = Buffer.from(readFileSync(join(dls.dataDir, 'secrets', 'boot-token-key'), 'utf8').trim());

    // The client: its own namespace, a veth in the lab bridge, the client's MAC and reserved address, plus a second
    // address for a LAN host that is not the client.
    cli = `${lab.ns}-cli`;
    execFileSync('ip', ['netns', 'add', cli]);
    await lab.exec(['ip', 'link', 'add', 'cli0', 'type', 'veth', 'peer', 'name', 'cli1']);
    await lab.exec(['ip', 'link', 'set', 'cli0', 'master', lab.bridge, 'up']);
    await lab.exec(['ip', 'link', 'set', 'cli1', 'netns', cli]);
    for (const argv of [
      ['ip', 'link', 'set', 'lo', 'up'],
      ['ip', 'link', 'set', 'cli1', 'address', MAC.linux],
      ['ip', 'addr', 'add', `${clientIp()}/24`, 'dev', 'cli1'],
      ['ip', 'addr', 'add', `${otherIp()}/24`, 'dev', 'cli1'],
      ['ip', 'link', 'set', 'cli1', 'up'],
    ]) {
      execFileSync('ip', ['netns', 'exec', cli, ...argv]);
    }
    await waitFor('DLS to answer the client namespace', async () => fetch(`${base()}/api/v1/health/live`).status === 200 || null, 30_000, 250);
  });

  afterAll(async () => {
    try {
      await dls?.stop();
    } finally {
      if (cli) {
        try {
          execFileSync('ip', ['netns', 'del', cli]);
        } catch {
          // already gone
        }
      }
      await lab?.destroy();
      if (work) rmSync(work, { recursive: true, force: true });
    }
  });

  it('script without a secret, then the fragment with the login of this boot; refused elsewhere', async () => {
    const t = token(MAC.linux, clientIp());
    const fromClient = { iface: clientIp() };

    // Before any script: no boot in progress, so nothing to hand out (and nothing is opened by asking).
    const early = fetch(`${base()}/boot/${MAC.linux}/iscsi.cpio?t=${t}`, fromClient);
    expect(early.status).toBe(409);
    noSecret(early.body);
    expect(await sessionsOf(dls, linux.id)).toEqual([]);

    const script = fetch(`${base()}/boot/${MAC.linux}.ipxe?t=${t}`, fromClient);
    expect(script.status).toBe(200);
    const lines = script.body.toString('utf8').split('\n');
    const kernelLine = lines.find((l) => l.startsWith('kernel '))!;
    expect(kernelLine).toBe(
      `kernel http://${lab.serverIp}:8081/linux/vmlinuz initrd=initramfs.img initrd=dls-iscsi.cpio root=LABEL=dls-kinitrd ro console=ttyS0 || goto failed`,
    );
    expect(lines.filter((l) => l.startsWith('initrd '))).toEqual([
      `initrd --name initramfs.img http://${lab.serverIp}:8081/linux/initramfs.img || goto failed`,
      `initrd --name dls-iscsi.cpio ${base()}/boot/${MAC.linux}/iscsi.cpio?t=${t} || goto failed`,
    ]);
    const creds = await dls.ok('GET', `/api/v1/clients/${linux.id}/iscsi`);
    expect(creds.chapSecret).toMatch(/^[A-Za-z0-9]{16}$/);
    noSecret(script.body, creds.chapSecret);
    const sessions = await sessionsOf(dls, linux.id);
    expect(sessions).toHaveLength(1);

    // The fragment, from the client's address with the script's token.
    const frag = fetch(`${base()}/boot/${MAC.linux}/iscsi.cpio?t=${t}`, fromClient);
    expect(frag.status).toBe(200);
    const out = join(work, 'unpacked');
    mkdirSync(out);
    const archive = join(work, 'frag.cpio');
    // gzip-compressed (the kernel finds it at any offset after the image's initramfs), a newc cpio inside.
    execFileSync('dd', [`of=${archive}`, 'status=none'], { input: gunzipSync(frag.body) });
    expect(execFileSync('cpio', ['-it', '--quiet', '-F', archive], { encoding: 'utf8' }).trim().split('\n')).toEqual([
      'etc',
      'etc/cmdline.d',
      CONF,
      'etc/iscsi.initramfs',
    ]);
    execFileSync('cpio', ['-i', '--quiet', '--no-absolute-filenames', '-F', archive], { cwd: out });
    expect(statSync(join(out, CONF)).mode & 0o7777).toBe(0o600);
    // The same login for initramfs-tools images (open-iscsi's local-top script sources this file).
    expect(statSync(join(out, 'etc/iscsi.initramfs')).mode & 0o7777).toBe(0o600);
    expect(readFileSync(join(out, 'etc/iscsi.initramfs'), 'utf8')).toContain(`ISCSI_PASSWORD='${creds.chapSecret}'`);
    const conf = readFileSync(join(out, CONF), 'utf8');
    const m = /^rd\.iscsi\.initiator=(\S+) netroot=iscsi:([^:]+):([^@]+)@([\d.]+)::(\d+):(\d+):(\S+)\n$/.exec(conf);
    expect(m).not.toBeNull();
    const [, initiator, user, secret, portal, port, lun, target] = m!;
    expect({ initiator, user, secret, target, lun: Number(lun) }).toEqual({
      initiator: creds.initiatorIqn,
      user: creds.chapUser,
      secret: creds.chapSecret,
      target: creds.targetIqn,
      lun: 1,
    });
    expect(portal).toBe(lab.serverIp); // the address the client reached DLS on (tgtd listens on 0.0.0.0)
    // tgt accepts that login (CHAP + initiator name), as dracut's iscsistart would present it.
    const login = await lab.exec(['iscsi-readcapacity16', '-i', initiator, `iscsi://${user}%${secret}@${portal}:${port}/${target}/${lun}`], {
      timeoutMs: 30_000,
    });
    expect(login.stdout).toMatch(new RegExp(`Total size:\\s*${DISK_BYTES}`));

    // Serving it changed nothing: the same session, the same secret.
    expect((await sessionsOf(dls, linux.id)).map((s) => s.id)).toEqual(sessions.map((s) => s.id));
    expect((await dls.ok('GET', `/api/v1/clients/${linux.id}/iscsi`)).chapSecret).toBe(secret);

    // Not the client: another address on the boot LAN (with a token for the client or for itself), loopback, a stale
    // token, a token for another MAC or none, from the client's own address.
    for (const tok of [t, token(MAC.linux, otherIp()), token(MAC.linux, null)]) {
      const r = fetch(`${base()}/boot/${MAC.linux}/iscsi.cpio?t=${tok}`, { iface: otherIp() });
      expect(r.status).toBe(403);
      noSecret(r.body, secret);
    }
    const loop = fetch(`http://127.0.0.1:${dls.httpPort}/boot/${MAC.linux}/iscsi.cpio?t=${t}`, { ns: lab.ns });
    expect(loop.status).toBe(403);
    noSecret(loop.body, secret);
    const stale = fetch(`${base()}/boot/${MAC.linux}/iscsi.cpio?t=${token(MAC.linux, clientIp(), Date.now() / 1000 - 3600)}`, fromClient);
    expect(stale.status).toBe(403);
    noSecret(stale.body, secret);
    const otherMac = fetch(`${base()}/boot/${MAC.linux}/iscsi.cpio?t=${token(MAC.other, clientIp())}`, fromClient);
    expect(otherMac.status).toBe(403);
    const none = fetch(`${base()}/boot/${MAC.linux}/iscsi.cpio`, fromClient);
    expect(none.status).toBe(403);
    noSecret(none.body, secret);
  });
});
