import { MalformedPacketError } from '../malformed-packet.error';
import {
  ackWord,
  dataHeaderTable,
  decodeTftp,
  encodeAck,
  encodeData,
  encodeError,
  encodeOack,
  encodeRrq,
  encodeTftp,
  encodeWrq,
  toNetascii,
  type TftpPacket,
} from './tftp.codec';
import { TftpErrorCode, TftpOpcode } from './tftp.constants';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('tftp codec', () => {
  describe('dataHeaderTable', () => {
    it('holds the DATA header of every 16-bit block number, equal to what encodeData writes, built once', () => {
      const table = dataHeaderTable();
      expect(table.length).toBe(65_536 * 4);
      for (const block of [0, 1, 2, 255, 256, 4660, 65_534, 65_535]) {
        expect(table.subarray(block * 4, block * 4 + 4)).toEqual(encodeData(block, Buffer.alloc(0)));
      }
      expect(dataHeaderTable()).toBe(table);
    });

    it('ackWord is the 4 bytes of encodeAck as one big-endian number', () => {
      for (const block of [0, 1, 258, 65_535]) expect(ackWord(block)).toBe(encodeAck(block).readUInt32BE(0));
      expect(() => ackWord(65_536)).toThrow(RangeError);
    });
  });

  describe('fixtures from real clients', () => {
    it('decodes iPXE undionly RRQ: undionly.kpxe octet blksize=1432 tsize=0', () => {
      const wire = Buffer.concat([hex('0001'), Buffer.from('undionly.kpxe\0octet\0blksize\x001432\0tsize\x000\0', 'latin1')]);
      const p = decodeTftp(wire);
      expect(p).toEqual({
        opcode: TftpOpcode.RRQ,
        filename: 'undionly.kpxe',
        mode: 'octet',
        options: new Map([
          ['blksize', '1432'],
          ['tsize', '0'],
        ]),
      });
      expect(encodeTftp(p)).toEqual(wire);
    });

    it('decodes OVMF RRQ with windowsize and its ERROR 8 abort', () => {
      const rrq = decodeTftp(Buffer.from('\0\x01ipxe.efi\0octet\0tsize\x000\0blksize\x001468\0windowsize\x004\0', 'latin1'));
      expect(rrq.opcode).toBe(TftpOpcode.RRQ);
      expect(rrq.opcode === TftpOpcode.RRQ && [...rrq.options.keys()]).toEqual(['tsize', 'blksize', 'windowsize']);
      const err = decodeTftp(Buffer.from('\0\x05\0\x08User aborted the transfer\0', 'latin1'));
      expect(err).toEqual({ opcode: TftpOpcode.ERROR, code: 8, message: 'User aborted the transfer' });
    });

    it('encodes the OACK dnsmasq sent: blksize 1432 tsize 74213', () => {
      expect(
        encodeOack([
          ['blksize', '1432'],
          ['tsize', '74213'],
        ]),
      ).toEqual(Buffer.from('\0\x06blksize\x001432\0tsize\x0074213\0', 'latin1'));
    });
  });

  describe('round trips', () => {
    const packets: TftpPacket[] = [
      { opcode: TftpOpcode.RRQ, filename: 'a/b/c.efi', mode: 'netascii', options: new Map() },
      { opcode: TftpOpcode.WRQ, filename: 'x', mode: 'octet', options: new Map([['blksize', '8']]) },
      { opcode: TftpOpcode.DATA, block: 0, data: Buffer.alloc(0) },
      { opcode: TftpOpcode.DATA, block: 65535, data: Buffer.alloc(65464, 7) },
      { opcode: TftpOpcode.ACK, block: 0 },
      { opcode: TftpOpcode.ACK, block: 65535 },
      { opcode: TftpOpcode.ERROR, code: TftpErrorCode.UNKNOWN_TRANSFER_ID, message: 'Unknown transfer ID' },
      { opcode: TftpOpcode.ERROR, code: 0, message: '' },
      { opcode: TftpOpcode.OACK, options: new Map([['windowsize', '4']]) },
      { opcode: TftpOpcode.RRQ, filename: 'grüße/ファイル', mode: 'octet', options: new Map([['tsize', '0']]) },
    ];
    it.each(packets.map((p) => [TftpOpcode[p.opcode], p] as const))('%s', (_name, packet) => {
      const wire = encodeTftp(packet);
      const decoded = decodeTftp(wire);
      expect(decoded).toEqual(packet);
      expect(encodeTftp(decoded)).toEqual(wire);
    });

    it('encodes DATA and ACK headers big-endian', () => {
      expect(encodeData(0x1234, Buffer.from('hi'))).toEqual(hex('0003 1234 6869'));
      expect(encodeAck(0xfffe)).toEqual(hex('0004 fffe'));
      expect(encodeError(2, 'no')).toEqual(hex('0005 0002 6e6f 00'));
      expect(encodeRrq('f', 'octet', { blksize: '8' })).toEqual(Buffer.from('\0\x01f\0octet\0blksize\x008\0', 'latin1'));
      expect(encodeWrq('f')).toEqual(Buffer.from('\0\x02f\0octet\0', 'latin1'));
    });
  });

  describe('options', () => {
    it('lower-cases option names and mode, keeps values, first duplicate wins', () => {
      const p = decodeTftp(Buffer.from('\0\x01F\0OcTeT\0BLKSIZE\x001024\0BlkSize\x00512\0TSize\x000\0', 'latin1'));
      expect(p).toEqual({
        opcode: TftpOpcode.RRQ,
        filename: 'F',
        mode: 'octet',
        options: new Map([
          ['blksize', '1024'],
          ['tsize', '0'],
        ]),
      });
    });

    it('ignores a trailing incomplete option and NUL padding', () => {
      const a = decodeTftp(Buffer.from('\0\x01f\0octet\0blksize\x00512\0tsize', 'latin1'));
      const b = decodeTftp(Buffer.from('\0\x01f\0octet\0blksize\x00512\0tsize\0', 'latin1'));
      const c = decodeTftp(Buffer.from('\0\x01f\0octet\0\0\0\0\0', 'latin1'));
      expect(a.opcode === TftpOpcode.RRQ && a.options).toEqual(new Map([['blksize', '512']]));
      expect(b.opcode === TftpOpcode.RRQ && b.options).toEqual(new Map([['blksize', '512']]));
      expect(c.opcode === TftpOpcode.RRQ && c.options.size).toBe(0);
    });
  });

  describe('malformed input', () => {
    const bad: Array<[string, Buffer]> = [
      ['empty', Buffer.alloc(0)],
      ['one byte', hex('00')],
      ['opcode 0', hex('0000 0000')],
      ['opcode 7', hex('0007 0000')],
      ['opcode 0x0100', hex('0100 0000')],
      ['RRQ without filename NUL', Buffer.from('\0\x01file', 'latin1')],
      ['RRQ without mode', Buffer.from('\0\x01file\0', 'latin1')],
      ['RRQ with unterminated mode', Buffer.from('\0\x01file\0octet', 'latin1')],
      ['RRQ with empty mode', Buffer.from('\0\x01file\0\0', 'latin1')],
      ['RRQ with invalid UTF-8 filename', hex('0001 ff fe 00 6f 00')],
      ['DATA without block', hex('0003 00')],
      ['DATA larger than 65464', Buffer.concat([hex('0003 0001'), Buffer.alloc(65465)])],
      ['ACK too short', hex('0004 01')],
      ['ERROR too short', hex('0005 00')],
    ];
    it.each(bad)('%s → MalformedPacketError', (_name, buf) => {
      expect(() => decodeTftp(buf)).toThrow(MalformedPacketError);
    });

    it('tolerates an ERROR message without NUL and an ACK with padding', () => {
      expect(decodeTftp(Buffer.from('\0\x05\0\x01gone', 'latin1'))).toEqual({
        opcode: TftpOpcode.ERROR,
        code: 1,
        message: 'gone',
      });
      expect(decodeTftp(hex('0004 0102 0000'))).toEqual({ opcode: TftpOpcode.ACK, block: 0x0102 });
    });

    it('DATA view does not copy', () => {
      const wire = encodeData(1, Buffer.from('abc'));
      const p = decodeTftp(wire);
      expect(p.opcode === TftpOpcode.DATA && p.data.buffer).toBe(wire.buffer);
    });
  });

  describe('encoder guards', () => {
    it('rejects out-of-range block numbers, codes and NULs in strings', () => {
      expect(() => encodeAck(65536)).toThrow(RangeError);
      expect(() => encodeAck(-1)).toThrow(RangeError);
      expect(() => encodeData(1.5, Buffer.alloc(0))).toThrow(RangeError);
      expect(() => encodeData(1, Buffer.alloc(65465))).toThrow(RangeError);
      expect(() => encodeError(70000, 'x')).toThrow(RangeError);
      expect(() => encodeRrq('a\0b')).toThrow(RangeError);
      expect(() => encodeOack([['blksize', '1\x000']])).toThrow(RangeError);
    });
  });

  describe('netascii', () => {
    it('maps LF to CR LF and bare CR to CR NUL', () => {
      expect(toNetascii(Buffer.from('a\nb\rc\r\n'))).toEqual(Buffer.from('a\r\nb\r\0c\r\0\r\n', 'latin1'));
      expect(toNetascii(Buffer.from('plain'))).toEqual(Buffer.from('plain'));
      expect(toNetascii(Buffer.alloc(0))).toEqual(Buffer.alloc(0));
    });
  });
});
