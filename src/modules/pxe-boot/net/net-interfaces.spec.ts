import { assertInterfaceName, interfaceInfo, ipv4Broadcast } from './net-interfaces';
import { NetError, NetErrorCode } from './net.errors';

describe('interfaceInfo', () => {
  it('describes the loopback interface', () => {
    const lo = interfaceInfo('lo');
    expect(lo.name).toBe('lo');
    expect(lo.index).toBeGreaterThan(0);
    expect(lo.mac).toBe('00:00:00:00:00:00');
    expect(lo.ipv4).toEqual({
      address: '127.0.0.1',
      netmask: '255.0.0.0',
      cidr: '127.0.0.1/8',
      prefixLength: 8,
      broadcast: '127.255.255.255',
    });
  });

  it('throws UNKNOWN_INTERFACE for an interface that does not exist', () => {
    const name = `dlsnope${process.pid % 100000}`;
    expect(() => interfaceInfo(name)).toThrow(NetError);
    expect(() => interfaceInfo(name)).toThrow(`no network interface named ${name}`);
    try {
      interfaceInfo(name);
    } catch (err) {
      expect((err as NetError).code).toBe(NetErrorCode.UNKNOWN_INTERFACE);
    }
  });

  it.each(['', '..', '.', '../lo', 'a/b', 'eth0 ', 'x'.repeat(16), 'eth0;rm'])(
    'rejects the invalid name %j before touching the filesystem',
    (name) => {
      expect(() => interfaceInfo(name)).toThrow(expect.objectContaining({ code: NetErrorCode.INVALID_INTERFACE_NAME }));
    },
  );

  it('accepts realistic names', () => {
    for (const name of ['eth0', 'br-a', 'dlsbr0', 'enp0s31f6', 'veth1.100', 'x'.repeat(15)]) {
      expect(() => assertInterfaceName(name)).not.toThrow();
    }
  });

  it('computes directed broadcast addresses', () => {
    expect(ipv4Broadcast('10.213.0.1', '255.255.255.0')).toBe('10.213.0.255');
    expect(ipv4Broadcast('192.168.7.9', '255.255.252.0')).toBe('192.168.7.255');
    expect(ipv4Broadcast('10.0.0.1', '255.255.255.255')).toBe('10.0.0.1');
  });
});
