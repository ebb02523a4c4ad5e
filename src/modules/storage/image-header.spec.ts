import { inspectImageHeader } from './image-header';

function qcow2(version: number, fields: { backingOffset?: bigint; crypt?: number; incompat?: bigint } = {}): Buffer {
  const h = Buffer.alloc(104);
  h.write('QFI\xfb', 0, 'latin1');
  h.writeUInt32BE(version, 4);
  h.writeBigUInt64BE(fields.backingOffset ?? 0n, 8);
  h.writeUInt32BE(fields.crypt ?? 0, 32);
  h.writeBigUInt64BE(fields.incompat ?? 0n, 72);
  return h;
}

describe('inspectImageHeader', () => {
  it('reads a plain qcow2 v2/v3 as qcow2 with no references', () => {
    for (const v of [2, 3]) expect(inspectImageHeader(qcow2(v))).toEqual({ format: 'qcow2', backingFile: false, dataFile: false, encrypted: false });
  });

  it('sees a backing file, an external data file (incompatible bit 2) and encryption', () => {
    expect(inspectImageHeader(qcow2(3, { backingOffset: 0x10000n })).backingFile).toBe(true);
    expect(inspectImageHeader(qcow2(3, { incompat: 0b100n })).dataFile).toBe(true);
    expect(inspectImageHeader(qcow2(3, { incompat: 0b001n })).dataFile).toBe(false); // dirty bit only
    expect(inspectImageHeader(qcow2(3, { crypt: 1 })).encrypted).toBe(true);
    // v2 has no incompatible-features field: bytes 72.. are header extensions, not flags
    expect(inspectImageHeader(qcow2(2, { incompat: 0b100n })).dataFile).toBe(false);
  });

  it('tells qcow (version 1) from qcow2, and a truncated header from a reference', () => {
    expect(inspectImageHeader(qcow2(1)).format).toBe('qcow');
    expect(inspectImageHeader(qcow2(3).subarray(0, 40))).toMatchObject({ format: 'qcow2', dataFile: false, backingFile: false });
  });

  it('names the format of other images by their magic, and raw otherwise', () => {
    expect(inspectImageHeader(Buffer.from('vhdxfile\0\0\0\0')).format).toBe('vhdx');
    expect(inspectImageHeader(Buffer.from('KDMV\x01\0\0\0', 'latin1')).format).toBe('vmdk');
    expect(inspectImageHeader(Buffer.from('conectix')).format).toBe('vpc');
    const vdi = Buffer.alloc(512);
    vdi.writeUInt32LE(0xbeda107f, 0x40);
    expect(inspectImageHeader(vdi).format).toBe('vdi');
    expect(inspectImageHeader(Buffer.alloc(512)).format).toBe('raw');
    expect(inspectImageHeader(Buffer.alloc(0)).format).toBe('raw');
  });
});
