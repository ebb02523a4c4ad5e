/**
 * InterfaceUdpSocket against real interfaces: a server namespace with two bridges, each with one client
 * namespace behind a veth. Proves that SO_BINDTODEVICE + IP_PKTINFO give DHCP what it needs: a socket per
 * interface sees only its own segment's broadcasts (with the right ifindex and local address), and its
 * 255.255.255.255 replies leave through its own interface. Also covers the loopback-only error paths.
 */
import { createSocket, Socket } from 'dgram';
import { InterfaceUdpSocket } from '../../src/modules/pxe-boot/net/interface-udp-socket';
import { addBridge, addBridgePort, Fixture, inNs, Namespaces, waitFor } from './netns-harness';

const pid = process.pid;
const x = 200 + (pid % 51); // 10.200.*–10.250.* for this run
const SERVER_PORT = 67; // DHCP ports: free inside namespaces that this test owns
const CLIENT_PORT = 68;
const SETUP_TIMEOUT_MS = 60_000;
const TEST_TIMEOUT_MS = 30_000;

describe('InterfaceUdpSocket in network namespaces', () => {
  const namespaces = new Namespaces();
  const nsServer = `dlsu-srv-${pid}`;
  const nsA = `dlsu-a-${pid}`;
  const nsB = `dlsu-b-${pid}`;
  const fixtures: Fixture[] = [];
  let server: Fixture;
  let clientA: Fixture;
  let clientB: Fixture;

  beforeAll(async () => {
    await namespaces.add(nsServer);
    await namespaces.add(nsA);
    await namespaces.add(nsB);
    for (const [side, ns, net] of [
      ['a', nsA, 1],
      ['b', nsB, 2],
    ] as const) {
      await addBridge(nsServer, `br-${side}`);
      await addBridgePort(nsServer, `br-${side}`, `vs-${side}`, ns, `vc-${side}`);
      await inNs(nsServer, 'ip', ['addr', 'add', `10.${x}.${net}.1/24`, 'dev', `br-${side}`]);
      await inNs(nsServer, 'ip', ['link', 'set', `br-${side}`, 'up']);
      await inNs(ns, 'ip', ['addr', 'add', `10.${x}.${net}.50/24`, 'dev', `vc-${side}`]);
      await inNs(ns, 'ip', ['link', 'set', `vc-${side}`, 'up']);
      // A DHCP client broadcasts through its only interface; the default route makes the kernel pick it.
      await inNs(ns, 'ip', ['route', 'add', 'default', 'via', `10.${x}.${net}.1`]);
    }
    server = new Fixture(nsServer, 'udp-server.js', {
      sockets: [
        { name: 'a', interface: 'br-a', address: '0.0.0.0', port: SERVER_PORT },
        { name: 'b', interface: 'br-b', address: '0.0.0.0', port: SERVER_PORT },
        // Control: an unbound socket on the same port hears both segments, showing that the isolation
        // above comes from SO_BINDTODEVICE and not from the topology.
        { name: 'any', address: '0.0.0.0', port: SERVER_PORT },
      ],
    });
    clientA = new Fixture(nsA, 'udp-client.js', { port: CLIENT_PORT });
    clientB = new Fixture(nsB, 'udp-client.js', { port: CLIENT_PORT });
    fixtures.push(server, clientA, clientB);
    await Promise.all(fixtures.map((f) => f.waitForEvent('ready')));
    // Both bridges forward once their veth port has carrier.
    for (const side of ['a', 'b']) {
      await waitFor(`br-${side} up`, async () => (await inNs(nsServer, 'ip', ['-br', 'link', 'show', `br-${side}`])).includes(' UP '));
    }
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.all(fixtures.map((f) => f.stop()));
    await namespaces.cleanup();
  }, SETUP_TIMEOUT_MS);

  it(
    'delivers each broadcast only to the socket bound to its bridge, with ifindex and local address',
    async () => {
      const ready = server.select('ready')[0] as unknown as { interfaces: Record<string, { index: number }> };
      clientA.command({ id: 1, port: SERVER_PORT, address: '255.255.255.255', data: 'discover-from-a' });
      await server.waitForEvent('message', (e) => e.socket === 'any' && e.data === 'discover-from-a');
      await server.waitForEvent('message', (e) => e.socket === 'a' && e.data === 'discover-from-a');
      clientB.command({ id: 2, port: SERVER_PORT, address: '255.255.255.255', data: 'discover-from-b' });
      await server.waitForEvent('message', (e) => e.socket === 'any' && e.data === 'discover-from-b');
      await server.waitForEvent('message', (e) => e.socket === 'b' && e.data === 'discover-from-b');

      expect(server.select('message', (e) => e.socket === 'a')).toEqual([
        {
          event: 'message',
          socket: 'a',
          data: 'discover-from-a',
          info: {
            address: `10.${x}.1.50`,
            port: CLIENT_PORT,
            ifindex: ready.interfaces['br-a'].index,
            ifname: 'br-a',
            localAddress: `10.${x}.1.1`,
            destination: '255.255.255.255',
          },
        },
      ]);
      expect(server.select('message', (e) => e.socket === 'b')).toEqual([
        {
          event: 'message',
          socket: 'b',
          data: 'discover-from-b',
          info: {
            address: `10.${x}.2.50`,
            port: CLIENT_PORT,
            ifindex: ready.interfaces['br-b'].index,
            ifname: 'br-b',
            localAddress: `10.${x}.2.1`,
            destination: '255.255.255.255',
          },
        },
      ]);
      // The unbound socket heard both, and names the arrival interface from the ifindex.
      const heardByUnbound = server.select('message', (e) => e.socket === 'any');
      expect(heardByUnbound.map((e) => (e.info as { ifname: string }).ifname)).toEqual(['br-a', 'br-b']);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "sends each socket's 255.255.255.255 reply out of its own interface only",
    async () => {
      const reply = { cmd: 'send', port: CLIENT_PORT, address: '255.255.255.255' };
      server.command({ ...reply, id: 'ra', socket: 'a', data: 'offer-a' });
      await server.waitForEvent('sent', (e) => e.id === 'ra');
      await clientA.waitForEvent('message', (e) => e.data === 'offer-a');
      server.command({ ...reply, id: 'rb', socket: 'b', data: 'offer-b' });
      await server.waitForEvent('sent', (e) => e.id === 'rb');
      await clientB.waitForEvent('message', (e) => e.data === 'offer-b');

      expect(clientA.select('message')).toEqual([{ event: 'message', data: 'offer-a', from: `10.${x}.1.1`, port: SERVER_PORT }]);
      expect(clientB.select('message')).toEqual([{ event: 'message', data: 'offer-b', from: `10.${x}.2.1`, port: SERVER_PORT }]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'reports send errors synchronously: an unbound socket has no route for a limited broadcast here',
    async () => {
      server.command({ cmd: 'send', id: 'any', socket: 'any', port: CLIENT_PORT, address: '255.255.255.255', data: 'x' });
      const failure = await server.waitForEvent('send-error', (e) => e.id === 'any');
      expect(failure).toMatchObject({ code: 'ENETUNREACH', syscall: 'sendto' });
    },
    TEST_TIMEOUT_MS,
  );
});

describe('InterfaceUdpSocket on loopback', () => {
  const opened: { close(): void }[] = [];
  afterEach(() => {
    for (const s of opened.splice(0)) s.close();
  });

  it('fails with ENODEV when the interface does not exist', () => {
    const open = (): InterfaceUdpSocket => InterfaceUdpSocket.open({ interface: `dlsnope${pid % 100000}`, address: '127.0.0.1', port: 0 });
    expect(open).toThrow(expect.objectContaining({ code: 'ENODEV', syscall: 'setsockopt' }));
  });

  it('fails with EADDRINUSE when a socket without SO_REUSEADDR holds the port', async () => {
    const holder: Socket = createSocket('udp4');
    opened.push(holder);
    await new Promise<void>((resolve) => holder.bind(0, '127.0.0.1', resolve));
    const { port } = holder.address();
    expect(() => InterfaceUdpSocket.open({ interface: 'lo', address: '127.0.0.1', port })).toThrow(
      expect.objectContaining({
        code: 'EADDRINUSE',
        syscall: 'bind',
        message: expect.stringContaining(`127.0.0.1:${port}`),
      }),
    );
  });

  it('receives with IP_PKTINFO metadata, sends, and closes idempotently', async () => {
    const socket = InterfaceUdpSocket.open({ interface: 'lo', address: '127.0.0.1', port: 0 });
    opened.push(socket);
    const { port } = socket.address();
    const got = new Promise<[Buffer, unknown]>((resolve) => socket.once('message', (buf, info) => resolve([buf, info])));
    const peer: Socket = createSocket('udp4');
    opened.push(peer);
    await new Promise<void>((resolve) => peer.bind(0, '127.0.0.1', resolve));
    peer.send('ping', port, '127.0.0.1');
    const [buf, info] = await got;
    expect(buf.toString()).toBe('ping');
    expect(info).toEqual({
      address: '127.0.0.1',
      port: peer.address().port,
      ifindex: 1,
      ifname: 'lo',
      localAddress: '127.0.0.1',
      destination: '127.0.0.1',
    });

    const echoed = new Promise<Buffer>((resolve) => peer.once('message', resolve));
    socket.send(Buffer.from('pong'), peer.address().port, '127.0.0.1');
    expect((await echoed).toString()).toBe('pong');

    let closes = 0;
    socket.on('close', () => closes++);
    socket.close();
    socket.close();
    expect(closes).toBe(1);
    expect(socket.isOpen).toBe(false);
    expect(() => socket.send(Buffer.from('x'), 1, '127.0.0.1')).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  it('rejects bad arguments without crashing', () => {
    expect(() => InterfaceUdpSocket.open({ address: 'not-an-ip', port: 0 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => InterfaceUdpSocket.open({ address: '127.0.0.1', port: 70000 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => InterfaceUdpSocket.open({ interface: 'a/b', address: '127.0.0.1', port: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_INTERFACE_NAME' }),
    );
    const socket = InterfaceUdpSocket.open({ address: '127.0.0.1', port: 0 });
    opened.push(socket);
    expect(() => socket.send(Buffer.alloc(1), 0, '127.0.0.1')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => socket.send(Buffer.alloc(70000), 9, '127.0.0.1')).toThrow(expect.objectContaining({ code: 'EMSGSIZE' }));
  });
});
