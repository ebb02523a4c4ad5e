import { join } from 'node:path';
import { parseCidr } from '@common/net/ipv4';
import { classifyClient, decodeDhcp, DhcpMessageType, DhcpOptionCode, DhcpPacket, encodeDhcp } from '@protocols/dhcp';
import { biosIpxeRomDiscover, FIXTURE_MAC, ovmfPxeDiscover } from '@protocols/dhcp/__fixtures__/constructed-packets';
import { loadHexFixtures } from '@protocols/dhcp/__fixtures__/hex-fixtures';
import type { DhcpSeenEvent } from '../boot-session-tracker';
import type { DhcpEventBody } from '../../events';
import type { InterfaceUdpMessageInfo } from '../net/interface-udp-socket';
import type { LeaseClientFacts, LeaseRangeFacts } from './dhcp-leases.service';
import type { DhcpClientFacts, DhcpClientLookup, DhcpLeaseStore, DhcpRange, DhcpReplySocket } from './dhcp.ports';
import { DhcpArrival, DhcpBinding, DhcpServer, DhcpServerOptions, ServedRange } from './dhcp.server';
import type { ArrivalPort } from './dhcp-decision';

const SERVER_IP = '10.213.0.1';
const HTTP_PORT = 8080;

function range(overrides: Partial<DhcpRange> = {}): DhcpRange {
  return {
    id: 'range-a',
    name: 'A',
    cidr: '10.213.0.0/24',
    gateway: '10.213.0.254',
    dnsServers: ['10.213.0.53'],
    dhcpMode: 'full',
    poolStart: '10.213.0.100',
    poolEnd: '10.213.0.199',
    leaseSeconds: 3600,
    nextServer: null,
    interface: 'br-a',
    unknownClientPolicy: 'ignore',
    ...overrides,
  };
}

function served(r: DhcpRange): ServedRange {
  return { range: r, cidr: parseCidr(r.cidr)!, relayOnly: false };
}

const binding: DhcpBinding = {
  name: 'br-a',
  address: SERVER_IP,
  info: {
    name: 'br-a',
    index: 7,
    ipv4: { address: SERVER_IP, netmask: '255.255.255.0', cidr: '10.213.0.1/24', prefixLength: 24, broadcast: '10.213.0.255' },
    mac: '02:00:00:00:00:01',
    ipv6LinkLocal: null,
  },
};

const enabledClient: DhcpClientFacts = {
  id: 'client-1',
  hostname: 'pc-01',
  assignedImageId: 'image-1',
  enabled: true,
  pending: false,
  ipAddress: null,
  bootLoader: null,
};

/** A socket that records what is sent through it. */
class FakeSocket implements DhcpReplySocket {
  isOpen = true;
  readonly sent: { packet: DhcpPacket; port: number; address: string }[] = [];
  send(buf: Buffer, port: number, address: string): void {
    this.sent.push({ packet: decodeDhcp(buf), port, address });
  }
}

/** Client directory fake: `known` by MAC; register() adds a pending client. */
class FakeLookup implements DhcpClientLookup {
  readonly registered: { mac: string; rangeId: string }[] = [];
  constructor(private readonly known = new Map<string, DhcpClientFacts>()) {}
  lookup(mac: string): Promise<DhcpClientFacts | null> {
    return Promise.resolve(this.known.get(mac) ?? null);
  }
  register(mac: string, rangeId: string): Promise<DhcpClientFacts> {
    this.registered.push({ mac, rangeId });
    const facts: DhcpClientFacts = {
      id: `pending-${mac}`,
      hostname: 'pending',
      enabled: false,
      pending: true,
      assignedImageId: null,
      ipAddress: null,
      bootLoader: null,
    };
    this.known.set(mac, facts);
    return Promise.resolve(facts);
  }
}

/** Lease store fake: offers and ACKs `ip` to everyone. */
class FakeLeases implements DhcpLeaseStore {
  readonly offers: { range: LeaseRangeFacts; mac: string; facts: LeaseClientFacts }[] = [];
  constructor(private readonly ip: string | null = '10.213.0.150') {}
  offer(r: LeaseRangeFacts, mac: string, facts: LeaseClientFacts) {
    this.offers.push({ range: r, mac, facts });
    return Promise.resolve(this.ip ? { ip: this.ip, source: 'pool' as const } : null);
  }
  request(r: LeaseRangeFacts, mac: string, ip: string) {
    return Promise.resolve({ kind: 'ack' as const, ip, leaseSeconds: r.leaseSeconds, expiresAt: new Date(0) });
  }
  decline = jest.fn(() => Promise.resolve(true));
  release = jest.fn(() => Promise.resolve(true));
  forgetOffer = jest.fn(() => Promise.resolve());
}

function setup(options: { clients?: Map<string, DhcpClientFacts>; leases?: FakeLeases; signedLoaders?: DhcpServerOptions['signedLoaders'] } = {}) {
  const lookup = new FakeLookup(options.clients);
  const leases = options.leases ?? new FakeLeases();
  const tracked: DhcpSeenEvent[] = [];
  const exchanges: DhcpEventBody[] = [];
  const server = new DhcpServer({
    clients: lookup,
    leases,
    tracker: { onDhcp: (e) => tracked.push(e) },
    exchanges: { exchange: (e) => exchanges.push(e) },
    httpPort: HTTP_PORT,
    signedLoaders: options.signedLoaders,
  });
  const socket = new FakeSocket();
  const arrive = (port: ArrivalPort, info: Partial<InterfaceUdpMessageInfo> = {}): DhcpArrival => ({
    binding,
    port,
    socket,
    info: { address: '0.0.0.0', port: 68, ifindex: 7, ifname: 'br-a', localAddress: SERVER_IP, destination: '255.255.255.255', ...info },
  });
  return { server, lookup, leases, tracked, socket, arrive, exchanges };
}

const known = () => new Map([[FIXTURE_MAC, enabledClient]]);

describe('DhcpServer (request handling, no sockets)', () => {
  it('answers a known, enabled client DISCOVER in full mode with an OFFER carrying the iPXE boot script', async () => {
    const { server, socket, leases, tracked, arrive, exchanges } = setup({ clients: known() });
    await server.receive(biosIpxeRomDiscover(), arrive('dhcp'), [served(range())]);
    expect(exchanges).toEqual([
      expect.objectContaining({
        mac: FIXTURE_MAC,
        clientId: 'client-1',
        rangeId: 'range-a',
        message: 'discover',
        reply: 'offer',
        ip: '10.213.0.150',
        proxy: false,
      }),
    ]);

    expect(socket.sent).toHaveLength(1);
    const { packet, address, port } = socket.sent[0];
    expect(packet.options.get(DhcpOptionCode.MESSAGE_TYPE)?.[0]).toBe(DhcpMessageType.OFFER);
    expect(packet.yiaddr).toBe('10.213.0.150');
    expect(packet.file).toBe(`http://${SERVER_IP}:${HTTP_PORT}/boot/${FIXTURE_MAC}.ipxe`);
    expect(packet.siaddr).toBe(SERVER_IP);
    expect(packet.options.get(DhcpOptionCode.SERVER_ID)).toEqual(Buffer.from([10, 213, 0, 1]));
    expect([address, port]).toEqual(['255.255.255.255', 68]);
    expect(leases.offers[0].facts.serverAddresses).toEqual([SERVER_IP, SERVER_IP]);
    expect(tracked).toEqual([
      expect.objectContaining({ clientId: 'client-1', mac: FIXTURE_MAC, ip: '10.213.0.150', serverIp: SERVER_IP, messageType: 'discover' }),
    ]);
    expect(server.stats()).toMatchObject({ received: 1, offers: 1, dropped: 0, errors: 0 });
  });

  it("hands a Secure Boot UEFI client the operator's signed loader for its CPU, and says so to the session tracker", async () => {
    const asked: (string | null)[] = [];
    const sb = new Map([[FIXTURE_MAC, { ...enabledClient, secureBoot: true }]]);
    const entryFor = (p: string | null) => (asked.push(p), p === 'x64' ? 'signed/x64/ipxe-shimx64.efi' : null);
    const { server, socket, tracked, arrive } = setup({ clients: sb, signedLoaders: { entryFor } });
    await server.receive(ovmfPxeDiscover(), arrive('dhcp'), [served(range())]);
    expect(socket.sent[0].packet.file).toBe('signed/x64/ipxe-shimx64.efi');
    expect(asked).toEqual(['x64']);
    expect(tracked).toEqual([expect.objectContaining({ firmware: 'uefi-pxe', secureBoot: true })]);

    // Without an operator's loader: Debian's shim; a client not marked Secure Boot: iPXE, and the tracker hears false.
    const debian = setup({ clients: sb, signedLoaders: { entryFor: () => null } });
    await debian.server.receive(ovmfPxeDiscover(), debian.arrive('dhcp'), [served(range())]);
    expect(debian.socket.sent[0].packet.file).toBe('shimx64.efi');
    const plain = setup({ clients: known(), signedLoaders: { entryFor } });
    await plain.server.receive(ovmfPxeDiscover(), plain.arrive('dhcp'), [served(range())]);
    expect(plain.socket.sent[0].packet.file).toBe('ipxe.efi');
    expect(plain.tracked).toEqual([expect.objectContaining({ firmware: 'uefi-pxe', secureBoot: false })]);
  });

  it('drops an unknown client under policy ignore, counting it and sending nothing', async () => {
    const { server, socket, lookup, leases, tracked, arrive, exchanges } = setup();
    await server.receive(biosIpxeRomDiscover(), arrive('dhcp'), [served(range({ unknownClientPolicy: 'ignore' }))]);
    expect(exchanges).toEqual([]);

    expect(socket.sent).toHaveLength(0);
    expect(lookup.registered).toHaveLength(0);
    expect(leases.offers).toHaveLength(0);
    expect(tracked).toHaveLength(0);
    expect(server.stats()).toMatchObject({ received: 1, dropped: 1, offers: 0, registered: 0 });
  });

  it('registers an unknown client once under policy register, then offers it an address without a boot file', async () => {
    const { server, socket, lookup, tracked, arrive } = setup();
    const ranges = [served(range({ unknownClientPolicy: 'register' }))];
    await server.receive(biosIpxeRomDiscover(), arrive('dhcp'), ranges);
    await server.receive(biosIpxeRomDiscover(), arrive('dhcp'), ranges);

    expect(lookup.registered).toEqual([{ mac: FIXTURE_MAC, rangeId: 'range-a' }]);
    expect(socket.sent).toHaveLength(2);
    for (const { packet } of socket.sent) {
      expect(packet.options.get(DhcpOptionCode.MESSAGE_TYPE)?.[0]).toBe(DhcpMessageType.OFFER);
      expect(packet.file).toBe('');
      expect(packet.options.has(DhcpOptionCode.BOOTFILE_NAME)).toBe(false);
    }
    expect(tracked).toHaveLength(0);
    expect(server.stats()).toMatchObject({ received: 2, registered: 1, offers: 2 });
  });

  it('drops a request whose chaddr is no unicast MAC (multicast, broadcast, zero): never registered, never answered', async () => {
    const { server, socket, lookup, arrive } = setup();
    const ranges = [served(range({ unknownClientPolicy: 'register' }))];
    for (const chaddr of ['01005e000001', 'ffffffffffff', '000000000000']) {
      const pkt = Buffer.from(biosIpxeRomDiscover());
      Buffer.from(chaddr, 'hex').copy(pkt, 28); // BOOTP chaddr (RFC 951)
      await server.receive(pkt, arrive('dhcp'), ranges);
    }
    expect(lookup.registered).toEqual([]);
    expect(socket.sent).toHaveLength(0);
    expect(server.stats()).toMatchObject({ received: 3, dropped: 3, registered: 0 });
  });

  it('answers a port-4011 REQUEST in proxy mode to its source, with the loader and no address', async () => {
    const [fixture] = loadHexFixtures(join(__dirname, '../../../protocols/dhcp/__fixtures__')).filter(
      (f) => f.name === 'real-ovmf-pxe-virtio-request.hex',
    );
    const request = decodeDhcp(fixture.bytes);
    const mac = classifyClient(request).mac!;
    const { server, socket, leases, tracked, arrive } = setup({ clients: new Map([[mac, enabledClient]]) });
    request.ciaddr = '10.213.0.77'; // the address the real DHCP server gave it
    const arrival = arrive('pxe', { address: '10.213.0.77', port: 4011, destination: SERVER_IP });
    await server.receive(encodeDhcp(request), arrival, [served(range({ dhcpMode: 'proxy' }))]);

    expect(socket.sent).toHaveLength(1);
    const { packet, address, port } = socket.sent[0];
    expect([address, port]).toEqual(['10.213.0.77', 4011]);
    expect(packet.options.get(DhcpOptionCode.MESSAGE_TYPE)?.[0]).toBe(DhcpMessageType.ACK);
    expect(packet.yiaddr).toBe('0.0.0.0');
    expect(packet.file).toBe('ipxe.efi');
    expect(packet.siaddr).toBe(SERVER_IP);
    expect(leases.offers).toHaveLength(0);
    expect(tracked).toEqual([expect.objectContaining({ clientId: 'client-1', mac, ip: '10.213.0.77', messageType: 'request' })]);
    expect(server.stats()).toMatchObject({ received: 1, acks: 1 });
  });

  it('answers a proxy-mode DISCOVER on the DHCP port with a proxy OFFER by broadcast', async () => {
    const { server, socket, arrive } = setup({ clients: known() });
    await server.receive(ovmfPxeDiscover(), arrive('dhcp'), [served(range({ dhcpMode: 'proxy', nextServer: '10.213.0.9' }))]);

    expect(socket.sent).toHaveLength(1);
    const { packet, address, port } = socket.sent[0];
    expect([address, port]).toEqual(['255.255.255.255', 68]);
    expect(packet.options.get(DhcpOptionCode.MESSAGE_TYPE)?.[0]).toBe(DhcpMessageType.OFFER);
    expect(packet.yiaddr).toBe('0.0.0.0');
    expect(packet.file).toBe('ipxe.efi');
    expect(packet.siaddr).toBe('10.213.0.9');
  });

  it('counts a malformed datagram and never throws, whatever arrives', async () => {
    const { server, socket, arrive } = setup({ clients: known() });
    const ranges = [served(range())];
    await expect(server.receive(Buffer.from([1, 2, 3]), arrive('dhcp'), ranges)).resolves.toBeUndefined();
    const truncated = biosIpxeRomDiscover().subarray(0, 245); // option 57's value cut off
    await expect(server.receive(truncated, arrive('dhcp'), ranges)).resolves.toBeUndefined();

    expect(socket.sent).toHaveLength(0);
    expect(server.stats()).toMatchObject({ received: 2, malformed: 2, errors: 0 });
  });

  it('drops a request for which no range is served on the interface', async () => {
    const { server, socket, arrive } = setup({ clients: known() });
    await server.receive(biosIpxeRomDiscover(), arrive('dhcp'), [served(range({ interface: 'br-other' }))]);
    expect(socket.sent).toHaveLength(0);
    expect(server.stats()).toMatchObject({ received: 1, dropped: 1 });
  });

  it('counts a failure of its dependencies as an error and resolves', async () => {
    const { server, lookup, socket, arrive } = setup();
    jest.spyOn(lookup, 'lookup').mockRejectedValue(new Error('database down'));
    await expect(server.receive(biosIpxeRomDiscover(), arrive('dhcp'), [served(range())])).resolves.toBeUndefined();
    expect(socket.sent).toHaveLength(0);
    expect(server.stats()).toMatchObject({ received: 1, errors: 1 });
  });
});
