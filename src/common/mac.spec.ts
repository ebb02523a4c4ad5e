import { macFromBytes, nonUnicastMacReason, normalizeMac } from './mac';

describe('normalizeMac', () => {
  it.each([
    ['aa:bb:cc:dd:ee:ff', 'aa:bb:cc:dd:ee:ff'],
    ['AA:BB:CC:DD:EE:FF', 'aa:bb:cc:dd:ee:ff'],
    ['AA-BB-CC-DD-EE-FF', 'aa:bb:cc:dd:ee:ff'],
    ['52-54-00-12-34-56', '52:54:00:12:34:56'],
    ['aabb.ccdd.eeff', 'aa:bb:cc:dd:ee:ff'],
    ['AABB.CCDD.EEFF', 'aa:bb:cc:dd:ee:ff'],
    ['aabbccddeeff', 'aa:bb:cc:dd:ee:ff'],
    ['525400ABCDEF', '52:54:00:ab:cd:ef'],
  ])('accepts %s', (input, want) => {
    expect(normalizeMac(input)).toBe(want);
  });

  it.each([
    [''],
    ['aa:bb:cc:dd:ee'],
    ['aa:bb:cc:dd:ee:ff:00'],
    ['aa:bb-cc:dd:ee:ff'], // mixed separators
    ['aa:bb:cc:dd:ee:fg'],
    ['a:bb:cc:dd:ee:ff'],
    ['aabb.ccdd.eef'],
    ['aabb:ccdd:eeff'],
    ['aabbccddeef'],
    ['aabbccddeeff0'],
    [' aa:bb:cc:dd:ee:ff'],
    ['aa:bb:cc:dd:ee:ff '],
    ['aa.bb.cc.dd.ee.ff'],
  ])('rejects %j', (input) => {
    expect(normalizeMac(input)).toBeNull();
  });

  it('rejects non-strings', () => {
    expect(normalizeMac(undefined as unknown as string)).toBeNull();
    expect(normalizeMac(123456789012 as unknown as string)).toBeNull();
  });

  it('is idempotent', () => {
    const once = normalizeMac('AABB.CCDD.EEFF')!;
    expect(normalizeMac(once)).toBe(once);
  });
});

describe('macFromBytes', () => {
  it('formats 6 bytes canonically', () => {
    expect(macFromBytes(Buffer.from([0x52, 0x54, 0x00, 0x0a, 0xbc, 0xff]))).toBe('52:54:00:0a:bc:ff');
  });
  it('uses only the first 6 bytes of a padded chaddr', () => {
    const chaddr = Buffer.alloc(16);
    chaddr.set([1, 2, 3, 4, 5, 6]);
    expect(macFromBytes(chaddr)).toBe('01:02:03:04:05:06');
  });
  it('throws on short input', () => {
    expect(() => macFromBytes(Buffer.from([1, 2, 3]))).toThrow(RangeError);
  });
});

describe('nonUnicastMacReason', () => {
  it.each([
    ['00:00:00:00:00:00', 'the all-zero address'],
    ['ff:ff:ff:ff:ff:ff', 'the broadcast address'],
    ['01:00:5e:00:00:01', 'a multicast (group) address: the first octet is odd'],
    ['33:33:00:00:00:01', 'a multicast (group) address: the first octet is odd'],
    ['03:00:00:00:00:00', 'a multicast (group) address: the first octet is odd'],
  ])('refuses %s', (mac, reason) => {
    expect(nonUnicastMacReason(mac)).toBe(reason);
  });

  it.each(['52:54:00:12:34:56', '02:00:00:00:00:01', 'aa:bb:cc:dd:ee:ff', 'fe:ff:ff:ff:ff:ff'])('accepts the unicast %s', (mac) => {
    expect(nonUnicastMacReason(mac)).toBeNull();
  });
});
