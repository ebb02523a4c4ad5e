import { DataSource } from 'typeorm';
import { parseCidr } from '../../src/common/net/ipv4';
import { biosIpxeRomDiscover, FIXTURE_MAC } from '../../src/protocols/dhcp/__fixtures__/constructed-packets';
import { BootPolicyService } from '../../src/modules/catalog';
import { DlsMetrics } from '../../src/modules/metrics';
import { NetworkRange } from '../../src/modules/network/network-range.entity';
import { BootSessionTracker } from '../../src/modules/pxe-boot/boot-session-tracker';
import { DhcpLeasesService } from '../../src/modules/pxe-boot/dhcp';
import { toDhcpRange } from '../../src/modules/pxe-boot/dhcp/dhcp.provider';
import { DhcpServer } from '../../src/modules/pxe-boot/dhcp/dhcp.server';
import { makeClient, makeImage, unique } from '../factories';
import { TestApp } from './test-app';
import { waitFor } from '../net/netns-harness';

const SERVER_IP = '10.213.0.1';

/**
 * One simulated client boot through the app's own services, without sockets or QEMU: a DHCPDISCOVER from a PXE ROM
 * (a captured-shape fixture) is handed to a {@link DhcpServer} wired like DhcpProvider wires it (the boot policy, the
 * lease service, the boot-session tracker, the app's metrics), which offers an address and opens a boot session;
 * the session is then moved booting → running as the script route and the session monitor would. Returns the range name.
 */
export async function simulateBoot(t: TestApp): Promise<{ rangeName: string; sessionId: string }> {
  const ds = t.app.get(DataSource);
  const rangeName = unique('sim');
  const range = await ds.getRepository(NetworkRange).save({
    name: rangeName,
    cidr: '10.213.0.0/24',
    dhcpMode: 'full',
    poolStart: '10.213.0.100',
    poolEnd: '10.213.0.199',
    interface: 'sim0',
  } as Partial<NetworkRange>);
  const image = await makeImage(ds);
  const client = await makeClient(ds, { macAddress: FIXTURE_MAC, assignedImageId: image.id });
  const metrics = t.app.get(DlsMetrics);
  const server = new DhcpServer({
    clients: t.app.get(BootPolicyService),
    leases: t.app.get(DhcpLeasesService),
    tracker: t.app.get(BootSessionTracker),
    httpPort: t.config.http.port,
    metrics: { count: (type, outcome, r) => metrics.dhcpPackets.inc({ type, outcome, range: r }) },
  });
  const dhcpRange = toDhcpRange(range);
  const sent: Buffer[] = [];
  await server.receive(
    biosIpxeRomDiscover(),
    {
      binding: {
        name: 'sim0',
        address: SERVER_IP,
        info: {
          name: 'sim0',
          index: 7,
          ipv4: { address: SERVER_IP, netmask: '255.255.255.0', cidr: `${SERVER_IP}/24`, prefixLength: 24, broadcast: '10.213.0.255' },
          mac: '02:00:00:00:00:01',
          ipv6LinkLocal: null,
        },
      },
      port: 'dhcp',
      info: { address: '0.0.0.0', port: 68, ifindex: 7, ifname: 'sim0', localAddress: SERVER_IP, destination: '255.255.255.255' },
      socket: { isOpen: true, send: (buf) => void sent.push(buf) },
    },
    [{ range: dhcpRange, cidr: parseCidr(dhcpRange.cidr)!, relayOnly: false }],
  );
  if (sent.length !== 1) throw new Error(`expected one DHCPOFFER, got ${sent.length} replies (stats ${JSON.stringify(server.stats())})`);
  const tracker = t.app.get(BootSessionTracker);
  let sessionId = '';
  await waitFor('the boot session opened by the DISCOVER', async () => {
    await tracker.settle(client.id);
    sessionId = (await tracker.openSessionOf(client.id))?.id ?? '';
    return sessionId !== '';
  });
  for (const status of ['booting', 'running']) {
    const r = await t.http.patch(`/api/v1/boot-sessions/${sessionId}`).set('Authorization', `Bearer ${t.adminToken}`).send({ status });
    if (r.status !== 200) throw new Error(`session → ${status}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  return { rangeName, sessionId };
}
