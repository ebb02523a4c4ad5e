import { Logger } from '@nestjs/common';
import { DomainError } from '@common/errors/domain-error';
import { loadConfig } from '@config/config.loader';
import type { NetworkRange, NetworkRangesService } from '../../network';
import { DhcpProvider } from './dhcp.provider';
import { RangeBroadcastErrorCode } from './range-broadcast';

/**
 * The broadcast port's refusals that need no socket (the sending path itself is proven with real sockets in
 * test/wol/wake-on-lan.e2e-spec.ts): each names why, as a 409 the wake service passes on per client.
 */
describe('DhcpProvider.broadcastOnRange: why a range has no socket', () => {
  const range = (over: Partial<NetworkRange>): NetworkRange =>
    ({
      id: 'r1',
      name: 'room-a',
      cidr: '10.1.0.0/24',
      gateway: null,
      dnsServers: [],
      dhcpMode: 'full',
      poolStart: null,
      poolEnd: null,
      leaseSeconds: 600,
      nextServer: null,
      interface: 'wolnothere0',
      unknownClientPolicy: 'ignore',
      enabled: true,
      ...over,
    }) as NetworkRange;

  const provider = (env: Record<string, string>, rows: NetworkRange[]): DhcpProvider => {
    const ranges = { listEnabled: async () => rows } as unknown as NetworkRangesService;
    const p = new DhcpProvider(loadConfig({ DLS_IPV6_RA: 'false', ...env }), ranges, {} as never, {} as never, {} as never, {} as never);
    p.adapters = { probe: () => ({ usable: false, reason: 'missing' }), prepareIpv6: () => Promise.reject(new Error('not used')) };
    return p;
  };

  const refusal = (p: DhcpProvider, rangeId: string): DomainError => {
    try {
      p.broadcastOnRange(rangeId, 9, Buffer.alloc(102));
    } catch (err) {
      return err as DomainError;
    }
    throw new Error('sent');
  };

  beforeAll(() => Logger.overrideLogger(false));

  it('DHCP off on this node: DHCP_DISABLED naming the variable', () => {
    const e = refusal(provider({ DLS_DHCP_ENABLED: 'false' }, []), 'r1');
    expect(e).toBeInstanceOf(DomainError);
    expect([e.kind, e.code]).toEqual(['conflict', RangeBroadcastErrorCode.DHCP_DISABLED]);
    expect(e.message).toMatch(/DLS_DHCP_ENABLED=false/);
  });

  it('a range the server does not serve (not loaded, off, no interface): RANGE_NOT_SERVED', async () => {
    const p = provider({}, [range({ interface: null })]);
    await p.reload();
    const e = refusal(p, 'r1');
    expect([e.kind, e.code]).toEqual(['conflict', RangeBroadcastErrorCode.RANGE_NOT_SERVED]);
  });

  it('an interface that is missing: INTERFACE_UNAVAILABLE with the interface and the reason', async () => {
    const p = provider({}, [range({})]);
    await p.reload();
    const e = refusal(p, 'r1');
    expect([e.kind, e.code]).toEqual(['conflict', RangeBroadcastErrorCode.INTERFACE_UNAVAILABLE]);
    expect(e.message).toBe('interface wolnothere0 of range room-a is not served: interface missing');
    expect(e.details).toMatchObject({ rangeId: 'r1', interface: 'wolnothere0' });
    await p.onApplicationShutdown();
  });
});
