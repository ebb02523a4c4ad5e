/**
 * The DHCP server against real interfaces. A server namespace holds three bridges (A and B full mode, P proxy mode)
 * and a routed link to a relay namespace (range R, reached only through the relay's giaddr). One client namespace
 * hangs a veth off each bridge; raw requests are built with the project's codec and the replies decoded here.
 * The server runs in its namespace with its own embedded PostgreSQL (the host's loopback is out of reach there).
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  decodeDhcp,
  decodeSubOptions,
  DhcpMessageType,
  DhcpOptionCode,
  DhcpPacket,
  getIp,
  getString,
  IpxeEncapOption,
} from '../../src/protocols/dhcp';
import { addBridge, addBridgePort, inNs, Namespaces, sysctl, waitFor } from '../net/netns-harness';
import { buildRequest, NsProcess, RequestSpec, stopLeftoverPostgres } from './dhcp-harness';

const pid = process.pid;
const X = 100 + (pid % 100); // 10.X.0.0/16 for this run
const net = (n: number, host: number) => `10.${X}.${n}.${host}`;
const HTTP_PORT = 8080;
const SETUP_TIMEOUT_MS = 90_000;
const mac = (group: number, n: number) =>
  `52:54:${X.toString(16).padStart(2, '0')}:00:${group.toString(16).padStart(2, '0')}:${n.toString(16).padStart(2, '0')}`;

interface Lease {
  ip: string;
  mac: string;
  state: string;
  hostname: string | null;
}

/** The per-MAC script URL DLS hands iPXE, with its short-lived boot token (`?t=<expiry>.<hmac>`). */
function scriptUrl(host: string, mac: string): RegExp {
  const esc = (x: string) => x.replace(/[.]/g, '\\.');
  return new RegExp(`^http://${esc(host)}:${HTTP_PORT}/boot/${mac}\\.ipxe\\?t=[0-9a-z]+\\.[A-Za-z0-9_-]{22}$`);
}

describe('DhcpServer in network namespaces', () => {
  const namespaces = new Namespaces();
  const nsServer = `dlsd-srv-${pid}`;
  const nsClient = `dlsd-cli-${pid}`;
  const nsRelay = `dlsd-rly-${pid}`;
  let baseDir = '';
  let server: NsProcess | null = null;
  let peer: NsProcess;
  let relay: NsProcess;
  let xid = (pid & 0xffff) << 12;

  const hostConfig = () => ({ baseDir, dhcpPort: 67, httpPort: HTTP_PORT, ipv6Ra: true });
  const startServer = async (): Promise<NsProcess> => {
    const p = new NsProcess(nsServer, 'dhcp-server-host.ts', hostConfig());
    server = p;
    await p.waitForEvent('ready', () => true, 60_000);
    return p;
  };

  /** Sends one request from the client namespace on `side` (a, b or p) and returns the replies with its xid. */
  const send = (side: 'a' | 'b' | 'p', spec: Omit<RequestSpec, 'xid'> & { xid?: number }, to = '255.255.255.255', port = 67) => {
    const id = spec.xid ?? ++xid;
    peer.command({ cmd: 'send', socket: side, hex: buildRequest({ ...spec, xid: id }).toString('hex'), address: to, port });
    return id;
  };
  const replies = (proc: NsProcess, id: number, socket?: string): DhcpPacket[] =>
    proc
      .select('message', (e) => socket === undefined || e.socket === socket)
      .map((e) => decodeDhcp(Buffer.from(String(e.hex), 'hex')))
      .filter((p) => p.xid === id);
  const reply = async (proc: NsProcess, id: number, socket?: string, timeoutMs = 15_000): Promise<DhcpPacket> =>
    waitFor(`reply to xid ${id}`, () => replies(proc, id, socket)[0], timeoutMs, 20);
  const typeOf = (p: DhcpPacket) => p.options.get(DhcpOptionCode.MESSAGE_TYPE)?.[0];
  const stats = async () => (await server!.call<{ stats: Record<string, number> }>({ cmd: 'stats' })).stats;
  const leases = async () => (await server!.call<{ leases: Lease[] }>({ cmd: 'leases' })).leases;
  /** Waits until the server has dealt with `n` more datagrams than `before` (answered or dropped). */
  const handled = async (before: Record<string, number>, field: string, n = 1) =>
    waitFor(`${field} += ${n}`, async () => (await stats())[field] >= before[field] + n, 15_000, 50);

  /**
   * Sends `spec` and waits for a reply matching `accept`, sending it again every 4 s as a PXE client does (the server
   * drops requests that waited past the client's retransmit interval: on a loaded machine a lone packet may be one).
   */
  const exchange = async (
    side: 'a' | 'b',
    spec: Omit<RequestSpec, 'xid'> & { xid: number },
    accept: (p: DhcpPacket) => boolean,
  ): Promise<DhcpPacket> => {
    const end = Date.now() + 30_000;
    for (;;) {
      send(side, spec);
      const got = await waitFor('reply', () => replies(peer, spec.xid, side).find(accept), 4_000, 20).catch(() => null);
      if (got) return got;
      if (Date.now() > end) {
        const seen = replies(peer, spec.xid, side).map((p) => `${typeOf(p)} ${p.yiaddr}`);
        throw new Error(
          `no reply to xid ${spec.xid} (${side}) within 30 s of retransmissions; seen [${seen.join(', ')}]; stats ${JSON.stringify(await stats())}`,
        );
      }
    }
  };

  /** Full DORA on one side (retransmitting as a client does); returns the ACK. */
  const dora = async (side: 'a' | 'b', m: string, extra: Partial<RequestSpec> = {}): Promise<DhcpPacket> => {
    const d = ++xid;
    const offer = await exchange(side, { type: DhcpMessageType.DISCOVER, mac: m, ...extra, xid: d }, () => true);
    expect(typeOf(offer)).toBe(DhcpMessageType.OFFER);
    const serverId = getIp(offer.options, DhcpOptionCode.SERVER_ID)!;
    return exchange(
      side,
      { type: DhcpMessageType.REQUEST, mac: m, requestedIp: offer.yiaddr, serverId, ...extra, xid: d },
      (p) => typeOf(p) !== DhcpMessageType.OFFER,
    );
  };

  beforeAll(async () => {
    baseDir = await fs.mkdtemp(path.join(os.tmpdir(), `dls-dhcp-e2e-${pid}-`));
    await namespaces.add(nsServer);
    await namespaces.add(nsClient);
    await namespaces.add(nsRelay);
    // Link-local addresses usable at once, so the router advertiser can send as soon as it starts.
    for (const ns of [nsServer, nsClient]) {
      await sysctl(ns, 'net.ipv6.conf.all.accept_dad', 0);
      await sysctl(ns, 'net.ipv6.conf.default.accept_dad', 0);
    }
    for (const [side, n] of [
      ['a', 1],
      ['b', 2],
      ['p', 4],
    ] as const) {
      await addBridge(nsServer, `br-${side}`);
      await addBridgePort(nsServer, `br-${side}`, `vs-${side}`, nsClient, `vc-${side}`);
      await inNs(nsServer, 'ip', ['addr', 'add', `${net(n, 1)}/24`, 'dev', `br-${side}`]);
      await inNs(nsServer, 'ip', ['link', 'set', `br-${side}`, 'up']);
      await inNs(nsClient, 'ip', ['link', 'set', `vc-${side}`, 'up']);
    }
    // The proxy-mode client already has its address (from "another" DHCP server), so it can unicast to port 4011.
    await inNs(nsClient, 'ip', ['addr', 'add', `${net(4, 50)}/24`, 'dev', 'vc-p']);
    // Relay link: server 10.X.9.1/30 ↔ relay 10.X.9.2/30; the relay's client-side address 10.X.3.1 is giaddr.
    await inNs(nsServer, 'ip', ['link', 'add', 'vr-s', 'type', 'veth', 'peer', 'name', 'vr-r', 'netns', nsRelay]);
    await inNs(nsServer, 'ip', ['addr', 'add', `${net(9, 1)}/30`, 'dev', 'vr-s']);
    await inNs(nsServer, 'ip', ['link', 'set', 'vr-s', 'up']);
    await inNs(nsRelay, 'ip', ['addr', 'add', `${net(9, 2)}/30`, 'dev', 'vr-r']);
    await inNs(nsRelay, 'ip', ['addr', 'add', `${net(3, 1)}/24`, 'dev', 'vr-r']);
    await inNs(nsRelay, 'ip', ['link', 'set', 'vr-r', 'up']);
    await inNs(nsServer, 'ip', ['route', 'add', `${net(3, 0)}/24`, 'via', net(9, 2)]);

    peer = new NsProcess(nsClient, 'udp-peer.ts', {
      sockets: ['a', 'b', 'p'].map((s) => ({ name: s, interface: `vc-${s}`, address: '0.0.0.0', port: 68 })),
      ra: ['vc-a'],
    });
    relay = new NsProcess(nsRelay, 'udp-peer.ts', { sockets: [{ name: 'relay', address: '0.0.0.0', port: 67 }] });
    await Promise.all([peer.waitForEvent('ready', () => true, 60_000), relay.waitForEvent('ready', () => true, 60_000)]);
    await startServer();

    const range = (name: string, n: number, iface: string | null, extra: Record<string, unknown> = {}) => ({
      name: `${name}-${pid}`,
      cidr: `${net(n, 0)}/24`,
      gateway: net(n, 1),
      dnsServers: [net(n, 1)],
      dhcpMode: 'full',
      poolStart: net(n, 100),
      poolEnd: net(n, 149),
      leaseSeconds: 600,
      interface: iface,
      unknownClientPolicy: 'ignore',
      ...extra,
    });
    const clients = [
      { macAddress: mac(1, 1), hostname: 'pc-ipxe' },
      { macAddress: mac(1, 2), hostname: 'pc-uefi' },
      { macAddress: mac(1, 3), hostname: 'pc-relayed' },
      { macAddress: mac(1, 4), hostname: 'pc-decline' },
      { macAddress: mac(1, 5), hostname: 'pc-restart' },
      { macAddress: mac(1, 6), hostname: 'pc-proxy' },
      { macAddress: mac(1, 7), hostname: 'pc-disabled', enabled: false },
      { macAddress: mac(1, 8), hostname: 'pc-garbage' },
      ...Array.from({ length: 20 }, (_, i) => ({ macAddress: mac(2, i + 1), hostname: `storm-${i + 1}` })),
    ];
    const seeded = await server!.call<{ status: { running: boolean; ranges: { cidr: string; relayOnly: boolean }[] } }>({
      cmd: 'seed',
      ranges: [
        range('A', 1, 'br-a'),
        range('B', 2, 'br-b', { unknownClientPolicy: 'register' }),
        range('R', 3, 'vr-s', { gateway: net(3, 1) }),
        range('P', 4, 'br-p', { dhcpMode: 'proxy', poolStart: null, poolEnd: null }),
        range('D', 5, null),
      ],
      clients,
    });
    expect(seeded.status.running).toBe(true);
    expect(seeded.status.ranges.map((r) => [r.cidr, r.relayOnly]).sort()).toEqual([
      [`${net(1, 0)}/24`, false],
      [`${net(2, 0)}/24`, false],
      [`${net(3, 0)}/24`, true],
      [`${net(4, 0)}/24`, false],
    ]);
    for (const side of ['a', 'b', 'p']) {
      await waitFor(`br-${side} up`, async () => (await inNs(nsServer, 'ip', ['-br', 'link', 'show', `br-${side}`])).includes(' UP '));
    }
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.all([server?.stop(), peer?.stop(), relay?.stop()]);
    if (baseDir) stopLeftoverPostgres(baseDir);
    await namespaces.cleanup();
    if (baseDir) await fs.rm(baseDir, { recursive: true, force: true }).catch(() => undefined);
  }, SETUP_TIMEOUT_MS);

  it('logs and skips a range without an interface', () => {
    expect(server!.stderr.join('')).toContain(`range D-${pid} has no interface; DHCP will not serve it`);
  });

  it('runs DISCOVER/OFFER/REQUEST/ACK for an iPXE client on bridge A with its boot script', async () => {
    const m = mac(1, 1);
    const d = send('a', { type: DhcpMessageType.DISCOVER, mac: m, ipxe: true, pxeArch: 0 });
    const offer = await reply(peer, d, 'a');
    expect(typeOf(offer)).toBe(DhcpMessageType.OFFER);
    const [, , , last] = offer.yiaddr.split('.').map(Number);
    expect(offer.yiaddr.startsWith(`10.${X}.1.`) && last >= 100 && last <= 149).toBe(true);
    expect(offer.siaddr).toBe(net(1, 1));
    expect(getIp(offer.options, DhcpOptionCode.SERVER_ID)).toBe(net(1, 1));
    expect(getIp(offer.options, DhcpOptionCode.SUBNET_MASK)).toBe('255.255.255.0');
    expect(getIp(offer.options, DhcpOptionCode.ROUTER)).toBe(net(1, 1));
    expect(getString(offer.options, DhcpOptionCode.HOSTNAME)).toBe('pc-ipxe');
    const url = scriptUrl(net(1, 1), m);
    expect(getString(offer.options, DhcpOptionCode.BOOTFILE_NAME)).toMatch(url);
    const encap = decodeSubOptions(offer.options.get(DhcpOptionCode.IPXE_ENCAP)!);
    expect(encap.get(IpxeEncapOption.NO_PXEDHCP)).toEqual(Buffer.from([1]));

    const r = send('a', { type: DhcpMessageType.REQUEST, mac: m, ipxe: true, pxeArch: 0, xid: d, requestedIp: offer.yiaddr, serverId: net(1, 1) });
    const ack = await waitFor('ACK', () => replies(peer, r, 'a').find((p) => typeOf(p) === DhcpMessageType.ACK));
    expect(ack.yiaddr).toBe(offer.yiaddr);
    expect(getString(ack.options, DhcpOptionCode.BOOTFILE_NAME)).toMatch(url);
    // Only bridge A's client heard it.
    expect(replies(peer, d, 'b')).toEqual([]);
    expect((await leases()).find((l) => l.mac === m)).toMatchObject({ ip: offer.yiaddr, state: 'bound' });
    const tracked = server!.select('tracked', (e) => (e.e as { mac: string }).mac === m).map((e) => e.e);
    expect(tracked).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ messageType: 'discover', ip: offer.yiaddr, serverIp: net(1, 1), isIpxe: true, arch: 0 }),
        expect.objectContaining({ messageType: 'request', ip: offer.yiaddr }),
      ]),
    );
  });

  it('serves the same MAC arriving on bridge B from B’s range only', async () => {
    const m = mac(1, 1);
    const d = send('b', { type: DhcpMessageType.DISCOVER, mac: m, ipxe: true, pxeArch: 0 });
    const offer = await reply(peer, d, 'b');
    expect(offer.yiaddr.startsWith(`10.${X}.2.`)).toBe(true);
    expect(getIp(offer.options, DhcpOptionCode.SERVER_ID)).toBe(net(2, 1));
    expect(getString(offer.options, DhcpOptionCode.BOOTFILE_NAME)).toMatch(scriptUrl(net(2, 1), m));
    expect(replies(peer, d, 'a')).toEqual([]);
  });

  it('gives a plain UEFI PXE ROM the TFTP loader, and a disabled client an address without boot file', async () => {
    const uefi = await reply(peer, send('a', { type: DhcpMessageType.DISCOVER, mac: mac(1, 2), pxeArch: 7, flags: 0x8000 }), 'a');
    expect(uefi.file).toBe('ipxe.efi');
    expect(uefi.siaddr).toBe(net(1, 1));
    expect(uefi.options.has(DhcpOptionCode.IPXE_ENCAP)).toBe(false);
    const disabled = await reply(peer, send('a', { type: DhcpMessageType.DISCOVER, mac: mac(1, 7), ipxe: true, pxeArch: 0 }), 'a');
    expect(disabled.yiaddr).not.toBe('0.0.0.0');
    expect(disabled.options.has(DhcpOptionCode.BOOTFILE_NAME)).toBe(false);
    expect(disabled.file).toBe('');
  });

  it('ignores an unknown MAC on A (policy ignore) and registers it as pending on B (policy register)', async () => {
    const unknown = mac(3, 1);
    const before = await stats();
    const ignored = send('a', { type: DhcpMessageType.DISCOVER, mac: unknown, ipxe: true, pxeArch: 0 });
    await handled(before, 'dropped');
    expect(replies(peer, ignored)).toEqual([]);
    expect((await server!.call<{ client: unknown }>({ cmd: 'client', mac: unknown })).client).toBeNull();

    const offer = await reply(peer, send('b', { type: DhcpMessageType.DISCOVER, mac: unknown, ipxe: true, pxeArch: 0 }), 'b');
    expect(offer.yiaddr.startsWith(`10.${X}.2.`)).toBe(true);
    expect(offer.options.has(DhcpOptionCode.BOOTFILE_NAME)).toBe(false);
    const { client } = await server!.call<{ client: Record<string, unknown> }>({ cmd: 'client', mac: unknown });
    expect(client).toMatchObject({ enabled: false, pending: true, hostname: `pending-${unknown.replace(/:/g, '')}` });
    expect(server!.select('tracked', (e) => (e.e as { mac: string }).mac === unknown)).toEqual([]);
  });

  it('answers a relayed request to giaddr:67 from the range containing giaddr', async () => {
    const m = mac(1, 3);
    const id = ++xid;
    const hex = buildRequest({ type: DhcpMessageType.DISCOVER, mac: m, xid: id, giaddr: net(3, 1), hops: 1, ipxe: true, pxeArch: 0 });
    relay.command({ cmd: 'send', socket: 'relay', hex: hex.toString('hex'), address: net(9, 1), port: 67 });
    const offer = await reply(relay, id, 'relay');
    const msg = relay.select('message', (e) => decodeDhcp(Buffer.from(String(e.hex), 'hex')).xid === id)[0];
    expect((msg.info as { port: number }).port).toBe(67);
    expect(offer.giaddr).toBe(net(3, 1));
    expect(offer.yiaddr.startsWith(`10.${X}.3.`)).toBe(true);
    expect(getIp(offer.options, DhcpOptionCode.ROUTER)).toBe(net(3, 1));
    expect(getIp(offer.options, DhcpOptionCode.SERVER_ID)).toBe(net(9, 1));
    expect(getString(offer.options, DhcpOptionCode.BOOTFILE_NAME)).toMatch(scriptUrl(net(9, 1), m));
    expect(replies(peer, id)).toEqual([]);
  });

  it('gives 20 concurrent clients 20 distinct addresses', async () => {
    const macs = Array.from({ length: 20 }, (_, i) => mac(2, i + 1));
    const acks = await Promise.all(macs.map((m) => dora('a', m, { ipxe: true, pxeArch: 0 })));
    expect(acks.map(typeOf)).toEqual(macs.map(() => DhcpMessageType.ACK));
    const ips = acks.map((a) => a.yiaddr);
    expect(new Set(ips).size).toBe(20);
    const bound = (await leases()).filter((l) => macs.includes(l.mac) && l.state === 'bound');
    expect(bound.map((l) => l.ip).sort()).toEqual([...ips].sort());
  });

  it('quarantines a DECLINEd address and offers the client another one', async () => {
    const m = mac(1, 4);
    const ack = await dora('a', m);
    const before = await stats();
    send('a', { type: DhcpMessageType.DECLINE, mac: m, requestedIp: ack.yiaddr, serverId: net(1, 1) });
    await handled(before, 'declines');
    const quarantined = (await leases()).find((l) => l.ip === ack.yiaddr)!;
    expect(quarantined).toMatchObject({ state: 'declined', hostname: `declined by ${m}` });
    const again = await dora('a', m);
    expect(again.yiaddr).not.toBe(ack.yiaddr);
  });

  it('keeps answering after garbage datagrams', async () => {
    const before = await stats();
    const garbage = [
      Buffer.from('hello'),
      Buffer.alloc(300, 0xff),
      buildRequest({ type: DhcpMessageType.DISCOVER, mac: mac(1, 8), xid: 1 }).subarray(0, 250),
    ];
    const truncatedOption = buildRequest({ type: DhcpMessageType.DISCOVER, mac: mac(1, 8), xid: 2 });
    truncatedOption[241] = 200; // option 53's length now runs past the packet
    for (const g of [...garbage, truncatedOption]) {
      peer.command({ cmd: 'send', socket: 'a', hex: g.toString('hex'), address: '255.255.255.255', port: 67 });
    }
    await handled(before, 'malformed', 4);
    const offer = await reply(peer, send('a', { type: DhcpMessageType.DISCOVER, mac: mac(1, 8) }), 'a');
    expect(typeOf(offer)).toBe(DhcpMessageType.OFFER);
    expect(server!.running).toBe(true);
  });

  it('proxy mode: a PXE DISCOVER gets an OFFER without yiaddr, and a REQUEST on 4011 an ACK', async () => {
    const m = mac(1, 6);
    const d = send('p', { type: DhcpMessageType.DISCOVER, mac: m, pxeArch: 0 });
    const offer = await reply(peer, d, 'p');
    expect(typeOf(offer)).toBe(DhcpMessageType.OFFER);
    expect(offer.yiaddr).toBe('0.0.0.0');
    expect(offer.options.has(DhcpOptionCode.LEASE_TIME)).toBe(false);
    expect(getString(offer.options, DhcpOptionCode.VENDOR_CLASS)).toBe('PXEClient');
    expect(offer.options.has(DhcpOptionCode.IPXE_ENCAP)).toBe(false);
    expect(offer.file).toBe('undionly.kpxe');
    expect(offer.siaddr).toBe(net(4, 1));

    const r = send('p', { type: DhcpMessageType.REQUEST, mac: m, pxeArch: 0, ciaddr: net(4, 50) }, net(4, 1), 4011);
    const ack = await waitFor('proxy ACK', () => replies(peer, r, 'p').find((p) => typeOf(p) === DhcpMessageType.ACK));
    expect(ack.yiaddr).toBe('0.0.0.0');
    expect(ack.file).toBe('undionly.kpxe');
    // A non-PXE client and an unknown PXE client get nothing from a proxy.
    const before = await stats();
    const plain = send('p', { type: DhcpMessageType.DISCOVER, mac: m });
    const stranger = send('p', { type: DhcpMessageType.DISCOVER, mac: mac(3, 9), pxeArch: 0 });
    await handled(before, 'dropped', 2);
    expect([...replies(peer, plain), ...replies(peer, stranger)]).toEqual([]);
  });

  it('sends router advertisements a booting client sees: router lifetime 0, M=O=0, no prefix', async () => {
    const ra = await peer.waitForEvent('ra', (e) => e.ifname === 'vc-a', 15_000);
    const icmp = Buffer.from(String(ra.hex), 'hex');
    expect(icmp[0]).toBe(134);
    expect(icmp[5] & 0xc0).toBe(0); // M and O flags (RFC 4861 §4.2)
    expect(icmp.readUInt16BE(6)).toBe(0); // router lifetime: not a default router
    const optionTypes: number[] = [];
    for (let i = 16; i + 1 < icmp.length && icmp[i + 1] > 0; i += icmp[i + 1] * 8) optionTypes.push(icmp[i]);
    expect(optionTypes).not.toContain(3); // no Prefix Information
  });

  it('keeps leases across a server restart', async () => {
    const m = mac(1, 5);
    const ack = await dora('a', m);
    await server!.stop();
    const restarted = await startServer();
    expect((restarted.select('ready')[0].status as { running: boolean }).running).toBe(true);
    // INIT-REBOOT (no server id, ciaddr 0, option 50) for the old address is ACKed from the persisted lease …
    const r = send('a', { type: DhcpMessageType.REQUEST, mac: m, requestedIp: ack.yiaddr });
    const reAck = await reply(peer, r, 'a');
    expect(typeOf(reAck)).toBe(DhcpMessageType.ACK);
    expect(reAck.yiaddr).toBe(ack.yiaddr);
    // … a new DISCOVER gets the same address, and another client asking for it is refused.
    expect((await reply(peer, send('a', { type: DhcpMessageType.DISCOVER, mac: m }), 'a')).yiaddr).toBe(ack.yiaddr);
    const thief = await reply(peer, send('a', { type: DhcpMessageType.REQUEST, mac: mac(1, 2), requestedIp: ack.yiaddr }), 'a');
    expect(typeOf(thief)).toBe(DhcpMessageType.NAK);
  });
});
