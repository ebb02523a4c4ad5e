import fc from 'fast-check';
import { MalformedPacketError } from '../malformed-packet.error';
import { decodeMagicPacket, encodeMagicPacket, MAGIC_PACKET_LENGTH } from './magic-packet';

const macArb = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':'));

describe('magic packet codec', () => {
  it('encodes the byte fixture: six 0xff, then the MAC sixteen times (102 bytes)', () => {
    const hex = encodeMagicPacket('52:54:00:12:34:56').toString('hex');
    expect(hex).toBe('ffffffffffff' + '525400123456'.repeat(16));
    expect(hex.length / 2).toBe(MAGIC_PACKET_LENGTH);
  });

  it('appends a SecureOn password of 4 or 6 bytes and refuses other lengths', () => {
    expect(encodeMagicPacket('02:00:00:00:00:01', Buffer.from('a1b2c3d4', 'hex')).subarray(102).toString('hex')).toBe('a1b2c3d4');
    expect(encodeMagicPacket('02:00:00:00:00:01', Buffer.alloc(6, 7))).toHaveLength(108);
    expect(() => encodeMagicPacket('02:00:00:00:00:01', Buffer.alloc(5))).toThrow(RangeError);
  });

  it('refuses anything but a canonical MAC', () => {
    for (const bad of ['52-54-00-12-34-56', '52:54:00:12:34', '52:54:00:12:34:5G', 'AA:BB:CC:DD:EE:FF', '', '52:54:00:12:34:56:78']) {
      expect(() => encodeMagicPacket(bad)).toThrow(RangeError);
    }
  });

  it('round-trips any MAC and password', () => {
    fc.assert(
      fc.property(macArb, fc.option(fc.constantFrom(4, 6).chain((n) => fc.uint8Array({ minLength: n, maxLength: n }))), (mac, pw) => {
        const password = pw ? Buffer.from(pw) : undefined;
        const decoded = decodeMagicPacket(encodeMagicPacket(mac, password));
        expect(decoded.mac).toBe(mac);
        expect(decoded.password === null ? null : decoded.password.toString('hex')).toBe(password ? password.toString('hex') : null);
      }),
    );
  });

  it('decodes nothing but magic packets: any other input is a MalformedPacketError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 130 }), (bytes) => {
        try {
          const d = decodeMagicPacket(Buffer.from(bytes));
          expect(encodeMagicPacket(d.mac, d.password ?? undefined).equals(Buffer.from(bytes))).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(MalformedPacketError);
        }
      }),
    );
  });

  it('names the problem of a damaged packet', () => {
    const good = encodeMagicPacket('52:54:00:12:34:56');
    expect(() => decodeMagicPacket(good.subarray(0, 101))).toThrow(/101 bytes/);
    expect(() => decodeMagicPacket(Buffer.concat([good, Buffer.alloc(1)]))).toThrow(/1 bytes after/);
    const sync = Buffer.from(good);
    sync[3] = 0xfe;
    expect(() => decodeMagicPacket(sync)).toThrow(/synchronisation byte 3 is 0xfe/);
    const copy = Buffer.from(good);
    copy[6 + 6 * 15] ^= 1;
    expect(() => decodeMagicPacket(copy)).toThrow(/MAC copy 16 differs/);
  });
});
