import fc from 'fast-check';
import { PeImageError, readPeImage, subsystemName } from './pe-image';

/** A minimal PE32+ (or PE32) image: DOS header, PE header, optional header with 16 data directories, optional certificate table. */
function pe(opts: { machine?: number; magic?: number; subsystem?: number; cert?: Buffer | null; certType?: number; dirCount?: number } = {}): Buffer {
  const magic = opts.magic ?? 0x20b;
  const dirs = magic === 0x20b ? 112 : 96;
  const dirCount = opts.dirCount ?? 16;
  const optionalSize = dirs + 8 * dirCount;
  const peAt = 0x80;
  const headerEnd = peAt + 24 + optionalSize;
  const certAt = (headerEnd + 7) & ~7;
  const cert = opts.cert === undefined ? null : opts.cert;
  const certEntry = cert ? Buffer.alloc((8 + cert.length + 7) & ~7) : null;
  if (certEntry && cert) {
    certEntry.writeUInt32LE(8 + cert.length, 0);
    certEntry.writeUInt16LE(0x0200, 4);
    certEntry.writeUInt16LE(opts.certType ?? 0x0002, 6);
    cert.copy(certEntry, 8);
  }
  const buf = Buffer.alloc(certAt + (certEntry?.length ?? 0));
  buf.write('MZ', 0, 'latin1');
  buf.writeUInt32LE(peAt, 0x3c);
  buf.write('PE\0\0', peAt, 'latin1');
  buf.writeUInt16LE(opts.machine ?? 0x8664, peAt + 4);
  buf.writeUInt16LE(optionalSize, peAt + 20);
  const opt = peAt + 24;
  buf.writeUInt16LE(magic, opt);
  buf.writeUInt16LE(opts.subsystem ?? 10, opt + 68);
  buf.writeUInt32LE(dirCount, opt + dirs - 4);
  if (certEntry && dirCount > 4) {
    buf.writeUInt32LE(certAt, opt + dirs + 32);
    buf.writeUInt32LE(certEntry.length, opt + dirs + 36);
    certEntry.copy(buf, certAt);
  }
  return buf;
}

describe('readPeImage', () => {
  it('reads a signed x64 EFI application', () => {
    expect(readPeImage(pe({ cert: Buffer.from('pkcs7 blob') }))).toEqual({
      platform: 'x64',
      machine: 0x8664,
      subsystem: 10,
      efiApplication: true,
      signed: true,
    });
  });

  it('tells an unsigned image, the CPU and a PE32 (ia32) header', () => {
    expect(readPeImage(pe()).signed).toBe(false);
    expect(readPeImage(pe({ machine: 0xaa64 })).platform).toBe('arm64');
    expect(readPeImage(pe({ machine: 0x014c, magic: 0x10b, cert: Buffer.alloc(3) }))).toMatchObject({ platform: 'ia32', signed: true });
    expect(readPeImage(pe({ machine: 0x01c4 })).platform).toBeNull(); // ARMv7 Thumb: no Secure Boot loader here
  });

  it('a certificate table without a PKCS#7 entry, or no security directory, is not signed', () => {
    expect(readPeImage(pe({ cert: Buffer.alloc(16), certType: 0x0001 })).signed).toBe(false); // X.509, not Authenticode
    expect(readPeImage(pe({ cert: Buffer.alloc(16), dirCount: 4 })).signed).toBe(false);
  });

  it('reports drivers and other subsystems as not applications', () => {
    const info = readPeImage(pe({ subsystem: 11 }));
    expect(info.efiApplication).toBe(false);
    expect(subsystemName(info.subsystem)).toBe('EFI boot service driver');
    expect(subsystemName(3)).toMatch(/not an EFI program/);
  });

  it('refuses what is not a PE image, naming the reason', () => {
    expect(() => readPeImage(Buffer.alloc(10))).toThrow(/ends before its DOS header/);
    expect(() => readPeImage(Buffer.from('#!ipxe\nchain http://x/y\n'.padEnd(100, ' ')))).toThrow(/does not start with "MZ"/);
    const noPe = pe();
    noPe.write('XX', 0x80, 'latin1');
    expect(() => readPeImage(noPe)).toThrow(/no "PE" signature/);
    const badMagic = pe();
    badMagic.writeUInt16LE(0x107, 0x80 + 24);
    expect(() => readPeImage(badMagic)).toThrow(/optional header magic 0x107/);
    const farPe = pe();
    farPe.writeUInt32LE(0xfffffff0, 0x3c);
    expect(() => readPeImage(farPe)).toThrow(PeImageError);
  });

  it('refuses a certificate table pointing outside the file or an entry longer than its table', () => {
    const outside = pe({ cert: Buffer.alloc(8) });
    outside.writeUInt32LE(outside.length + 100, 0x80 + 24 + 112 + 32);
    expect(() => readPeImage(outside)).toThrow(/outside the file/);
    const long = pe({ cert: Buffer.alloc(8) });
    const certAt = long.readUInt32LE(0x80 + 24 + 112 + 32);
    long.writeUInt32LE(1 << 20, certAt);
    expect(() => readPeImage(long)).toThrow(/length outside its table/);
  });

  it('never throws anything but PeImageError, whatever the bytes (and whatever a header is mangled to)', () => {
    const base = pe({ cert: Buffer.from('sig') });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        try {
          readPeImage(Buffer.from(bytes));
        } catch (e) {
          if (!(e instanceof PeImageError)) throw e;
        }
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }), (edits) => {
        const b = Buffer.from(base);
        for (const [at, v] of edits) b[at] = v;
        try {
          readPeImage(b);
        } catch (e) {
          if (!(e instanceof PeImageError)) throw e;
        }
      }),
    );
  });
});
