import { MalformedPacketError } from '../malformed-packet.error';
import { decodeDhcp, DhcpPacket, encodeDhcp, encodedDhcpLength } from './dhcp.codec';
import { BOOTP_MIN_PACKET_LENGTH, DHCP_MAGIC_COOKIE, DhcpOptionCode } from './dhcp.constants';

function packet(overrides: Partial<DhcpPacket> = {}): DhcpPacket {
  const chaddr = Buffer.alloc(16);
  Buffer.from([0x52, 0x54, 0x00, 0xab, 0xcd, 0xef]).copy(chaddr);
  return {
    op: 1,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: 0xdeadbeef,
    secs: 3,
    flags: 0x8000,
    ciaddr: '0.0.0.0',
    yiaddr: '10.0.0.5',
    siaddr: '10.0.0.1',
    giaddr: '192.168.7.254',
    chaddr,
    sname: 'boot-server',
    file: 'undionly.kpxe',
    options: new Map([
      [DhcpOptionCode.MESSAGE_TYPE, Buffer.from([1])],
      [DhcpOptionCode.PARAM_REQUEST_LIST, Buffer.from([1, 3, 6])],
      [80, Buffer.alloc(0)],
    ]),
    ...overrides,
  };
}

/** A raw DHCP buffer: 236-byte header with op=1, cookie, then the given option bytes. */
function raw(optionBytes: number[], tweak?: (b: Buffer) => void): Buffer {
  const buf = Buffer.alloc(240 + optionBytes.length);
  buf[0] = 1;
  buf.writeUInt32BE(DHCP_MAGIC_COOKIE, 236);
  Buffer.from(optionBytes).copy(buf, 240);
  tweak?.(buf);
  return buf;
}

const malformed = (buf: Buffer): void => {
  expect(() => decodeDhcp(buf)).toThrow(MalformedPacketError);
};

describe('encodeDhcp / decodeDhcp', () => {
  it('round-trips every field and keeps option order', () => {
    const pkt = packet();
    const wire = encodeDhcp(pkt);
    const back = decodeDhcp(wire);
    expect(back).toEqual(pkt);
    expect([...back.options.keys()]).toEqual([53, 55, 80]);
  });

  it('writes the fixed header at the RFC 2131 offsets', () => {
    const wire = encodeDhcp(packet());
    expect(wire.readUInt32BE(4)).toBe(0xdeadbeef);
    expect(wire.readUInt16BE(8)).toBe(3);
    expect(wire.readUInt16BE(10)).toBe(0x8000);
    expect([...wire.subarray(16, 20)]).toEqual([10, 0, 0, 5]);
    expect([...wire.subarray(24, 28)]).toEqual([192, 168, 7, 254]);
    expect(wire.toString('latin1', 44, 55)).toBe('boot-server');
    expect(wire.toString('latin1', 108, 121)).toBe('undionly.kpxe');
    expect(wire.readUInt32BE(236)).toBe(DHCP_MAGIC_COOKIE);
    expect([...wire.subarray(240, 250)]).toEqual([53, 1, 1, 55, 3, 1, 3, 6, 80, 0]);
    expect(wire[250]).toBe(255);
  });

  it('pads to the 300-byte BOOTP minimum and predicts its length', () => {
    const small = packet();
    expect(encodeDhcp(small).length).toBe(BOOTP_MIN_PACKET_LENGTH);
    const big = packet({ options: new Map([[43, Buffer.alloc(200, 7)]]) });
    expect(encodeDhcp(big).length).toBe(240 + 202 + 1);
    expect(encodedDhcpLength(big)).toBe(443);
  });

  it('splits options longer than 255 bytes and decodes them back concatenated (RFC 3396)', () => {
    const value = Buffer.from(Array.from({ length: 600 }, (_, i) => i & 0xff));
    const pkt = packet({
      options: new Map([
        [43, value],
        [53, Buffer.from([2])],
      ]),
    });
    const wire = encodeDhcp(pkt);
    expect(wire[240]).toBe(43);
    expect(wire[241]).toBe(255);
    expect(wire[240 + 257]).toBe(43);
    expect(wire[240 + 258]).toBe(255);
    expect(wire[240 + 514]).toBe(43);
    expect(wire[240 + 515]).toBe(90);
    expect(encodedDhcpLength(pkt)).toBe(wire.length);
    const back = decodeDhcp(wire);
    expect(back.options.get(43)).toEqual(value);
    expect([...back.options.keys()]).toEqual([43, 53]);
  });

  it('concatenates repeated options in order and keeps the first position (RFC 3396 §7)', () => {
    const pkt = decodeDhcp(raw([53, 1, 1, 12, 2, 0x61, 0x62, 61, 1, 9, 12, 1, 0x63, 255]));
    expect([...pkt.options.keys()]).toEqual([53, 12, 61]);
    expect(pkt.options.get(12)!.toString()).toBe('abc');
  });

  it('skips PAD, stops at END, ignores bytes after END, accepts a missing END', () => {
    const a = decodeDhcp(raw([0, 0, 53, 1, 3, 0, 255, 12, 99, 1, 2]));
    expect([...a.options.entries()]).toEqual([[53, Buffer.from([3])]]);
    const b = decodeDhcp(raw([53, 1, 3]));
    expect(b.options.get(53)).toEqual(Buffer.from([3]));
    const c = decodeDhcp(raw([]));
    expect(c.options.size).toBe(0);
  });

  it('trims sname and file at the first NUL and returns copies, not views', () => {
    const input = raw([255], (b) => {
      b.write('tftp\0junk', 44, 'latin1');
      b.write('pxelinux.0', 108, 'latin1');
      b[28] = 0xaa;
    });
    const pkt = decodeDhcp(input);
    expect(pkt.sname).toBe('tftp');
    expect(pkt.file).toBe('pxelinux.0');
    input[28] = 0;
    expect(pkt.chaddr[0]).toBe(0xaa);
  });

  it('reads full-width sname/file without NUL and re-encodes them', () => {
    const input = raw([255], (b) => {
      b.fill(0x41, 44, 108);
      b.fill(0x42, 108, 236);
    });
    const pkt = decodeDhcp(input);
    expect(pkt.sname).toBe('A'.repeat(64));
    expect(pkt.file).toBe('B'.repeat(128));
    expect(decodeDhcp(encodeDhcp(pkt))).toEqual(pkt);
  });

  describe('option overload (RFC 2132 §9.3)', () => {
    const overloaded = (value: number): Buffer =>
      raw([53, 1, 5, 52, 1, value, 12, 1, 0x61, 255], (b) => {
        Buffer.from([12, 1, 0x62, 67, 3, 0x61, 0x2e, 0x62, 255]).copy(b, 108); // file
        Buffer.from([12, 1, 0x63, 66, 1, 0x73]).copy(b, 44); // sname, no END: ends with the field
      });

    it('reads options from file (1)', () => {
      const pkt = decodeDhcp(overloaded(1));
      expect(pkt.file).toBe('');
      expect(pkt.sname).not.toBe('');
      expect(pkt.options.get(12)!.toString()).toBe('ab');
      expect(pkt.options.get(67)!.toString()).toBe('a.b');
      expect(pkt.options.has(66)).toBe(false);
      expect(pkt.options.has(52)).toBe(false);
    });

    it('reads options from sname (2)', () => {
      const pkt = decodeDhcp(overloaded(2));
      expect(pkt.sname).toBe('');
      expect(pkt.options.get(12)!.toString()).toBe('ac');
      expect(pkt.options.get(66)!.toString()).toBe('s');
      expect(pkt.options.has(67)).toBe(false);
    });

    it('reads options, then file, then sname (3), and re-encodes without overload', () => {
      const pkt = decodeDhcp(overloaded(3));
      expect(pkt.options.get(12)!.toString()).toBe('abc');
      expect([...pkt.options.keys()]).toEqual([53, 12, 67, 66]);
      expect(pkt.file).toBe('');
      expect(pkt.sname).toBe('');
      const back = decodeDhcp(encodeDhcp(pkt));
      expect(back).toEqual(pkt);
    });

    it.each([0, 4, 255])('rejects overload value %i', (value) => malformed(overloaded(value)));

    it('rejects an overload option of the wrong length', () => malformed(raw([52, 2, 1, 1, 255])));

    it('rejects option 52 inside an overloaded field', () => {
      malformed(raw([52, 1, 1, 255], (b) => Buffer.from([52, 1, 2, 255]).copy(b, 108)));
    });

    it('rejects an option overrunning the overloaded field', () => {
      malformed(raw([52, 1, 2, 255], (b) => Buffer.from([12, 200, 1]).copy(b, 44)));
    });
  });

  describe('rejects malformed input with MalformedPacketError', () => {
    it('shorter than 240 bytes', () => {
      malformed(Buffer.alloc(0));
      malformed(raw([]).subarray(0, 239));
    });
    it('bad magic cookie', () => malformed(raw([255], (b) => b.writeUInt32BE(0x63825364, 236))));
    it.each([0, 3, 255])('bad op %i', (op) => malformed(raw([255], (b) => (b[0] = op))));
    it('option running past the end', () => malformed(raw([53, 1, 1, 12, 5, 0x61])));
    it('option with no length byte', () => malformed(raw([53, 1, 1, 12])));
    it('not a Buffer', () => expect(() => decodeDhcp('x' as unknown as Buffer)).toThrow(MalformedPacketError));
  });

  describe('encode rejects unrepresentable packets with RangeError', () => {
    it.each<[string, Partial<DhcpPacket>]>([
      ['bad ciaddr', { ciaddr: '10.0.0.256' }],
      ['non-address', { siaddr: 'server' }],
      ['xid too big', { xid: 2 ** 32 }],
      ['flags not integer', { flags: 1.5 }],
      ['short chaddr', { chaddr: Buffer.alloc(6) }],
      ['long file', { file: 'x'.repeat(129) }],
      ['NUL in sname', { sname: 'a\0b' }],
      ['non-latin1 file', { file: 'boot-€' }],
      ['framing option 52', { options: new Map([[52, Buffer.from([1])]]) }],
      ['framing option 255', { options: new Map([[255, Buffer.alloc(0)]]) }],
      ['code 256', { options: new Map([[256, Buffer.alloc(0)]]) }],
    ])('%s', (_name, overrides) => {
      expect(() => encodeDhcp(packet(overrides))).toThrow(RangeError);
    });
  });
});
