/**
 * Boot interfaces made usable, or reported (issue 8). In a server namespace the DHCP provider serves two ranges:
 * V6 on bridge br-v6, which starts with `disable_ipv6=1` (as on many servers), and LATE on br-late, which does not
 * exist yet when the range is enabled. A client namespace listens for router advertisements on br-v6's segment and
 * sends DHCP DISCOVERs on br-late's. Nothing but the kernel and DLS's own interface watch happen between creating
 * br-late and the answer: no API call, no reload.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { decodeDhcp, DhcpMessageType, DhcpOptionCode, DhcpPacket } from '../../src/protocols/dhcp';
import { addBridge, addBridgePort, inNs, Namespaces, sysctl, waitFor } from '../net/netns-harness';
import { buildRequest, NsProcess, stopLeftoverPostgres } from './dhcp-harness';

const pid = process.pid;
const X = 100 + ((pid + 37) % 100);
const net = (n: number, host: number) => `10.${X}.${n}.${host}`;
const SETUP_TIMEOUT_MS = 90_000;
const mac = (n: number) => `52:54:${X.toString(16).padStart(2, '0')}:00:09:${n.toString(16).padStart(2, '0')}`;

interface Status {
  running: boolean;
  interfaces: { name: string; routerAdvertisements: boolean; raProblem?: string }[];
  unavailable: { name: string; reason: string; ranges: string[] }[];
}

describe('DHCP boot interfaces: IPv6 made ready, interfaces that appear later', () => {
  const namespaces = new Namespaces();
  const nsServer = `dlsbi-srv-${pid}`;
  const nsClient = `dlsbi-cli-${pid}`;
  let baseDir = '';
  let server: NsProcess | null = null;
  let peer: NsProcess | null = null;

  const startServer = async (ipv6Enable?: boolean): Promise<NsProcess> => {
    const p = new NsProcess(nsServer, 'dhcp-server-host.ts', { baseDir, dhcpPort: 67, httpPort: 8080, ipv6Ra: true, ipv6Enable });
    server = p;
    await p.waitForEvent('ready', () => true, 60_000);
    return p;
  };
  const status = async () => (await server!.call<{ status: Status }>({ cmd: 'reload' })).status;
  const v6 = (key: string) => inNs(nsServer, 'cat', [`/proc/sys/net/ipv6/conf/br-v6/${key}`]).then((s) => Number(s.trim()));

  beforeAll(async () => {
    baseDir = await fs.mkdtemp(path.join(os.tmpdir(), `dls-bootif-e2e-${pid}-`));
    await namespaces.add(nsServer);
    await namespaces.add(nsClient);
    await sysctl(nsClient, 'net.ipv6.conf.default.accept_dad', 0);
    // br-v6: IPv6 off before the bridge ever comes up, as `net.ipv6.conf.<if>.disable_ipv6=1` leaves it.
    await addBridge(nsServer, 'br-v6');
    await sysctl(nsServer, 'net.ipv6.conf.br-v6.disable_ipv6', 1);
    await sysctl(nsServer, 'net.ipv6.conf.br-v6.accept_ra', 1);
    await addBridgePort(nsServer, 'br-v6', 'vs-v6', nsClient, 'vc-v6');
    await inNs(nsServer, 'ip', ['addr', 'add', `${net(1, 1)}/24`, 'dev', 'br-v6']);
    await inNs(nsServer, 'ip', ['link', 'set', 'br-v6', 'up']);
    await inNs(nsClient, 'ip', ['link', 'set', 'vc-v6', 'up']);
    // br-late's future port exists already (so the client's socket can bind), the bridge itself does not.
    await inNs(nsServer, 'ip', ['link', 'add', 'vs-late', 'type', 'veth', 'peer', 'name', 'vc-late', 'netns', nsClient]);
    await inNs(nsClient, 'ip', ['link', 'set', 'vc-late', 'up']);

    peer = new NsProcess(nsClient, 'udp-peer.ts', {
      sockets: [{ name: 'late', interface: 'vc-late', address: '0.0.0.0', port: 68 }],
      ra: ['vc-v6'],
    });
    await peer.waitForEvent('ready', () => true, 60_000);
    await startServer();
    const range = (name: string, n: number, iface: string) => ({
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
    });
    await server!.call({
      cmd: 'seed',
      ranges: [range('V6', 1, 'br-v6'), range('LATE', 2, 'br-late')],
      clients: [{ macAddress: mac(1), hostname: 'pc-late' }],
    });
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.all([server?.stop(), peer?.stop()]);
    if (baseDir) stopLeftoverPostgres(baseDir);
    await namespaces.cleanup();
    if (baseDir) await fs.rm(baseDir, { recursive: true, force: true }).catch(() => undefined);
  }, SETUP_TIMEOUT_MS);

  it('turns IPv6 on (link-local only) on a boot interface that had it off, and RAs go out', async () => {
    const ra = await peer!.waitForEvent('ra', (e) => e.ifname === 'vc-v6', 15_000);
    expect(Buffer.from(String(ra.hex), 'hex')[0]).toBe(134);
    expect([await v6('disable_ipv6'), await v6('accept_ra'), await v6('forwarding')]).toEqual([0, 0, 0]);
    const st = await waitFor('RAs reported in status', async () => {
      const s = await status();
      return s.interfaces.find((i) => i.name === 'br-v6' && i.routerAdvertisements) ? s : null;
    });
    expect(st.interfaces.find((i) => i.name === 'br-v6')!.raProblem).toBeUndefined();
    expect(server!.stderr.join('')).toMatch(/IPv6 turned on for router advertisements on br-v6, link-local only \(accept_ra=0, disable_ipv6=0\)/);
  });

  it('serves a range whose bridge appears after it was enabled, without any API call', async () => {
    const before = await status();
    expect(before.unavailable).toEqual([{ name: 'br-late', reason: 'interface missing', ranges: [`LATE-${pid}`] }]);
    expect(server!.stderr.join('')).toContain(`interface br-late missing: not serving range LATE-${pid}`);

    await addBridge(nsServer, 'br-late');
    await inNs(nsServer, 'ip', ['link', 'set', 'vs-late', 'master', 'br-late']);
    await inNs(nsServer, 'ip', ['link', 'set', 'vs-late', 'up']);
    await inNs(nsServer, 'ip', ['addr', 'add', `${net(2, 1)}/24`, 'dev', 'br-late']);
    await inNs(nsServer, 'ip', ['link', 'set', 'br-late', 'up']);
    const appeared = Date.now();

    // DISCOVER every 500 ms until one is answered, as a PXE ROM retries.
    let offer: DhcpPacket | undefined;
    const xid = (pid & 0xffff) << 8;
    for (let i = 0; !offer; i++) {
      peer!.command({
        cmd: 'send',
        socket: 'late',
        hex: buildRequest({ type: DhcpMessageType.DISCOVER, mac: mac(1), xid }).toString('hex'),
        address: '255.255.255.255',
        port: 67,
      });
      offer = await waitFor(
        'an OFFER',
        () =>
          peer!
            .select('message')
            .map((e) => decodeDhcp(Buffer.from(String(e.hex), 'hex')))
            .find((p) => p.xid === xid),
        500,
        20,
      ).catch(() => undefined);
      if (!offer && Date.now() - appeared > 10_000) throw new Error('no OFFER within 10 s of the bridge appearing');
    }
    const elapsed = Date.now() - appeared;
    process.stdout.write(`br-late served ${elapsed} ms after it appeared\n`);
    expect(offer.options.get(DhcpOptionCode.MESSAGE_TYPE)?.[0]).toBe(DhcpMessageType.OFFER);
    expect(offer.yiaddr.startsWith(`10.${X}.2.`)).toBe(true);
    expect(elapsed).toBeLessThan(6000);
    expect(server!.stderr.join('')).toContain(`interface br-late up with ${net(2, 1)}: serving range LATE-${pid} (${net(2, 0)}/24)`);

    await inNs(nsServer, 'ip', ['link', 'del', 'br-late']);
    await waitFor('the gone line', () => server!.stderr.join('').includes(`interface br-late gone: not serving range LATE-${pid}`), 10_000, 100);
  });

  it('with DLS_IPV6_ENABLE=false leaves IPv6 off and says why in the log and the status', async () => {
    await server!.stop();
    await sysctl(nsServer, 'net.ipv6.conf.br-v6.disable_ipv6', 1);
    await startServer(false);
    const st = await waitFor('the RA problem in status', async () => {
      const s = await status();
      return s.interfaces.find((i) => i.name === 'br-v6' && i.raProblem && !i.raProblem.startsWith('preparing')) ? s : null;
    });
    const br = st.interfaces.find((i) => i.name === 'br-v6')!;
    expect(br.routerAdvertisements).toBe(false);
    expect(br.raProblem).toContain('IPv6 is disabled on br-v6 and DLS_IPV6_ENABLE=false');
    expect(br.raProblem).toContain('iPXE will wait ~15 s');
    expect(await v6('disable_ipv6')).toBe(1);
    await status();
    const warnings = server!.stderr
      .join('')
      .split('\n')
      .filter((l) => l.includes('IPv6 is disabled on br-v6'));
    expect(warnings).toHaveLength(1);
  });
});
