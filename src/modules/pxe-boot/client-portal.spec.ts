import { clientPortal, isWildcard } from './client-portal';

describe('clientPortal', () => {
  const wildcard = { address: '0.0.0.0', port: 3260 };

  it('names the address the client reached DLS on when tgtd listens on the wildcard (the default)', () => {
    expect(clientPortal(wildcard, '10.213.0.1')).toEqual({ address: '10.213.0.1', port: 3260 });
    expect(clientPortal({ address: '0.0.0.0', port: 3261 }, '192.168.7.1')).toEqual({ address: '192.168.7.1', port: 3261 });
  });

  it('keeps an explicit portal address: tgtd listens there and nowhere else', () => {
    const explicit = { address: '10.9.0.5', port: 3260 };
    expect(clientPortal(explicit, '10.213.0.1')).toEqual(explicit);
    expect(clientPortal(explicit, '10.213.0.1', '10.213.0.9')).toEqual(explicit);
  });

  it('uses DLS_BOOT_SERVER_IP instead of the request address when it is set', () => {
    expect(clientPortal(wildcard, '10.213.0.1', '172.16.0.1')).toEqual({ address: '172.16.0.1', port: 3260 });
    expect(clientPortal(wildcard, '127.0.0.1', '172.16.0.1')).toEqual({ address: '172.16.0.1', port: 3260 });
  });

  it('gives no portal rather than a wildcard, loopback or non-IPv4 address', () => {
    expect(clientPortal(wildcard, '0.0.0.0')).toBeNull();
    expect(clientPortal(wildcard, '127.0.0.1')).toBeNull();
    expect(clientPortal(wildcard, '127.1.2.3')).toBeNull();
    expect(clientPortal(wildcard, 'fe80::1')).toBeNull();
    expect(clientPortal(wildcard, '')).toBeNull();
    expect(clientPortal({ address: '::', port: 3260 }, '10.213.0.1')).toEqual({ address: '10.213.0.1', port: 3260 });
  });
});

describe('isWildcard', () => {
  it('is true for the any-addresses only', () => {
    expect(['0.0.0.0', '::', '[::]'].map(isWildcard)).toEqual([true, true, true]);
    expect(['10.0.0.1', '127.0.0.1', '::1'].map(isWildcard)).toEqual([false, false, false]);
  });
});
