/**
 * RouterAdvertiser on a real bridge: the router namespace has bridge br0 with a veth port whose peer `vh` sits in
 * the host namespace. The host's kernel (accept_ra=2, SLAAC) must configure an address in the advertised prefix,
 * a raw ICMPv6 listener on the host must see RAs with hop limit 255 from a link-local source, and a Router
 * Solicitation sent from the host must be answered.
 */
import { addBridge, addBridgePort, Fixture, inNs, Namespaces, sysctl, waitFor } from './netns-harness';
import { formatIpv6Address, parseIpv6Address } from '../../src/protocols/ipv6/ipv6-address';

const pid = process.pid;
const tag = (200 + (pid % 51)).toString(16);
const PREFIX = `fd00:${tag}::`;
const SETUP_TIMEOUT_MS = 60_000;
const TEST_TIMEOUT_MS = 30_000;

interface IpAddrJson {
  addr_info: { family: string; local: string; prefixlen: number; tentative?: boolean }[];
}

async function ipv6Addresses(ns: string, dev: string): Promise<IpAddrJson['addr_info']> {
  const out = JSON.parse(await inNs(ns, 'ip', ['-j', '-6', 'addr', 'show', 'dev', dev])) as IpAddrJson[];
  return out.flatMap((entry) => entry.addr_info);
}

describe('RouterAdvertiser in network namespaces', () => {
  const namespaces = new Namespaces();
  const nsRouter = `dlsra-r-${pid}`;
  const nsHost = `dlsra-h-${pid}`;
  const fixtures: Fixture[] = [];
  let router: Fixture;
  let host: Fixture;
  let hostMac: string;

  beforeAll(async () => {
    await namespaces.add(nsRouter);
    await namespaces.add(nsHost);
    await addBridge(nsRouter, 'br0');
    // Link-local addresses usable at once (no DAD), so the RA has a link-local source from the first send.
    await sysctl(nsRouter, 'net.ipv6.conf.br0.accept_dad', 0);
    await sysctl(nsRouter, 'net.ipv6.conf.br0.accept_ra', 0);
    await sysctl(nsRouter, 'net.ipv6.conf.br0.router_solicitations', 0);
    await addBridgePort(nsRouter, 'br0', 'vr', nsHost, 'vh');
    await inNs(nsRouter, 'ip', ['link', 'set', 'br0', 'up']);
    await sysctl(nsHost, 'net.ipv6.conf.vh.accept_dad', 0);
    await sysctl(nsHost, 'net.ipv6.conf.vh.accept_ra', 2);
    await sysctl(nsHost, 'net.ipv6.conf.vh.autoconf', 1);
    // The host kernel must not solicit by itself: the only RS the router sees is the test's own.
    await sysctl(nsHost, 'net.ipv6.conf.vh.router_solicitations', 0);
    await inNs(nsHost, 'ip', ['link', 'set', 'vh', 'up']);
    await waitFor('link-local addresses on br0 and vh', async () => {
      const [r, h] = await Promise.all([ipv6Addresses(nsRouter, 'br0'), ipv6Addresses(nsHost, 'vh')]);
      return [r, h].every((list) => list.some((a) => a.local.startsWith('fe80:') && !a.tentative));
    });
    hostMac = JSON.parse(await inNs(nsHost, 'ip', ['-j', 'link', 'show', 'vh']))[0].address as string;

    host = new Fixture(nsHost, 'ra-host.js', { interface: 'vh', mac: hostMac });
    fixtures.push(host);
    await host.waitForEvent('ready');
    // One minute between unsolicited RAs: after the three initial ones (~1 s), every RA is a solicited one.
    router = new Fixture(nsRouter, 'ra-server.js', { interface: 'br0', prefix: `${PREFIX}/64`, intervalMs: 60_000 });
    fixtures.push(router);
    await router.waitForEvent('ready');
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.all(fixtures.map((f) => f.stop()));
    await namespaces.cleanup();
  }, SETUP_TIMEOUT_MS);

  it(
    'sends RAs with hop limit 255 from a link-local source carrying Router Lifetime 0 and the prefix',
    async () => {
      const ra = await host.waitForEvent('ra');
      const routerLinkLocal = (await ipv6Addresses(nsRouter, 'br0')).find((a) => a.local.startsWith('fe80:'))!.local;
      expect(ra).toMatchObject({ address: routerLinkLocal, hopLimit: 255, destination: 'ff02::1' });
      const icmp = Buffer.from(ra.hex as string, 'hex');
      expect(icmp[0]).toBe(134);
      expect(icmp[5] & 0xc0).toBe(0); // M=0, O=0
      expect(icmp.readUInt16BE(6)).toBe(0); // Router Lifetime 0: not a default router
      const routerMac = JSON.parse(await inNs(nsRouter, 'ip', ['-j', 'link', 'show', 'br0']))[0].address as string;
      expect(icmp.subarray(16, 24).toString('hex')).toBe(`0101${routerMac.replace(/:/g, '')}`);
      expect(icmp[24]).toBe(3); // Prefix Information
      expect(formatIpv6Address(icmp.subarray(40, 56))).toBe(PREFIX);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'lets the host kernel autoconfigure an address in the advertised prefix (SLAAC)',
    async () => {
      const prefix = parseIpv6Address(PREFIX).subarray(0, 8);
      const address = await waitFor('a SLAAC address in the prefix', async () =>
        (await ipv6Addresses(nsHost, 'vh')).find((a) => a.prefixlen === 64 && parseIpv6Address(a.local).subarray(0, 8).equals(prefix)),
      );
      expect(address.local.startsWith(PREFIX.slice(0, -1))).toBe(true);
      // Router Lifetime 0: the host must not have made us its default router.
      expect(await inNs(nsHost, 'ip', ['-6', 'route', 'show', 'default'])).toBe('');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'answers a Router Solicitation with an RA',
    async () => {
      router.command({ cmd: 'stats', id: 'before' });
      await waitFor(
        'the initial RAs to be sent',
        async () => {
          router.command({ cmd: 'stats', id: 'poll' });
          const stats = router.select('stats').at(-1) as { unsolicited?: number } | undefined;
          return (stats?.unsolicited ?? 0) >= 3;
        },
        10_000,
        200,
      );
      const rasBefore = host.select('ra').length;
      host.command({ cmd: 'rs', id: 'rs1' });
      const sent = await host.waitForEvent('sent', (e) => e.id === 'rs1');
      const hostLinkLocal = (await ipv6Addresses(nsHost, 'vh')).find((a) => a.local.startsWith('fe80:'))!.local;
      const answeredLog = `router advertiser on br0: answered RS from ${hostLinkLocal}`;
      await router.waitForEvent('log', (e) => e.message === answeredLog);
      await waitFor('an RA after the RS', () => host.select('ra').length > rasBefore);
      const answer = host.select('ra').slice(rasBefore)[0];
      expect(answer.at as number).toBeGreaterThanOrEqual(sent.at as number);
      router.command({ cmd: 'stats', id: 'after' });
      const stats = await router.waitForEvent('stats', (e) => e.id === 'after');
      expect(stats).toMatchObject({ unsolicited: 3, solicited: 1 });
    },
    TEST_TIMEOUT_MS,
  );
});
