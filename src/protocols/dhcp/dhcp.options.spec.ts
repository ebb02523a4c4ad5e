import { MalformedPacketError } from '../malformed-packet.error';
import { DhcpOptionCode } from './dhcp.constants';
import {
  decodeSubOptions,
  describeOptions,
  DHCP_OPTIONS,
  encodeDomainSearch,
  encodeSubOptions,
  getBytes,
  getIp,
  getIps,
  getString,
  getU16,
  getU16s,
  getU32,
  getU8,
  getU8s,
  optionName,
  setBytes,
  setDomainSearch,
  setIp,
  setIps,
  setString,
  setU16,
  setU32,
  setU8,
  setU8s,
} from './dhcp.options';

describe('DHCP option table', () => {
  it('describes every option DLS uses, with a reference', () => {
    const used = [1, 3, 6, 12, 15, 28, 43, 50, 51, 53, 54, 55, 57, 58, 59, 60, 61, 66, 67, 77, 82, 93, 94, 97, 119, 175, 203];
    for (const code of used) {
      const spec = DHCP_OPTIONS.get(code);
      expect(spec).toBeDefined();
      expect(spec!.code).toBe(code);
      expect(spec!.ref).toMatch(/RFC|iPXE/);
    }
    expect(optionName(51)).toBe('lease-time');
    expect(optionName(250)).toBe('option-250');
  });
});

describe('typed option helpers', () => {
  it('writes and reads each type', () => {
    const o = new Map<number, Buffer>();
    setIp(o, DhcpOptionCode.SUBNET_MASK, '255.255.255.0');
    setIps(o, DhcpOptionCode.ROUTER, ['10.0.0.1', '10.0.0.2']);
    setU8(o, DhcpOptionCode.MESSAGE_TYPE, 2);
    setU16(o, DhcpOptionCode.MAX_MESSAGE_SIZE, 1472);
    setU32(o, DhcpOptionCode.LEASE_TIME, 86400);
    setU8s(o, DhcpOptionCode.PARAM_REQUEST_LIST, [1, 3, 6]);
    setString(o, DhcpOptionCode.HOSTNAME, 'pc-01');
    setBytes(o, DhcpOptionCode.CLIENT_ID, Buffer.from([1, 2, 3]));
    expect(o.get(1)).toEqual(Buffer.from([255, 255, 255, 0]));
    expect(o.get(57)).toEqual(Buffer.from([0x05, 0xc0]));
    expect(o.get(51)).toEqual(Buffer.from([0, 1, 0x51, 0x80]));
    expect(getIp(o, 1)).toBe('255.255.255.0');
    expect(getIps(o, 3)).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(getU8(o, 53)).toBe(2);
    expect(getU16(o, 57)).toBe(1472);
    expect(getU32(o, 51)).toBe(86400);
    expect(getU8s(o, 55)).toEqual([1, 3, 6]);
    expect(getString(o, 12)).toBe('pc-01');
    expect(getBytes(o, 61)).toEqual(Buffer.from([1, 2, 3]));
    expect(getIp(o, 50)).toBeNull();
    expect(getString(o, 15)).toBeNull();
  });

  it('reads option 93 as a list of 16-bit architectures', () => {
    const o = new Map([[93, Buffer.from([0, 7, 0, 9])]]);
    expect(getU16s(o, 93)).toEqual([7, 9]);
  });

  it('drops trailing NULs from strings', () => {
    expect(getString(new Map([[12, Buffer.from('host\0\0')]]), 12)).toBe('host');
  });

  it.each<[string, () => unknown]>([
    ['ip of 3 bytes', () => getIp(new Map([[54, Buffer.from([1, 2, 3])]]), 54)],
    ['ips of 6 bytes', () => getIps(new Map([[3, Buffer.alloc(6)]]), 3)],
    ['empty ips', () => getIps(new Map([[6, Buffer.alloc(0)]]), 6)],
    ['u8 of 2 bytes', () => getU8(new Map([[53, Buffer.from([1, 1])]]), 53)],
    ['u16 of 1 byte', () => getU16(new Map([[57, Buffer.from([5])]]), 57)],
    ['u32 of 5 bytes', () => getU32(new Map([[51, Buffer.alloc(5)]]), 51)],
    ['odd u16 list', () => getU16s(new Map([[93, Buffer.from([0, 0, 7])]]), 93)],
  ])('rejects a malformed %s with MalformedPacketError', (_name, read) => {
    expect(read).toThrow(MalformedPacketError);
  });

  it('refuses to write the wrong type or an unrepresentable value', () => {
    const o = new Map<number, Buffer>();
    expect(() => setU16(o, DhcpOptionCode.LEASE_TIME, 1)).toThrow(TypeError);
    expect(() => setString(o, DhcpOptionCode.SERVER_ID, 'x')).toThrow(TypeError);
    expect(() => setIp(o, DhcpOptionCode.SERVER_ID, '1.2.3')).toThrow(RangeError);
    expect(() => setIps(o, DhcpOptionCode.ROUTER, [])).toThrow(RangeError);
    expect(() => setU8(o, DhcpOptionCode.MESSAGE_TYPE, 256)).toThrow(RangeError);
    expect(() => setU32(o, DhcpOptionCode.LEASE_TIME, -1)).toThrow(RangeError);
    expect(() => setString(o, DhcpOptionCode.HOSTNAME, '')).toThrow(RangeError);
    expect(o.size).toBe(0);
  });
});

describe('encapsulated sub-options', () => {
  it('encodes PXE option 43 with END and decodes it back', () => {
    const value = encodeSubOptions(new Map([[6, Buffer.from([8])]]), true);
    expect(value).toEqual(Buffer.from([6, 1, 8, 255]));
    expect(decodeSubOptions(value)).toEqual(new Map([[6, Buffer.from([8])]]));
  });

  it('decodes the iPXE 175 block with pads and repeats', () => {
    const subs = decodeSubOptions(Buffer.from([0, 177, 5, 1, 0x80, 0x86, 0x10, 0x0e, 235, 3, 1, 0, 0, 0x19, 1, 1]));
    expect([...subs.keys()]).toEqual([177, 235, 0x19]);
    expect(
      decodeSubOptions(Buffer.from([1, 1, 0x61, 1, 1, 0x62]))
        .get(1)!
        .toString(),
    ).toBe('ab');
  });

  it('rejects a sub-option that overruns', () => {
    expect(() => decodeSubOptions(Buffer.from([1, 4, 0]))).toThrow(MalformedPacketError);
    expect(() => decodeSubOptions(Buffer.from([1]))).toThrow(MalformedPacketError);
  });

  it('refuses sub-options it cannot encode', () => {
    expect(() => encodeSubOptions(new Map([[1, Buffer.alloc(256)]]))).toThrow(RangeError);
    expect(() => encodeSubOptions(new Map([[0, Buffer.alloc(1)]]))).toThrow(RangeError);
  });
});

describe('domain search (RFC 3397)', () => {
  it('encodes names as uncompressed DNS labels', () => {
    expect(encodeDomainSearch(['lab.dls', 'dls.'])).toEqual(Buffer.from([3, 0x6c, 0x61, 0x62, 3, 0x64, 0x6c, 0x73, 0, 3, 0x64, 0x6c, 0x73, 0]));
    const o = new Map<number, Buffer>();
    setDomainSearch(o, ['a.b']);
    expect(o.get(119)).toEqual(Buffer.from([1, 0x61, 1, 0x62, 0]));
    expect(() => encodeDomainSearch(['a..b'])).toThrow(RangeError);
  });
});

describe('describeOptions', () => {
  it('names and types values, and marks malformed ones instead of throwing', () => {
    const o = new Map<number, Buffer>([
      [53, Buffer.from([1])],
      [54, Buffer.from([10, 0, 0, 1])],
      [57, Buffer.from([5])],
      [93, Buffer.from([0, 7])],
      [240, Buffer.from([0xab])],
    ]);
    expect(describeOptions(o)).toEqual({
      'message-type': 1,
      'server-id': '10.0.0.1',
      'max-message-size': 'malformed:05',
      'client-arch': [7],
      'option-240': 'ab',
    });
  });
});
