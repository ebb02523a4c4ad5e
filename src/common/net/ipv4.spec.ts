import { cidrBroadcast, cidrContains, cidrsOverlap, formatIpv4, nonUnicastBlockOf, normalizeCidr, parseCidr, parseIpv4 } from './ipv4';

describe('ipv4 helpers', () => {
  it('parses and formats addresses', () => {
    expect(parseIpv4('192.168.1.10')).toBe(0xc0a8010a);
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffff);
    expect(parseIpv4('0.0.0.0')).toBe(0);
    expect(formatIpv4(0xc0a8010a)).toBe('192.168.1.10');
    expect(formatIpv4(0xffffffff)).toBe('255.255.255.255');
  });

  it.each(['256.1.1.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', 'a.b.c.d', '', ' 1.2.3.4', '1.2.3.4/24'])('rejects address %j', (s) => {
    expect(parseIpv4(s)).toBeNull();
  });

  it('normalises CIDRs by clearing host bits', () => {
    expect(normalizeCidr('10.0.0.5/24')).toBe('10.0.0.0/24');
    expect(normalizeCidr('192.168.50.0/24')).toBe('192.168.50.0/24');
    expect(normalizeCidr('172.16.99.1/12')).toBe('172.16.0.0/12');
    expect(normalizeCidr('10.1.2.3/32')).toBe('10.1.2.3/32');
    expect(normalizeCidr('128.0.0.1/1')).toBe('128.0.0.0/1');
  });

  it.each(['10.0.0.0', '10.0.0.0/0', '10.0.0.0/33', '10.0.0.0/024', '10.0.0/24', '10.0.0.0/x', 'fe80::/64'])('rejects CIDR %j', (s) => {
    expect(parseCidr(s)).toBeNull();
    expect(normalizeCidr(s)).toBeNull();
  });

  it('tests membership', () => {
    const c = parseCidr('192.168.50.0/24')!;
    expect(cidrContains(c, parseIpv4('192.168.50.0')!)).toBe(true);
    expect(cidrContains(c, parseIpv4('192.168.50.255')!)).toBe(true);
    expect(cidrContains(c, parseIpv4('192.168.51.1')!)).toBe(false);
    expect(cidrContains(parseCidr('128.0.0.0/1')!, parseIpv4('200.1.1.1')!)).toBe(true);
  });

  it('computes broadcast addresses and overlap', () => {
    expect(formatIpv4(cidrBroadcast(parseCidr('10.0.0.0/24')!))).toBe('10.0.0.255');
    expect(formatIpv4(cidrBroadcast(parseCidr('10.0.0.0/31')!))).toBe('10.0.0.1');
    expect(formatIpv4(cidrBroadcast(parseCidr('10.0.0.7/32')!))).toBe('10.0.0.7');
    expect(cidrsOverlap(parseCidr('10.0.0.0/8')!, parseCidr('10.9.0.0/16')!)).toBe(true);
    expect(cidrsOverlap(parseCidr('10.9.0.0/16')!, parseCidr('10.0.0.0/8')!)).toBe(true);
    expect(cidrsOverlap(parseCidr('10.9.0.0/16')!, parseCidr('10.10.0.0/16')!)).toBe(false);
  });

  it.each([
    ['0.0.0.0/8', '0.0.0.0/8'],
    ['0.0.0.0/1', '0.0.0.0/8'],
    ['128.0.0.0/1', '169.254.0.0/16'],
    ['127.0.0.1', '127.0.0.0/8'],
    ['169.254.10.0/24', '169.254.0.0/16'],
    ['224.0.0.1', '224.0.0.0/4'],
    ['239.255.0.0/16', '224.0.0.0/4'],
    ['255.255.255.255', '240.0.0.0/4'],
  ])('%s is in special-purpose space (%s)', (value, block) => {
    expect(nonUnicastBlockOf(value)?.cidr).toBe(block);
  });

  it.each(['10.0.0.0/8', '192.168.1.0/24', '1.0.0.0/8', '126.255.255.0/24', '169.253.0.0/16', '223.255.255.0/24', '10.0.0.1', 'junk'])(
    '%s is ordinary unicast (or not an address)',
    (value) => {
      expect(nonUnicastBlockOf(value)).toBeNull();
    },
  );
});
