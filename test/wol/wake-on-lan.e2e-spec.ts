/**
 * Wake-on-LAN on real interfaces (issue 10). DLS runs, whole, in a server namespace with two boot networks: range A
 * on veth `wolsa`, range B on `wolsb`; their peers `wolca` and `wolcb` sit in a client namespace where one listener
 * per UDP port hears every interface and reports where each datagram arrived. Each woken client's magic packet must
 * arrive — byte for byte, as a broadcast — on its own range's segment and nowhere else; paced; and clients DLS can't
 * reach get a per-client reason: range C's interface does not exist, range D is only relayed to `wolsa` (a
 * broadcast there would reach A's hosts, not D's), and one client has no range at all.
 *
 * Run heavy (namespaces): `flock /tmp/dls-heavy-tests.lock npx jest test/wol --selectProjects e2e`.
 */
import { spawn } from 'child_process';
import { promises as fs, readFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { decodeMagicPacket, encodeMagicPacket } from '../../src/protocols/wol';
import { NsProcess } from '../dhcp/dhcp-harness';
import { inNs, Namespaces, waitFor } from '../net/netns-harness';
import { removeEmbeddedPostgres } from '../support/leftovers';

jest.setTimeout(300_000);

const pid = process.pid;
const X = 100 + ((pid + 53) % 100);
const net = (n: number, host: number) => `10.${X}.${n}.${host}`;
const mac = (n: number) => `52:54:${X.toString(16).padStart(2, '0')}:00:10:${n.toString(16).padStart(2, '0')}`;
const SETUP_TIMEOUT_MS = 240_000;
/** DLS_WOL_GAP_MS's default. */
const DEFAULT_GAP_MS = 10;

interface Packet {
  port: number;
  ifname: string;
  destination: string;
  source: string;
  hex: string;
  at: number;
}

/**
 * Captures magic packets in a namespace with tcpdump (`-i any`, ports 9 and 7) and returns the kernel's time of each
 * (ms). Run in the server namespace, that is when DLS's send left (taken in the sending syscall): the pacing check
 * must not depend on when a busy machine schedules the listener process or the receiving softirq.
 */
async function captureWol(ns: string, file: string): Promise<{ stop(): Promise<number[]> }> {
  const child = spawn(
    'ip',
    ['netns', 'exec', ns, 'tcpdump', '-i', 'any', '-w', file, '-U', '--immediate-mode', '-n', 'udp and (dst port 9 or dst port 7)'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let err = '';
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await waitFor(
    'tcpdump to listen',
    () => (err.includes('listening on') ? true : child.exitCode !== null ? Promise.reject(new Error(err)) : null),
    30_000,
    20,
  );
  return {
    async stop(): Promise<number[]> {
      child.kill('SIGINT'); // tcpdump flushes on SIGINT
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      // Classic pcap: a 24-byte header, then per record ts_sec, ts_usec, incl_len, orig_len (little-endian) and data.
      const buf = readFileSync(file);
      const at: number[] = [];
      for (let off = 24; off + 16 <= buf.length; off += 16 + buf.readUInt32LE(off + 8)) {
        at.push(buf.readUInt32LE(off) * 1000 + buf.readUInt32LE(off + 4) / 1000);
      }
      return at;
    },
  };
}

describe('Wake-on-LAN on real interfaces (e2e)', () => {
  const namespaces = new Namespaces();
  const nsServer = `wol-srv-${pid}`;
  const nsClient = `wol-cli-${pid}`;
  let baseDir = '';
  let dls: NsProcess | null = null;
  let listener: NsProcess | null = null;
  const ids: Record<string, string> = {};

  const api = async (method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const r = await dls!.call<{ status: number; body: any }>({ cmd: 'http', method, path: urlPath, body }, 60_000);
    return { status: r.status, body: r.body };
  };
  const ok = async (method: string, urlPath: string, body?: unknown): Promise<any> => {
    const r = await api(method, urlPath, body);
    if (r.status >= 300) throw new Error(`${method} ${urlPath} → ${r.status} ${JSON.stringify(r.body)}\nDLS log:\n${serverLog()}`);
    return r.body;
  };
  const packets = (): Packet[] => listener!.select('packet') as unknown as Packet[];
  const packetsFor = (m: string): Packet[] => packets().filter((p) => decodeMagicPacket(Buffer.from(p.hex, 'hex')).mac === m);
  /** Waits until `n` packets for `m` have arrived, then returns every packet for it. */
  const arrived = (m: string, n: number): Promise<Packet[]> =>
    waitFor(`${n} magic packets for ${m}`, () => (packetsFor(m).length >= n ? packetsFor(m) : null), 15_000, 10).catch((err: Error) => {
      throw new Error(`${err.message}; got ${JSON.stringify(packets())}\nDLS log:\n${serverLog()}`);
    });
  const serverLog = (): string =>
    dls!.events
      .filter((e) => !e.event)
      .map((e) => JSON.stringify(e))
      .join('\n')
      .slice(-6000);

  beforeAll(async () => {
    baseDir = await fs.mkdtemp(path.join(os.tmpdir(), `dls-wol-e2e-${pid}-`));
    // The embedded PostgreSQL's user must reach its cluster under the data dir (else DLS keeps it elsewhere).
    await fs.chmod(baseDir, 0o755);
    await namespaces.add(nsServer);
    await namespaces.add(nsClient);
    for (const [srv, cli, n] of [['wolsa', 'wolca', 1] as const, ['wolsb', 'wolcb', 2] as const]) {
      await inNs(nsServer, 'ip', ['link', 'add', srv, 'type', 'veth', 'peer', 'name', cli, 'netns', nsClient]);
      await inNs(nsServer, 'ip', ['addr', 'add', `${net(n, 1)}/24`, 'dev', srv]);
      await inNs(nsClient, 'ip', ['addr', 'add', `${net(n, 50)}/24`, 'dev', cli]);
      await inNs(nsServer, 'ip', ['link', 'set', srv, 'up']);
      await inNs(nsClient, 'ip', ['link', 'set', cli, 'up']);
    }
    listener = new NsProcess(nsClient, '../../wol/fixtures/wol-listener.ts', { ports: [9, 7] });
    await listener.waitForEvent('ready', () => true, 60_000);
    dls = new NsProcess(nsServer, '../../wol/fixtures/dls-app-host.ts', {
      baseDir,
      adminPassword: `wol-admin-${pid}-Secret!`,
      env: {
        // Both ports, as a user sets it for NICs that listen on the echo port (the default is 9 alone).
        DLS_WOL_PORTS: '9,7',
        // A Wake-on-LAN-only install: no iSCSI (no tgtd to start here).
        DLS_ISCSI_ENABLED: 'false',
      },
    });
    await dls.waitForEvent('ready', () => true, 180_000);

    const range = (name: string, n: number, iface: string) =>
      ok('POST', '/api/v1/network-ranges', {
        name: `${name}-${pid}`,
        cidr: `${net(n, 0)}/24`,
        gateway: net(n, 1),
        dhcpMode: 'full',
        poolStart: net(n, 100),
        poolEnd: net(n, 149),
        interface: iface,
      });
    ids.A = (await range('A', 1, 'wolsa')).id;
    ids.B = (await range('B', 2, 'wolsb')).id;
    ids.C = (await range('C', 3, 'wolsc')).id; // no such interface
    ids.D = (await range('D', 4, 'wolsa')).id; // relayed: wolsa has no address in it
    const group = async (name: string, over: Record<string, unknown> = {}) =>
      (await ok('POST', '/api/v1/client-groups', { name: `${name}-${pid}`, ...over })).id;
    ids.G = await group('room');
    ids.H = await group('late', { defaultForRangeId: ids.B });
    const client = async (n: number, hostname: string, over: Record<string, unknown>) =>
      (await ok('POST', '/api/v1/clients', { macAddress: mac(n), hostname: `${hostname}-${pid}`, ...over })).id;
    ids.a1 = await client(1, 'a1', { ipAddress: net(1, 21), groupId: ids.G });
    ids.b1 = await client(2, 'b1', { ipAddress: net(2, 21), groupId: ids.G });
    ids.c1 = await client(3, 'c1', { ipAddress: net(3, 21), groupId: ids.G });
    ids.d1 = await client(4, 'd1', { ipAddress: net(4, 21), groupId: ids.G });
    ids.n1 = await client(5, 'n1', { groupId: ids.G });
    ids.a2 = await client(6, 'a2', { ipAddress: net(1, 22) });
    ids.h1 = await client(7, 'h1', { groupId: ids.H });

    // DHCP serves A and B (C's interface is missing; D is relayed to wolsa) once the range change is picked up.
    await waitFor(
      'DHCP bound to wolsa and wolsb',
      async () => {
        const r = await api('GET', '/api/v1/health/ready');
        const names = ((r.body?.details?.dhcp?.interfaces ?? []) as { name: string }[]).map((i) => i.name);
        return names.includes('wolsa') && names.includes('wolsb');
      },
      60_000,
      200,
    );
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.all([dls?.stop(30_000), listener?.stop()]);
    if (baseDir) await removeEmbeddedPostgres(baseDir).catch(() => undefined);
    await namespaces.cleanup();
    if (baseDir) await fs.rm(baseDir, { recursive: true, force: true }).catch(() => undefined);
  }, SETUP_TIMEOUT_MS);

  it("a client's magic packet arrives, byte for byte, as a broadcast on its range's interface only, to ports 9 and 7", async () => {
    const r = await ok('POST', `/api/v1/clients/${ids.a1}/wake`);
    expect(r).toMatchObject({ status: 'ok', rangeId: ids.A, interface: 'wolsa', source: 'reservation', ports: [9, 7] });
    const got = await arrived(mac(1), 2);
    const expected = 'ffffffffffff' + mac(1).replace(/:/g, '').repeat(16);
    expect(encodeMagicPacket(mac(1)).toString('hex')).toBe(expected);
    expect(got.map((p) => [p.port, p.ifname, p.destination, p.hex])).toEqual([
      [9, 'wolca', '255.255.255.255', expected],
      [7, 'wolca', '255.255.255.255', expected],
    ]);
    expect(got[0].source).toBe(`${net(1, 1)}:67`); // through the DHCP server's socket on wolsa

    // B's client next: its packets arrive on wolcb. Had A's packets also left on wolsb, they would be here before them.
    await ok('POST', `/api/v1/clients/${ids.b1}/wake`);
    const b = await arrived(mac(2), 2);
    expect(b.map((p) => p.ifname)).toEqual(['wolcb', 'wolcb']);
    expect(
      packets()
        .filter((p) => p.ifname === 'wolcb')
        .map((p) => p.hex),
    ).toEqual(b.map((p) => p.hex));
    expect(
      packets()
        .filter((p) => p.ifname === 'wolca')
        .map((p) => p.hex),
    ).toEqual(got.map((p) => p.hex));
  });

  it('a client DLS cannot reach gets 409 naming why, and nothing is sent', async () => {
    const before = packets().length;
    const c = await api('POST', `/api/v1/clients/${ids.c1}/wake`);
    expect(c.status).toBe(409);
    expect(c.body).toMatchObject({ code: 'INTERFACE_UNAVAILABLE', details: { rangeId: ids.C, interface: 'wolsc' } });
    expect(c.body.message).toMatch(/interface wolsc of range C-\d+ is not served: interface missing/);
    const d = await api('POST', `/api/v1/clients/${ids.d1}/wake`);
    expect(d.status).toBe(409);
    expect(d.body).toMatchObject({ code: 'RANGE_RELAYED', details: { rangeId: ids.D, interface: 'wolsa' } });
    const n = await api('POST', `/api/v1/clients/${ids.n1}/wake`);
    expect([n.status, n.body.code]).toEqual([409, 'WAKE_NO_RANGE']);
    // A wake that does send, to be sure the ones above had time to arrive had they been sent.
    await ok('POST', `/api/v1/clients/${ids.a2}/wake`);
    await arrived(mac(6), 2);
    expect(
      packets()
        .slice(before)
        .map((p) => decodeMagicPacket(Buffer.from(p.hex, 'hex')).mac),
    ).toEqual([mac(6), mac(6)]);
  });

  it('a group: every member on its own interface, paced; the others reported per client', async () => {
    const before = packets().length;
    const capture = await captureWol(nsServer, path.join(baseDir, 'group-wake.pcap'));
    const r = await ok('POST', `/api/v1/client-groups/${ids.G}/wake`);
    expect(r).toMatchObject({ groupId: ids.G, total: 5, sent: 2, failed: 3 });
    const byId = Object.fromEntries(r.results.map((x: any) => [x.clientId, x]));
    expect(byId[ids.a1]).toMatchObject({ status: 'ok', interface: 'wolsa' });
    expect(byId[ids.b1]).toMatchObject({ status: 'ok', interface: 'wolsb' });
    expect(byId[ids.c1]).toMatchObject({ status: 'failed', code: 'INTERFACE_UNAVAILABLE' });
    expect(byId[ids.d1]).toMatchObject({ status: 'failed', code: 'RANGE_RELAYED' });
    expect(byId[ids.n1]).toMatchObject({ status: 'failed', code: 'WAKE_NO_RANGE' });
    await waitFor('the group’s 4 packets', () => packets().length >= before + 4, 15_000, 10);
    const got = packets().slice(before);
    expect(got.map((p) => [decodeMagicPacket(Buffer.from(p.hex, 'hex')).mac, p.port, p.ifname])).toEqual([
      [mac(1), 9, 'wolca'],
      [mac(1), 7, 'wolca'],
      [mac(2), 9, 'wolcb'],
      [mac(2), 7, 'wolcb'],
    ]);
    // Paced: DLS_WOL_GAP_MS (10 ms by default) between packets, by the kernel's send times (the listener's own clock
    // shows when it was scheduled, which on a busy machine squeezed a 10 ms gap to 3 ms).
    const wire = await capture.stop();
    expect(wire).toHaveLength(4);
    for (let i = 1; i < wire.length; i++) expect(wire[i] - wire[i - 1]).toBeGreaterThanOrEqual(DEFAULT_GAP_MS - 0.01); // pcap keeps microseconds
  });

  it("the bulk 'wake' action and a schedule run send the same way; a group's default range counts as the client's range", async () => {
    const bulk = await ok('POST', '/api/v1/clients/actions', { action: 'wake', ids: [ids.a2, ids.h1] });
    expect(bulk).toMatchObject({ action: 'wake', total: 2, failed: 0 });
    expect((await arrived(mac(7), 2)).map((p) => p.ifname)).toEqual(['wolcb', 'wolcb']);
    expect((await arrived(mac(6), 4)).map((p) => p.ifname)).toEqual(['wolca', 'wolca', 'wolca', 'wolca']);

    const s = await ok('POST', '/api/v1/wake-schedules', {
      groupId: ids.H,
      days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
      time: '03:00',
      timezone: 'UTC',
    });
    const at = new Date(new Date(s.nextRunAt).getTime() + 1000).toISOString();
    const run = await dls!.call<{ report: any }>({ cmd: 'run-schedules', at }, 60_000);
    expect(run.report.fired).toEqual([expect.objectContaining({ scheduleId: s.id, total: 1, failed: 0 })]);
    expect((await arrived(mac(7), 4)).map((p) => p.ifname)).toEqual(['wolcb', 'wolcb', 'wolcb', 'wolcb']);
    const audit = await ok('GET', `/api/v1/audit?entityType=wake-schedules&q=wake-schedules.run`);
    expect(audit.items.map((e: any) => [e.action, e.entityId])).toContainEqual(['wake-schedules.run', s.id]);
  });

  it('nothing ever arrived on the wrong segment', () => {
    const home: Record<string, string> = { [mac(1)]: 'wolca', [mac(6)]: 'wolca', [mac(2)]: 'wolcb', [mac(7)]: 'wolcb' };
    const wrong = packets().filter((p) => home[decodeMagicPacket(Buffer.from(p.hex, 'hex')).mac] !== p.ifname);
    expect(wrong).toEqual([]);
    expect(listener!.select('socket-error')).toEqual([]);
  });
});
