import { MalformedPacketError } from '../malformed-packet.error';
import { CpioEntryError, decodeNewc, encodeNewc, NEWC_HEADER_BYTES, S_IFDIR, S_IFREG } from './cpio-newc';

describe('newc cpio writer', () => {
  it('writes the exact bytes of a directory and a file (header fields, NUL padding to 4, trailer)', () => {
    const a = encodeNewc([
      { type: 'dir', path: 'etc', mode: 0o755 },
      { type: 'file', path: 'etc/x', mode: 0o600, data: 'hi\n' },
    ]);
    const hex8 = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
    const head = (ino: number, mode: number, nlink: number, size: number, namesize: number) =>
      '070701' + [ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, namesize, 0].map(hex8).join('');
    // 110 + "etc\0" = 114 → 2 NULs; 110 + "etc/x\0" = 116 → none, data "hi\n" → 1 NUL; 110 + "TRAILER!!!\0" = 121 → 3.
    const expected = Buffer.concat([
      Buffer.from(head(1, 0o40755, 2, 0, 4) + 'etc\0' + '\0\0', 'latin1'),
      Buffer.from(head(2, 0o100600, 1, 3, 6) + 'etc/x\0' + 'hi\n' + '\0', 'latin1'),
      Buffer.from(head(0, 0, 1, 0, 11) + 'TRAILER!!!\0' + '\0\0\0', 'latin1'),
    ]);
    expect(a.equals(expected)).toBe(true);
    expect(a.length % 4).toBe(0);
  });

  it('round-trips through the reader: paths, modes, root owner, mtime 0, content', () => {
    const big = Buffer.alloc(4097, 0xab);
    const members = decodeNewc(
      encodeNewc([
        { type: 'dir', path: 'etc', mode: 0o755 },
        { type: 'dir', path: 'etc/cmdline.d', mode: 0o755 },
        { type: 'file', path: 'etc/cmdline.d/90-x.conf', mode: 0o600, data: 'a=b c=d\n' },
        { type: 'file', path: 'blob', mode: 0o644, data: big },
        { type: 'file', path: 'empty', mode: 0o400, data: '' },
      ]),
    );
    expect(members.map((m) => [m.path, m.mode.toString(8), m.nlink])).toEqual([
      ['etc', (S_IFDIR | 0o755).toString(8), 2],
      ['etc/cmdline.d', (S_IFDIR | 0o755).toString(8), 2],
      ['etc/cmdline.d/90-x.conf', (S_IFREG | 0o600).toString(8), 1],
      ['blob', (S_IFREG | 0o644).toString(8), 1],
      ['empty', (S_IFREG | 0o400).toString(8), 1],
    ]);
    expect(members.every((m) => m.uid === 0 && m.gid === 0 && m.mtime === 0)).toBe(true);
    expect(members[2].data.toString()).toBe('a=b c=d\n');
    expect(members[3].data.equals(big)).toBe(true);
    expect(members[4].data.length).toBe(0);
  });

  it('aligns every header to 4 bytes whatever the name and data lengths', () => {
    for (let n = 1; n <= 8; n++) {
      for (let d = 0; d <= 5; d++) {
        const a = encodeNewc([{ type: 'file', path: 'f'.repeat(n), mode: 0o644, data: 'x'.repeat(d) }]);
        expect(a.length % 4).toBe(0);
        const trailerAt = a.indexOf('070701', 1);
        expect(trailerAt % 4).toBe(0);
        expect(decodeNewc(a)[0].data.toString()).toBe('x'.repeat(d));
      }
    }
  });

  it('is deterministic (no clock, no inode or owner of the host)', () => {
    const e = [{ type: 'file' as const, path: 'a', mode: 0o600, data: 'secret' }];
    expect(encodeNewc(e).equals(encodeNewc(e))).toBe(true);
  });

  it.each([
    ['/etc/passwd', 'absolute'],
    ['etc/../x', 'dot-dot'],
    ['./etc', 'dot'],
    ['etc//x', 'empty segment'],
    ['etc/', 'trailing slash'],
    ['', 'empty'],
    ['a b', 'space'],
    ['a\nb', 'line break'],
    ['TRAILER!!!', 'the trailer name'],
  ])('refuses the path %j (%s)', (path) => {
    expect(() => encodeNewc([{ type: 'file', path, mode: 0o600, data: '' }])).toThrow(CpioEntryError);
  });

  it('refuses a bad mode and a path given twice', () => {
    expect(() => encodeNewc([{ type: 'dir', path: 'a', mode: 0o10000 }])).toThrow(CpioEntryError);
    expect(() => encodeNewc([{ type: 'dir', path: 'a', mode: -1 }])).toThrow(CpioEntryError);
    expect(() => encodeNewc([{ type: 'dir', path: 'a', mode: 1.5 }])).toThrow(CpioEntryError);
    expect(() =>
      encodeNewc([
        { type: 'dir', path: 'a', mode: 0o755 },
        { type: 'file', path: 'a', mode: 0o600, data: '' },
      ]),
    ).toThrow(/appears twice/);
  });

  it('writes just the trailer for no entries', () => {
    expect(decodeNewc(encodeNewc([]))).toEqual([]);
  });
});

describe('newc cpio reader', () => {
  const good = encodeNewc([{ type: 'file', path: 'etc/x', mode: 0o600, data: 'hello' }]);

  it('throws MalformedPacketError on every truncation and never reads out of bounds', () => {
    for (let n = 0; n < good.length - 4; n++) {
      expect(() => decodeNewc(good.subarray(0, n))).toThrow(MalformedPacketError);
    }
  });

  it('throws on a bad magic, a bad hex field and a name without its NUL', () => {
    const badMagic = Buffer.from(good);
    badMagic.write('070707', 0, 'latin1');
    expect(() => decodeNewc(badMagic)).toThrow(/bad magic/);
    const badField = Buffer.from(good);
    badField.write('zz', 6 + 8, 'latin1');
    expect(() => decodeNewc(badField)).toThrow(/bad header field/);
    const noNul = Buffer.from(good);
    noNul[NEWC_HEADER_BYTES + 5] = 0x41;
    expect(() => decodeNewc(noNul)).toThrow(/NUL/);
  });

  it('ignores NUL padding after the trailer (as the kernel does between concatenated archives)', () => {
    expect(decodeNewc(Buffer.concat([good, Buffer.alloc(512)]))).toHaveLength(1);
  });
});
