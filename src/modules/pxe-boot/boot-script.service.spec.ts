import { gunzipSync } from 'node:zlib';
import type { BootTokens } from './boot-trust/boot-tokens.service';
import { Logger } from '@nestjs/common';
import type { Repository } from 'typeorm';
import { ConflictError } from '@common/errors/domain-error';
import type { AppConfig } from '@config/config.loader';
import type { BootSessionsService, Client, ClientDisksService, Image } from '../catalog';
import { bootMethodOf, BootPolicyService, type BootTarget, trustOf } from '../catalog';
import type { BootTrustService } from './boot-trust/boot-trust.service';
import { ClientDirectory } from '../catalog';
import { BootPreparation } from './boot-preparation.service';
import { BootScriptService } from './boot-script.service';
import { BootSessionTracker } from './boot-session-tracker';
import type { DhcpLease } from './dhcp-lease.entity';
import { FakeDisks, FakeIscsi, FakeLeases, FakeSessions } from './testing/fake-boot-plane';
import { decodeNewc } from '@protocols/cpio/cpio-newc';
import { LOGIN_LINGER_MS, RecentLogins } from './recent-logins';
import { BootRateLimiter } from './boot-rate-limit';

beforeAll(() => Logger.overrideLogger(false));

const MAC_A = '52:54:00:00:00:0a';
const MAC_B = '52:54:00:00:00:0b';
const who = { sourceIp: '10.213.0.100', serverIp: '10.213.0.1' };
const TOKEN = 'k9z.0123456789abcdefABCDEF';

function client(id: string, mac: string, patch: Partial<Client> = {}): Client {
  return {
    id,
    macAddress: mac,
    hostname: `pc-${id}`,
    enabled: true,
    pending: false,
    assignedImageId: 'img',
    customBootParams: null,
    ...patch,
  } as Client;
}

function setup(opts: { clients: Client[]; image?: Partial<Image>; arp?: Record<string, string>; burst?: number; bootServerIp?: string }) {
  const fakeClients = new Map(
    opts.clients.map((c) => [c.id, { id: c.id, enabled: c.enabled, hasImage: !!c.assignedImageId, policy: 'reset' as const }]),
  );
  const sessions = new FakeSessions(fakeClients);
  const disks = new FakeDisks(fakeClients);
  const iscsi = new FakeIscsi();
  const tracker = new BootSessionTracker(
    sessions as unknown as BootSessionsService,
    disks as unknown as ClientDisksService,
    new FakeLeases() as unknown as Repository<DhcpLease>,
  );
  const clients = {
    findOne: async (q: { where: { macAddress: string } }) => opts.clients.find((c) => c.macAddress === q.where.macAddress) ?? null,
  } as unknown as Repository<Client>;
  const image = { id: 'img', bootKernel: null, bootInitrd: null, bootCmdline: null, ...opts.image } as Image;
  disks.targetOf = (id) => {
    const c = opts.clients.find((x) => x.id === id)!;
    return { client: c, image, method: bootMethodOf(image, c) } as BootTarget;
  };
  const none = {} as Repository<never>;
  const policy = new BootPolicyService(new ClientDirectory(clients), none, none, none, { resolve: async (c: Client) => c } as never);
  policy.target = async (id) => disks.targetOf(id); // what the boot policy answers (read-only), as the test wants it
  // The trust rule itself has its own specs; here the requester is on a proxy-mode boot network with a good token,
  // and the neighbour table confirms whatever MAC it asks for unless `arp` says otherwise.
  const trust = {
    isFullRange: () => false,
    checkNow: (mac: string, _token: unknown, ip: string) => ((opts.arp?.[ip] ?? mac) === mac ? { ok: true } : null),
    check: async (mac: string, _token: unknown, ip: string) =>
      trustOf({ mac, sourceIp: ip, rangeMode: 'proxy', tokenProblem: null, assignedIp: null, neighbourMac: opts.arp?.[ip] ?? mac }),
  } as unknown as BootTrustService;
  const preparation = new BootPreparation(disks as unknown as ClientDisksService, iscsi);
  const limiter = new BootRateLimiter({ burst: opts.burst ?? 100, refillPerSecond: 1 }, { warn: () => undefined });
  const recent = new RecentLogins();
  const events: { type: string; body: any }[] = [];
  const config = { http: { port: 8080 }, boot: { serverIp: opts.bootServerIp } } as AppConfig;
  const tokens = { sign: (mac: string) => `tok.${mac.replace(/:/g, '')}` } as unknown as BootTokens;
  const service = new BootScriptService(config, policy, preparation, tracker, trust, iscsi, limiter, recent, tokens, undefined, undefined, {
    emit: (type: string, body: any) => events.push({ type, body }),
  });
  return { service, sessions, disks, iscsi, tracker, recent, events, preparation, trust };
}

describe('BootScriptService', () => {
  it('prepares the disk and export of an enabled client and answers a sanboot script; session → booting', async () => {
    const { service, sessions, iscsi, disks } = setup({ clients: [client('a', MAC_A)], arp: { [who.sourceIp]: MAC_A } });
    const r = await service.scriptFor('52-54-00-00-00-0A', who);
    expect(r.status).toBe(200);
    expect(r.body.startsWith('#!ipxe\n')).toBe(true);
    expect(r.body).toContain('sanboot iscsi:10.213.0.1:::1:iqn.2026-11.io.dls:client.a || goto failed');
    expect(r.body).toContain('set initiator-iqn iqn.2026-11.io.dls:initiator.a');
    expect(r.body).toContain(`chain http://10.213.0.1:8080/boot/${MAC_A}/failed?stage=sanboot&err=\${errno}`);
    expect(disks.ensured).toEqual(['a']);
    expect(iscsi.exported).toEqual([{ clientId: 'a', diskPath: '/srv/dls/clients/a.img' }]);
    expect(sessions.statuses('a')).toEqual(['booting']);
  });

  it("prepares the export for the open boot session (the CHAP nonce); a reboot's script request is for a new one", async () => {
    const { service, sessions, iscsi, tracker } = setup({ clients: [client('a', MAC_A)] });
    await service.scriptFor(MAC_A, who);
    const first = sessions.rows[0].id;
    expect(iscsi.boots).toEqual([first]);
    await sessions.transition(first, 'running'); // the iSCSI login was seen (the session monitor's job)
    tracker.syncOpenSessions(sessions.rows);
    await service.scriptFor(MAC_A, who); // the client rebooted: the running session ends, a new one opens
    expect(sessions.rows).toHaveLength(2);
    expect(iscsi.boots).toEqual([first, sessions.rows[1].id]);
    expect(sessions.rows[1].id).not.toBe(first);
  });

  it('refuses to hand a client script to another machine (neighbour table says otherwise)', async () => {
    const { service, iscsi, disks } = setup({ clients: [client('a', MAC_A)], arp: { [who.sourceIp]: MAC_B } });
    const r = await service.scriptFor(MAC_A, who);
    expect(r.body).not.toContain('sanboot');
    expect(r.body).not.toContain('password');
    expect(r.body).toContain('is not set up for network boot');
    expect(disks.ensured).toEqual([]);
    expect(iscsi.exported).toEqual([]);
  });

  it('unknown MAC: a short script that names no image, and nothing is prepared', async () => {
    const { service, disks } = setup({ clients: [client('a', MAC_A)] });
    const r = await service.scriptFor(MAC_B, who);
    expect(r).toEqual({ status: 200, body: `#!ipxe\necho DLS: this machine (${MAC_B}) is not set up for network boot here.\nsleep 5\nexit\n` });
    expect(disks.ensured).toEqual([]);
    expect((await service.scriptFor('not-a-mac', who)).status).toBe(400);
  });

  it('publishes boot-script events: served, and each refusal with its reason', async () => {
    const { service, events } = setup({ clients: [client('a', MAC_A), client('b', MAC_B, { enabled: false })] });
    await service.scriptFor(MAC_A, who);
    await service.scriptFor(MAC_B, who);
    await service.scriptFor('nonsense', who);
    expect(events.map((e) => e.type)).toEqual(['boot-script', 'boot-script', 'boot-script']);
    expect(events.map((e) => [e.body.clientId, e.body.outcome, e.body.reason])).toEqual([
      ['a', 'served', null],
      ['b', 'refused', 'client disabled (local boot)'],
      [null, 'refused', 'not a MAC address'],
    ]);
    expect(events[0].body).toEqual(expect.objectContaining({ mac: MAC_A, clientIp: who.sourceIp }));
  });

  it('disabled → local boot, pending or without image → wait for an admin', async () => {
    const { service, sessions } = setup({
      clients: [
        client('a', MAC_A, { enabled: false }),
        client('b', MAC_B, { pending: true }),
        client('c', '52:54:00:00:00:0c', { assignedImageId: null }),
      ],
    });
    expect((await service.scriptFor(MAC_A, who)).body).toMatch(/\nexit\n$/);
    expect((await service.scriptFor(MAC_A, who)).body).not.toContain('sanboot');
    expect((await service.scriptFor(MAC_B, who)).body).toContain('waits for an administrator');
    expect((await service.scriptFor('52:54:00:00:00:0c', who)).body).toContain('waits for an administrator');
    expect(sessions.rows).toHaveLength(0);
  });

  it('a preparation failure prints the reason and puts the session into error', async () => {
    const { service, sessions, disks } = setup({ clients: [client('a', MAC_A)] });
    disks.failEnsure = new ConflictError('NO_BOOTABLE_VERSION', 'image win11 has no published version');
    const r = await service.scriptFor(MAC_A, who);
    expect(r.body).toBe('#!ipxe\necho DLS: cannot boot: image win11 has no published version\nsleep 10\nexit 1\n');
    expect(sessions.rows[0]).toMatchObject({ status: 'error', errorMessage: 'prepare failed: image win11 has no published version' });
  });

  it('an unexpected failure does not leak internals', async () => {
    const { service, iscsi } = setup({ clients: [client('a', MAC_A)] });
    iscsi.portal = { address: '10.213.0.1', port: 3260 }; // explicit portal: the bad request address reaches the renderer
    const r = await service.scriptFor(MAC_A, { ...who, serverIp: 'not-an-ip' }); // renderer rejects the address
    expect(r.body).toContain('cannot boot: serverIp: not an IPv4 address');
    const s2 = setup({ clients: [client('a', MAC_A)] });
    s2.disks.failEnsure = new Error('ENOENT /secret/path');
    expect((await s2.service.scriptFor(MAC_A, who)).body).toContain('internal error on the boot server');
  });

  it('renders a kernel boot with the client parameters and no secret on the kernel line: the login goes in a second initrd', async () => {
    const { service, sessions } = setup({
      clients: [client('a', MAC_A, { customBootParams: 'quiet' })],
      image: { bootKernel: 'http://10.213.0.1:8080/k', bootInitrd: 'http://10.213.0.1:8080/initrd.img', bootCmdline: 'console=ttyS0' },
    });
    const r = await service.scriptFor(MAC_A, who, TOKEN);
    const secret = FakeIscsi.secretOf(sessions.rows[0].id);
    const kernelLine = r.body.split('\n').find((l) => l.startsWith('kernel '));
    expect(kernelLine).toBe('kernel http://10.213.0.1:8080/k initrd=initrd.img initrd=dls-iscsi.cpio console=ttyS0 quiet || goto failed');
    expect(r.body).not.toContain(secret);
    expect(r.body).not.toMatch(/netroot|password|secret/);
    expect(r.body.split('\n').filter((l) => l.startsWith('initrd '))).toEqual([
      'initrd --name initrd.img http://10.213.0.1:8080/initrd.img || goto failed',
      `initrd --name dls-iscsi.cpio http://10.213.0.1:8080/boot/${MAC_A}/iscsi.cpio?t=${TOKEN} || goto failed`,
    ]);
  });

  describe('iSCSI initrd fragment (GET /boot/<mac>/iscsi.cpio)', () => {
    const kernelImage = { bootKernel: 'http://10.213.0.1:8080/k', bootInitrd: null, bootCmdline: 'root=/dev/sda1' };
    const conf = (body: Buffer | string) => {
      expect(Buffer.isBuffer(body)).toBe(true);
      const m = decodeNewc(gunzipSync(body as Buffer)).find((x) => x.path === 'etc/cmdline.d/90-dls-iscsi.conf');
      return { text: m!.data.toString(), mode: m!.mode & 0o7777 };
    };

    it("after the script, holds this boot's login (the open session's secret) and changes nothing", async () => {
      const { service, sessions, iscsi, disks } = setup({ clients: [client('a', MAC_A)], image: kernelImage });
      await service.scriptFor(MAC_A, who, TOKEN);
      const exported = iscsi.exported.length;
      const statuses = sessions.statuses('a');
      const r = await service.iscsiInitrdFor(MAC_A, who, TOKEN);
      expect(r.status).toBe(200);
      expect(r.contentType).toBe('application/octet-stream');
      const c = conf(r.body);
      expect(c.mode).toBe(0o600);
      expect(c.text).toBe(
        `rd.iscsi.initiator=iqn.2026-11.io.dls:initiator.a netroot=iscsi:ua:${FakeIscsi.secretOf(sessions.rows[0].id)}@10.213.0.1::3260:1:iqn.2026-11.io.dls:client.a\n`,
      );
      expect(iscsi.reads).toEqual([{ clientId: 'a', sessionId: sessions.rows[0].id }]);
      expect(iscsi.exported).toHaveLength(exported); // no re-export
      expect(disks.ensured).toEqual(['a']); // only the script's
      expect(sessions.rows).toHaveLength(1); // no new session
      expect(sessions.statuses('a')).toEqual(statuses);
    });

    it('a refused requester (another machine at another address) gets 403 and no secret; nothing is read or changed', async () => {
      const other = { ...who, sourceIp: '10.213.0.66' };
      const { service, sessions, iscsi } = setup({ clients: [client('a', MAC_A)], image: kernelImage, arp: { [other.sourceIp]: MAC_B } });
      await service.scriptFor(MAC_A, who, TOKEN); // the real client booted
      const exported = iscsi.exported.length;
      const r = await service.iscsiInitrdFor(MAC_A, other, TOKEN);
      expect(r.status).toBe(403);
      expect(r.contentType).toBe('text/plain; charset=utf-8');
      expect(r.body).not.toMatch(/secret|netroot|iqn/);
      expect(iscsi.reads).toEqual([]);
      expect(iscsi.exported).toHaveLength(exported);
      expect(sessions.rows).toHaveLength(1);
    });

    it('a disk in use from another address: 409, no secret, nothing read', async () => {
      const { service, iscsi } = setup({ clients: [client('a', MAC_A)], image: kernelImage });
      await service.scriptFor(MAC_A, who, TOKEN);
      iscsi.logins.set('a', { ip: '10.213.0.77', since: new Date() });
      const r = await service.iscsiInitrdFor(MAC_A, who, TOKEN);
      expect(r.status).toBe(409);
      expect(r.body).toContain('is in use by a running machine');
      expect(r.body).not.toMatch(/secret|netroot/);
      expect(iscsi.reads).toEqual([]);
    });

    it('the same address still logged in (iPXE fetching its initrd after its own script) gets it', async () => {
      const { service, iscsi } = setup({ clients: [client('a', MAC_A)], image: kernelImage });
      await service.scriptFor(MAC_A, who, TOKEN);
      iscsi.logins.set('a', { ip: who.sourceIp, since: new Date() });
      expect((await service.iscsiInitrdFor(MAC_A, who, TOKEN)).status).toBe(200);
    });

    it('no boot in progress: 409 and no session opened; an export made for another boot: 409', async () => {
      const { service, sessions, iscsi, tracker } = setup({ clients: [client('a', MAC_A)], image: kernelImage });
      const none = await service.iscsiInitrdFor(MAC_A, who, TOKEN);
      expect(none).toMatchObject({ status: 409, body: expect.stringContaining('has no boot in progress; fetch its boot script first') });
      expect(sessions.rows).toHaveLength(0);
      expect(iscsi.exported).toEqual([]);

      await service.scriptFor(MAC_A, who, TOKEN);
      await sessions.transition(sessions.rows[0].id, 'error', 'x'); // that boot ended…
      await sessions.open('a'); // …and a new one opened (DHCP) without a script yet
      tracker.syncOpenSessions(sessions.rows.filter((x) => x.status === 'starting'));
      const stale = await service.iscsiInitrdFor(MAC_A, who, TOKEN);
      expect(stale.status).toBe(409);
      expect(stale.body).toContain('its iSCSI export was not made for this boot');
      expect(stale.body).not.toContain(FakeIscsi.secretOf(sessions.rows[0].id));
    });

    it('a sanboot client, an unknown or disabled MAC: 404 without a secret', async () => {
      const { service } = setup({ clients: [client('a', MAC_A), client('b', MAC_B, { enabled: false })] });
      await service.scriptFor(MAC_A, who, TOKEN);
      expect((await service.iscsiInitrdFor(MAC_A, who, TOKEN)).status).toBe(404);
      expect((await service.iscsiInitrdFor(MAC_B, who, TOKEN)).status).toBe(404);
      expect((await service.iscsiInitrdFor('52:54:00:00:00:0c', who, TOKEN)).status).toBe(404);
      expect((await service.iscsiInitrdFor('nope', who, TOKEN)).status).toBe(400);
    });

    it('names the portal the client reached, and shares the rate limit of the script route', async () => {
      const { service, iscsi } = setup({ clients: [client('a', MAC_A)], image: kernelImage, burst: 3 });
      iscsi.portal = { address: '0.0.0.0', port: 3261 };
      await service.scriptFor(MAC_A, who, TOKEN);
      expect(conf((await service.iscsiInitrdFor(MAC_A, who, TOKEN)).body).text).toContain('@10.213.0.1::3261:1:');
      expect((await service.iscsiInitrdFor(MAC_A, who, TOKEN)).status).toBe(200);
      const limited = await service.iscsiInitrdFor(MAC_A, who, TOKEN);
      expect(limited.status).toBe(429);
      expect(limited.retryAfter).toBe(1);
    });
  });

  describe('iSCSI portal in the script', () => {
    it('tgtd on the wildcard (the default): names the address the client reached DLS on, never 0.0.0.0', async () => {
      const { service } = setup({ clients: [client('a', MAC_A)] });
      const r = await service.scriptFor(MAC_A, { sourceIp: '192.168.7.50', serverIp: '192.168.7.1' });
      expect(r.body).toContain('sanboot iscsi:192.168.7.1:::1:iqn.2026-11.io.dls:client.a || goto failed');
      expect(r.body).not.toContain('0.0.0.0');
    });

    it('kernel boot: the netroot names the reached address and keeps the listen port', async () => {
      const { service, iscsi } = setup({
        clients: [client('a', MAC_A)],
        image: { bootKernel: 'http://10.213.0.1:8080/k', bootInitrd: null, bootCmdline: null },
      });
      iscsi.portal = { address: '0.0.0.0', port: 3261 };
      await service.scriptFor(MAC_A, who);
      const r = await service.iscsiInitrdFor(MAC_A, who);
      const conf = decodeNewc(gunzipSync(r.body))[2].data.toString();
      expect(conf).toContain('@10.213.0.1::3261:1:iqn.2026-11.io.dls:client.a');
    });

    it('an explicit DLS_ISCSI_PORTAL is kept', async () => {
      const { service, iscsi } = setup({ clients: [client('a', MAC_A)], bootServerIp: '10.213.0.9' });
      iscsi.portal = { address: '10.9.0.5', port: 3261 };
      const r = await service.scriptFor(MAC_A, who);
      expect(r.body).toContain('sanboot iscsi:10.9.0.5::3261:1:iqn.2026-11.io.dls:client.a || goto failed');
    });

    it('DLS_BOOT_SERVER_IP overrides the request address; the failure report still goes where the client came', async () => {
      const { service } = setup({ clients: [client('a', MAC_A)], bootServerIp: '172.16.0.1' });
      const r = await service.scriptFor(MAC_A, who);
      expect(r.body).toContain('sanboot iscsi:172.16.0.1:::1:iqn.2026-11.io.dls:client.a || goto failed');
      expect(r.body).toContain(`chain http://10.213.0.1:8080/boot/${MAC_A}/failed?stage=sanboot`);
    });

    it('a request on loopback with no override: refuses with the fix instead of naming an unreachable portal', async () => {
      const { service, sessions } = setup({ clients: [client('a', MAC_A)] });
      const r = await service.scriptFor(MAC_A, { sourceIp: '127.0.0.1', serverIp: '127.0.0.1' });
      expect(r.body).not.toContain('sanboot');
      expect(r.body).not.toContain('password');
      expect(r.body).toContain('no iSCSI portal address for a request that arrived on 127.0.0.1 (set DLS_BOOT_SERVER_IP)');
      expect(sessions.rows[0]).toMatchObject({ status: 'error' });
    });
  });

  it('records a reported failure on the session and validates the report', async () => {
    const { service, sessions } = setup({ clients: [client('a', MAC_A)] });
    await service.scriptFor(MAC_A, who);
    expect((await service.failureReported(MAC_A, 'sanboot', 'x; rm', who)).status).toBe(400);
    const r = await service.failureReported(MAC_A, 'sanboot', '0x3D12603B', who);
    expect(r.body).toBe('#!ipxe\necho DLS: recorded the failure (stage sanboot, error 0x3d12603b)\n');
    expect(sessions.rows[0]).toMatchObject({ status: 'error', errorMessage: 'sanboot failed: iPXE error 0x3d12603b (https://ipxe.org/3d12603b)' });
  });

  describe('once per boot', () => {
    it("a boot's repeated script requests are answered from memory: no preparation, no session write, no login listing", async () => {
      const { service, sessions, disks, iscsi, events, tracker } = setup({ clients: [client('a', MAC_A)] });
      const first = await service.scriptFor(MAC_A, who, TOKEN);
      await tracker.settle('a');
      const calls = { ...sessions.calls };
      const lookups = iscsi.lookups;
      expect(lookups).toBe(1); // the first request asked tgtd about this client's target, and only that
      expect(iscsi.listings).toBe(0);
      const eventsBefore = events.length;
      expect(service.scriptNow(MAC_A, { ...who, sourceIp: '10.213.0.77' }, TOKEN)).toBeNull(); // not the address served
      for (let i = 0; i < 20; i++) expect(await service.scriptFor(MAC_A, who, TOKEN)).toEqual(first);
      for (let i = 0; i < 20; i++) expect(service.scriptNow(MAC_A, who, TOKEN)).toEqual(first); // synchronous, same answer
      await tracker.settle('a');
      expect(disks.ensured).toEqual(['a']);
      expect(iscsi.boots).toHaveLength(1);
      expect(sessions.calls).toEqual(calls);
      expect(iscsi.lookups).toBe(lookups); // tgtd is not asked again for the same boot and address
      expect(events.length).toBe(eventsBefore); // a repeat is no news for the event log
      expect(sessions.statuses('a')).toEqual(['booting']);
    });

    it('concurrent first requests for one MAC: one preparation, one session, every answer the same script', async () => {
      const { service, sessions, disks, iscsi, tracker } = setup({ clients: [client('a', MAC_A)] });
      const all = await Promise.all(Array.from({ length: 25 }, () => service.scriptFor(MAC_A, who, TOKEN)));
      await tracker.settle('a');
      expect(new Set(all.map((r) => `${r.status}|${r.body}`)).size).toBe(1);
      expect(all[0].body).toContain('sanboot');
      expect(disks.ensured).toEqual(['a']);
      expect(iscsi.boots).toHaveLength(1);
      expect(sessions.statuses('a')).toEqual(['booting']);
    });

    it('another address (even one the trust rule accepts) takes the full path: the disk-in-use check runs', async () => {
      const { service, iscsi, tracker } = setup({ clients: [client('a', MAC_A)] });
      await service.scriptFor(MAC_A, who, TOKEN);
      await tracker.settle('a');
      iscsi.logins.set('a', { ip: who.sourceIp, since: new Date() });
      const r = await service.scriptFor(MAC_A, { ...who, sourceIp: '10.213.0.77' }, TOKEN);
      expect(r.body).not.toContain('sanboot');
      expect(r.body).toContain('in use');
    });

    it('a change to what the boot was prepared from is seen by the next request', async () => {
      const { service, disks, preparation, tracker } = setup({ clients: [client('a', MAC_A)] });
      await service.scriptFor(MAC_A, who, TOKEN);
      await tracker.settle('a');
      const targetOf = disks.targetOf;
      disks.targetOf = (id) => ({ ...targetOf(id), client: { ...targetOf(id).client, hostname: 'renamed-pc' } });
      expect((await service.scriptFor(MAC_A, who, TOKEN)).body).not.toContain('renamed-pc'); // nothing said it changed
      preparation.invalidate('a'); // what BootCacheSubscriber does on the client's change event
      expect(service.scriptNow(MAC_A, who, TOKEN)).toBeNull(); // nothing kept: the full path prepares again
      expect((await service.scriptFor(MAC_A, who, TOKEN)).body).toContain('renamed-pc');
      expect(disks.ensured).toEqual(['a', 'a']);
    });
  });

  it('rate-limits per source address', async () => {
    const { service } = setup({ clients: [], burst: 2 });
    expect((await service.scriptFor(MAC_A, who)).status).toBe(200);
    expect((await service.scriptFor(MAC_A, who)).status).toBe(200);
    const r = await service.scriptFor(MAC_A, who);
    expect(r.status).toBe(429);
    expect(r.retryAfter).toBe(1);
    expect((await service.scriptFor(MAC_A, { ...who, sourceIp: '10.213.0.101' })).status).toBe(200);
  });

  it('a refused requester gets 403 and the unknown-client script: nothing prepared, no session, no CHAP', async () => {
    const { service, sessions, disks, iscsi } = setup({ clients: [client('a', MAC_A)], arp: { [who.sourceIp]: MAC_B } });
    const r = await service.scriptFor(MAC_A, who, 'tok');
    expect(r.status).toBe(403);
    expect(r.body).not.toMatch(/sanboot|password|iqn/);
    expect(disks.ensured).toEqual([]);
    expect(iscsi.exported).toEqual([]);
    expect(sessions.rows).toHaveLength(0);
    const f = await service.failureReported(MAC_A, 'sanboot', '0x3D12603B', who, 'tok');
    expect(f.status).toBe(403);
    expect(sessions.rows).toHaveLength(0);
  });

  it('a request for a client whose disk is logged in from another address changes nothing and says "in use"', async () => {
    const { service, sessions, disks, iscsi } = setup({ clients: [client('a', MAC_A)] });
    iscsi.logins.set('a', { ip: '10.213.0.77', since: new Date() });
    const r = await service.scriptFor(MAC_A, who);
    expect(r).toEqual({ status: 200, body: expect.stringContaining(`the disk of ${MAC_A} is in use by a running machine`) });
    expect(r.body).not.toMatch(/sanboot|password/);
    expect(disks.ensured).toEqual([]);
    expect(iscsi.exported).toEqual([]);
    expect(disks.resets).toEqual([]);
    expect(sessions.rows).toHaveLength(0);
  });

  it('a login listed a moment ago and not now (tgt dropped it; the client is reconnecting) still counts as "in use"', async () => {
    const { service, sessions, disks, iscsi, recent } = setup({ clients: [client('a', MAC_A)] });
    recent.record(new Map([['a', { ip: '10.213.0.77', since: new Date() }]]), Date.now() - 3000); // the monitor's last pass
    const r = await service.scriptFor(MAC_A, who);
    expect(r.body).toContain('is in use by a running machine');
    expect(disks.ensured).toEqual([]);
    expect(iscsi.exported).toEqual([]);
    expect(sessions.rows).toHaveLength(0);
    // Past the linger window the old login no longer holds the disk: the client rebooted elsewhere.
    recent.record(new Map([['a', { ip: '10.213.0.77', since: new Date() }]]), Date.now() - LOGIN_LINGER_MS - 1000);
    expect((await service.scriptFor(MAC_A, who)).body).toContain('sanboot');
  });

  it('the same address (a real reboot) proceeds even while its old login is still listed', async () => {
    const s = setup({ clients: [client('a', MAC_A)] });
    s.iscsi.logins.set('a', { ip: who.sourceIp, since: new Date() });
    expect((await s.service.scriptFor(MAC_A, who)).body).toContain('sanboot');
    expect(s.disks.ensured).toEqual(['a']);
  });

  it('the failure report URL in a script carries the token the script was fetched with', async () => {
    const { service } = setup({ clients: [client('a', MAC_A)] });
    const token = TOKEN;
    const r = await service.scriptFor(MAC_A, who, token);
    expect(r.body).toContain(`/boot/${MAC_A}/failed?stage=sanboot&err=\${errno}&t=${token}`);
  });
});

describe('BootScriptService.grubConfigFor (Secure Boot clients: shim → GRUB asks for grub/grub.cfg)', () => {
  const sbImage = { bootKernel: 'debian/vmlinuz', bootInitrd: 'debian/initrd.img', bootCmdline: 'root=LABEL=r rw ip=dhcp' };
  const at = (tracker: BootSessionTracker, mac: string | null) => {
    tracker.ownerOfIp = async (ip: string) => (mac && ip === who.sourceIp ? { clientId: 'a', mac } : null);
  };

  it('renders the kernel boot over TFTP for the client at that address, with the per-boot fragment under a token', async () => {
    const { service, tracker, iscsi } = setup({ clients: [client('a', MAC_A, { customBootParams: 'quiet' })], image: sbImage });
    at(tracker, MAC_A);
    const cfg = await service.grubConfigFor(who);
    const lines = cfg.split('\n');
    expect(lines).toContain('linux (tftp,10.213.0.1)/debian/vmlinuz root=LABEL=r rw ip=dhcp quiet');
    expect(lines).toContain(`initrd (tftp,10.213.0.1)/debian/initrd.img (tftp,10.213.0.1)/dls/${MAC_A}/tok.${MAC_A.replace(/:/g, '')}/iscsi.cpio`);
    expect(cfg).not.toMatch(/password|chap|netroot/i);
    expect(iscsi.exported).toHaveLength(1); // this boot's disk and export are ready before the kernel asks for its login
  });

  it('says why there is nothing to boot: unknown address, sanboot image, kernel not in the boot files root', async () => {
    const unknown = setup({ clients: [client('a', MAC_A)], image: sbImage });
    at(unknown.tracker, null);
    expect(await unknown.service.grubConfigFor(who)).toMatch(/^echo DLS: 10\.213\.0\.100 is not a client DLS knows$/m);

    const sanboot = setup({ clients: [client('a', MAC_A)] });
    at(sanboot.tracker, MAC_A);
    expect(await sanboot.service.grubConfigFor(who)).toMatch(/boots with sanboot: under Secure Boot that needs a signed iPXE/);

    const url = setup({ clients: [client('a', MAC_A)], image: { ...sbImage, bootKernel: 'http://10.213.0.1:8080/k' } });
    at(url.tracker, MAC_A);
    const cfg = await url.service.grubConfigFor(who);
    expect(cfg).toMatch(/no boot: bootKernel: a Secure Boot client loads its kernel and initrd from the boot files root/);
    expect(cfg).not.toMatch(/^linux /m);
  });
});
