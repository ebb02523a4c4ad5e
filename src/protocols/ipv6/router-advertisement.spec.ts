import { buildRouterAdvertisement, DEFAULT_PREFERRED_LIFETIME_SEC, DEFAULT_VALID_LIFETIME_SEC, RA_HEADER_LENGTH } from './router-advertisement';

describe('buildRouterAdvertisement (RFC 4861 §4.2)', () => {
  it('encodes the bare 16-byte header with every field unspecified and Router Lifetime 0', () => {
    expect(buildRouterAdvertisement().toString('hex')).toBe('86000000' + '00000000' + '00000000' + '00000000');
    expect(buildRouterAdvertisement()).toHaveLength(RA_HEADER_LENGTH);
  });

  it('encodes header fields and the M/O flags at their offsets', () => {
    const ra = buildRouterAdvertisement({
      curHopLimit: 64,
      managed: true,
      otherConfig: true,
      routerLifetimeSec: 1800,
      reachableTimeMs: 30000,
      retransTimerMs: 1000,
    });
    expect(ra.toString('hex')).toBe('86000000' + '40c00708' + '00007530' + '000003e8');
  });

  it('matches a byte fixture with SLLA, MTU and a Prefix Information option (L=1, A=1)', () => {
    const ra = buildRouterAdvertisement({
      sourceLinkLayerAddress: '52:54:00:12:34:56',
      mtu: 1500,
      prefixes: [{ prefix: 'fd00:213::/64', validLifetimeSec: 3600, preferredLifetimeSec: 1800 }],
    });
    expect(ra.toString('hex')).toBe(
      [
        '86000000',
        '00000000',
        '00000000',
        '00000000', // header: type 134, M=0 O=0, lifetime 0
        '0101525400123456', // §4.6.1 SLLA: type 1, len 1, MAC
        '05010000000005dc', // §4.6.4 MTU: type 5, len 1, reserved, 1500
        '0304' + '40' + 'c0', // §4.6.2 prefix info: type 3, len 4, /64, L|A
        '00000e10',
        '00000708',
        '00000000', // valid 3600, preferred 1800, reserved2
        'fd000213000000000000000000000000', // prefix
      ].join(''),
    );
    expect(ra).toHaveLength(16 + 8 + 8 + 32);
  });

  it('clears the bits after the prefix length and encodes flags and RFC default lifetimes', () => {
    const ra = buildRouterAdvertisement({
      prefixes: [{ prefix: 'fd00:213:0:0:ffff::1/48', onLink: false, autonomous: true }],
    });
    const option = ra.subarray(RA_HEADER_LENGTH);
    expect(option[2]).toBe(48);
    expect(option[3]).toBe(0x40);
    expect(option.readUInt32BE(4)).toBe(DEFAULT_VALID_LIFETIME_SEC);
    expect(option.readUInt32BE(8)).toBe(DEFAULT_PREFERRED_LIFETIME_SEC);
    expect(option.subarray(16).toString('hex')).toBe('fd000213000000000000000000000000');
  });

  it('caps the default preferred lifetime at an explicit shorter valid lifetime', () => {
    const option = buildRouterAdvertisement({ prefixes: [{ prefix: 'fd00::/64', validLifetimeSec: 60 }] }).subarray(16);
    expect(option.readUInt32BE(4)).toBe(60);
    expect(option.readUInt32BE(8)).toBe(60);
  });

  it.each([
    [{ routerLifetimeSec: 9001 }, RangeError],
    [{ curHopLimit: 256 }, RangeError],
    [{ reachableTimeMs: -1 }, RangeError],
    [{ mtu: 1000 }, RangeError],
    [{ sourceLinkLayerAddress: '52:54:00:12:34' }, TypeError],
    [{ prefixes: [{ prefix: 'fd00::' }] }, TypeError],
    [{ prefixes: [{ prefix: 'fd00::/129' }] }, RangeError],
    [{ prefixes: [{ prefix: 'fd00::/64', validLifetimeSec: 10, preferredLifetimeSec: 20 }] }, RangeError],
  ])('rejects %j', (fields, errorType) => {
    expect(() => buildRouterAdvertisement(fields)).toThrow(errorType);
  });
});
