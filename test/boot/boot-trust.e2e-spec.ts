/**
 * The boot routes under attack (issue 8's security model), against a real DLS in a lab namespace with the README's
 * defaults. Every attack gets 403 (or, for a disk in use, a script that does nothing), learns no secret, and changes
 * nothing:
 * - a requester on a routed subnet (an address on no boot network) and loopback (what a reverse proxy looks like);
 * - a LAN host with its own MAC, asking for another client's script with a valid token minted for that client;
 * - a stale token, and a token for another machine, from the client's own reserved address;
 * - a request for a client that is running (a real QEMU client) from another address: no reset, no re-export, no new
 *   session; the client stays logged in and its write is on its disk.
 * The attacker is a second namespace whose veth sits in the lab bridge.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signBootToken } from '../../src/modules/pxe-boot/boot-trust/boot-token';
import { buildTestDisk, parseSerial, readCounter } from '../lab/disk';
import { createLab, Lab } from '../lab/netns';
import { bootClient } from '../lab/qemu';
import { addClient, addLabRange, buildDls, DlsInLab, provisionImage, sessionsOf, startDlsInLab, waitFor } from './dls-lab';

jest.setTimeout(300_000);

const DISK_BYTES = 8 * 1024 * 1024;
/** The smallest lease time a range accepts (MIN_LEASE_SECONDS). */
const LEASE_SECONDS = 60;
const MAC = { victim: '52:54:00:d1:7a:01', runner: '52:54:00:d1:7a:02', attacker: '52:54:00:d1:7a:0f' };

describe('boot routes refuse everyone but the client they name', () => {
  let lab: Lab;
  let dls: DlsInLab;
  let work: string;
  let atk: string;
  let victim: { id: string };
  let key: Buffer;
  let imageId: string;
  let rangeId: string;
  const reservedIp = () => `${lab.subnet}.251`;
  const attackerIp = () => `${lab.subnet}.250`;
  const runnerIp = () => `${lab.subnet}.249`;

  /** GET from the attacker namespace (or the lab namespace with `fromLab`); returns status and body. */
  const get = (url: string, from: { ns?: string; iface?: string } = {}): { status: number; body: string } => {
    const argv = [
      'netns',
      'exec',
      from.ns ?? atk,
      'curl',
      '-sS',
      '-m',
      '15',
      '-w',
      '\n%{http_code}',
      ...(from.iface ? ['--interface', from.iface] : []),
      url,
    ];
    const out = execFileSync('ip', argv, { encoding: 'utf8', timeout: 20_000 });
    const cut = out.lastIndexOf('\n');
    return { status: Number(out.slice(cut + 1)), body: out.slice(0, cut) };
  };
  const scriptUrl = (mac: string, token: string, host = lab.serverIp) => `http://${host}:${dls.httpPort}/boot/${mac}.ipxe?t=${token}`;
  const token = (mac: string, ip: string | null, nowSec = Date.now() / 1000) => signBootToken(key, mac, ip, nowSec);
  const noSecrets = (body: string) => expect(body).not.toMatch(/password|username|sanboot|iqn|chap/i);

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'dls-trust-e2e-'));
    await buildDls();
    lab = await createLab();
    const diskPath = join(work, 'disk.img');
    await buildTestDisk(diskPath, { label: 'dls-trust', counter: 0, sizeBytes: DISK_BYTES });
    dls = await startDlsInLab(lab, { dataDir: join(work, 'data'), logFile: join(work, 'dls.log') });
    ({ imageId } = await provisionImage(dls, 'trust-disk', diskPath, DISK_BYTES));
    ({ id: rangeId } = await addLabRange(dls, lab, 'lab'));
    victim = await addClient(dls, { mac: MAC.victim, hostname: 'victim', imageId, diskPolicy: 'persistent' });
    // The victim's address is a reservation, so the tests can stand in its place (a "client" that is the victim).
    await dls.ok('PATCH', `/api/v1/clients/${victim.id}`, { ipAddress: reservedIp() });
    key = Buffer.from(readFileSync(join(dls.dataDir, 'secrets', 'boot-token-key'), 'utf8').trim());

    // The attacker: its own namespace, a veth in the lab bridge, its own MAC and an address on the boot network.
    atk = `${lab.ns}-atk`;
    execFileSync('ip', ['netns', 'add', atk]);
    await lab.exec(['ip', 'link', 'add', 'atk0', 'type', 'veth', 'peer', 'name', 'atk1']);
    await lab.exec(['ip', 'link', 'set', 'atk0', 'master', lab.bridge, 'up']);
    await lab.exec(['ip', 'link', 'set', 'atk1', 'netns', atk]);
    for (const argv of [
      ['ip', 'link', 'set', 'lo', 'up'],
      ['ip', 'link', 'set', 'atk1', 'address', MAC.attacker],
      ['ip', 'addr', 'add', `${attackerIp()}/24`, 'dev', 'atk1'],
      ['ip', 'link', 'set', 'atk1', 'up'],
    ]) {
      execFileSync('ip', ['netns', 'exec', atk, ...argv]);
    }
    // A routed requester: an address on no boot network, on the lab namespace's loopback.
    await lab.exec(['ip', 'addr', 'add', '10.99.0.1/32', 'dev', 'lo']);
    await waitFor(
      'DLS to answer the attacker namespace',
      async () => get(`http://${lab.serverIp}:${dls.httpPort}/api/v1/health/live`).status === 200 || null,
      30_000,
      250,
    );
  });

  afterAll(async () => {
    try {
      await dls?.stop();
    } finally {
      if (atk) {
        try {
          execFileSync('ip', ['netns', 'del', atk]);
        } catch {
          // already gone
        }
      }
      await lab?.destroy();
      if (work) rmSync(work, { recursive: true, force: true });
    }
  });

  it('refuses loopback and a routed subnet with 403, even with a valid token for the victim', () => {
    const t = token(MAC.victim, reservedIp());
    const loop = get(scriptUrl(MAC.victim, t, '127.0.0.1'), { ns: lab.ns });
    expect(loop.status).toBe(403);
    noSecrets(loop.body);
    const routed = get(scriptUrl(MAC.victim, t), { ns: lab.ns, iface: '10.99.0.1' });
    expect(routed.status).toBe(403);
    noSecrets(routed.body);
    expect(get(`http://${lab.serverIp}:${dls.httpPort}/boot/script.ipxe?mac=${MAC.victim}&t=${t}`, { ns: lab.ns, iface: '10.99.0.1' }).status).toBe(
      403,
    );
  });

  it('refuses a LAN host with its own MAC asking for the victim, with a token for the victim or for itself', async () => {
    for (const t of [token(MAC.victim, reservedIp()), token(MAC.victim, attackerIp()), token(MAC.victim, null), 'garbage']) {
      const r = get(scriptUrl(MAC.victim, t));
      expect(r.status).toBe(403);
      noSecrets(r.body);
    }
    // The failure callback is guarded the same way: nothing is recorded on the victim.
    const f = get(
      `http://${lab.serverIp}:${dls.httpPort}/boot/${MAC.victim}/failed?stage=sanboot&err=0x3d12603b&t=${token(MAC.victim, reservedIp())}`,
    );
    expect(f.status).toBe(403);
    expect(await sessionsOf(dls, victim.id)).toEqual([]);
  });

  describe("from the victim's own address", () => {
    beforeAll(() => {
      execFileSync('ip', ['netns', 'exec', atk, 'ip', 'addr', 'add', `${reservedIp()}/24`, 'dev', 'atk1']);
    });
    const fromVictim = (url: string) => get(url, { ns: atk, iface: reservedIp() });

    it('refuses a stale token and a token for another machine; the right token gets the script', () => {
      const stale = fromVictim(scriptUrl(MAC.victim, token(MAC.victim, reservedIp(), Date.now() / 1000 - 3600)));
      expect(stale.status).toBe(403);
      noSecrets(stale.body);
      const other = fromVictim(scriptUrl(MAC.victim, token(MAC.attacker, reservedIp())));
      expect(other.status).toBe(403);
      const ok = fromVictim(scriptUrl(MAC.victim, token(MAC.victim, reservedIp())));
      expect(ok.status).toBe(200);
      expect(ok.body).toContain('sanboot iscsi:');
      expect(ok.body).toContain(`&t=`); // the failure callback carries the token too
    });

    it('a real client running from another address is not touched: "in use", no reset, no re-export, its writes survive', async () => {
      // The running PC: its own client record without a reservation, so it boots on a pool address (X). The range's
      // lease time is what a user sets; here its minimum, so that the PC's lease lapses within the test.
      await dls.ok('PATCH', `/api/v1/network-ranges/${rangeId}`, { leaseSeconds: LEASE_SECONDS });
      const runner = await addClient(dls, { mac: MAC.runner, hostname: 'runner', imageId, diskPolicy: 'persistent' });
      const vm = await bootClient(lab, { mac: MAC.runner, firmware: 'bios', nic: 'e1000', timeoutMs: 240_000, logDir: join(work, 'vm-runner') });
      try {
        await vm.waitFor(/DLS-END/, 90_000).catch((e: Error) => {
          throw new Error(`${e.message}\n--- console ---\n${vm.consoleText().slice(-2000)}\n--- DLS log ---\n${dls.logTail(4000)}`);
        });
        expect(parseSerial(vm.serialText())).toMatchObject({ bootOk: true, count: 0, writeOk: true });
        const creds = await dls.ok('GET', `/api/v1/clients/${runner.id}/iscsi`);
        const nexus = new RegExp(`${creds.targetIqn}[\\s\\S]*?I_T nexus: (\\d+)[\\s\\S]*?IP Address: (\\S+)`);
        const login = await waitFor(
          'the runner logged in (running)',
          async () => {
            const m = nexus.exec(await dls.showTargets());
            const running = (await sessionsOf(dls, runner.id)).some((x) => x.status === 'running');
            return m && running ? { sid: m[1], ip: m[2] } : null;
          },
          30_000,
          250,
        );
        expect(login.ip).not.toBe(runnerIp());
        const before = await dls.ok('GET', `/api/v1/clients/${runner.id}/disk`);
        const sessionsBefore = await sessionsOf(dls, runner.id);

        // In full mode the trust rule admits only the address DLS leases this MAC: while the PC's lease is active, a
        // second address is refused outright (403). iPXE — and this payload — never renew, so the lease lapses; then
        // the rule admits the MAC's reservation, and an operator reserves Y for the PC while it runs. (In proxy mode a
        // LAN host spoofing the MAC gets this far directly.) The attacker namespace asks from Y with a valid token
        // until the lapse lets it through: 403 before, "in use" after — never the PC's script.
        await dls.ok('PATCH', `/api/v1/clients/${runner.id}`, { ipAddress: runnerIp() });
        execFileSync('ip', ['netns', 'exec', atk, 'ip', 'addr', 'add', `${runnerIp()}/24`, 'dev', 'atk1']);
        let refused = 0;
        const r = await waitFor(
          "the runner's lease to lapse (the trust rule then admits its reservation)",
          async () => {
            const res = get(scriptUrl(MAC.runner, token(MAC.runner, runnerIp())), { ns: atk, iface: runnerIp() });
            noSecrets(res.body);
            if (res.status === 403) return (refused++, null);
            return res;
          },
          LEASE_SECONDS * 1000 + 60_000,
          1000,
        );
        expect(refused).toBeGreaterThan(0);
        expect(r.status).toBe(200);
        expect(r.body).toContain('is in use by a running machine');

        // The PC goes on: tgt drops iPXE's connection every NOP timeout (iPXE does not answer NOP-In pings) and the
        // payload's next disk read logs in again with the same CHAP secret — so a new login proves no re-export.
        const relogin = await waitFor(
          'the runner to log in again on its own',
          async () => {
            const m = nexus.exec(await dls.showTargets());
            return m && m[1] !== login.sid ? { sid: m[1], ip: m[2] } : null;
          },
          60_000,
          250,
        );
        expect(relogin.ip).toBe(login.ip);
        expect(vm.serialText()).not.toMatch(/DLS-READ-ERR/);
        const after = await dls.ok('GET', `/api/v1/clients/${runner.id}/disk`);
        expect(after.createdAt).toBe(before.createdAt); // not reset or replaced
        const sessionsAfter = await sessionsOf(dls, runner.id);
        expect(sessionsAfter.map((x) => x.id)).toEqual(sessionsBefore.map((x) => x.id)); // no new session
        expect(sessionsAfter.find((x) => x.status === 'running')).toBeDefined();
        const audit = await dls.ok('GET', `/api/v1/audit?limit=20`);
        const rows: any[] = Array.isArray(audit) ? audit : audit.items;
        expect(rows.some((a) => a.action === 'boot.disk-in-use' && a.entityId === runner.id && a.details?.loggedInFrom === login.ip)).toBe(true);
      } finally {
        await vm.kill();
      }
      // Its write is on its disk (the payload incremented the counter 0 → 1). Read through DLS's own view of the file
      // system: `ip netns exec` gives it a mount namespace, and an overlay disk is a FUSE mount made in it.
      const diskPath = (await dls.ok('GET', `/api/v1/clients/${runner.id}/disk`)).path;
      expect(await readCounter(`/proc/${dls.proc.pid}/root${diskPath}`)).toBe(1);
    });
  });
});
