import { formatIpv6Address, formatMacAddress, parseIpv6Address, parseIpv6Prefix, parseMacAddress } from './ipv6-address';

describe('IPv6 / MAC text helpers', () => {
  it.each([
    ['::', '00000000000000000000000000000000'],
    ['::1', '00000000000000000000000000000001'],
    ['ff02::2', 'ff020000000000000000000000000002'],
    ['fd00:213::1', 'fd000213000000000000000000000001'],
    ['fe80::5054:ff:fe12:3456', 'fe80000000000000505400fffe123456'],
    ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
    ['::ffff:a00:1', '00000000000000000000ffff0a000001'],
  ])('parses %s and formats it back (RFC 4291 §2.2, RFC 5952)', (text, hex) => {
    expect(parseIpv6Address(text).toString('hex')).toBe(hex);
    expect(formatIpv6Address(Buffer.from(hex, 'hex'))).toBe(text);
  });

  const invalid = ['', ':::', '1::2::3', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '12345::', 'g::', 'fe80::1%eth0'];
  it.each([...invalid, '::1.2.3.256'])('rejects %j', (text) => {
    expect(() => parseIpv6Address(text)).toThrow(TypeError);
  });

  it('parses a trailing dotted quad', () => {
    expect(parseIpv6Address('::ffff:10.0.0.1').toString('hex')).toBe('00000000000000000000ffff0a000001');
  });

  it('parses prefixes and clears host bits', () => {
    const p = parseIpv6Prefix('fd00:213::ff/64');
    expect(p.length).toBe(64);
    expect(formatIpv6Address(p.address)).toBe('fd00:213::');
    expect(formatIpv6Address(parseIpv6Prefix('fd00:ffff::/20').address)).toBe('fd00:f000::');
  });

  it('parses and formats MAC addresses', () => {
    expect(parseMacAddress('52-54-00-AB-cd-EF').toString('hex')).toBe('525400abcdef');
    expect(formatMacAddress(Buffer.from('525400abcdef', 'hex'))).toBe('52:54:00:ab:cd:ef');
    expect(() => parseMacAddress('52:54:00:ab:cd')).toThrow(TypeError);
  });
});
