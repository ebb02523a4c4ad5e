/**
 * What a disk image's first bytes say, read by DLS itself before qemu-img ever opens the file.
 *
 * Uploads and imports are untrusted: a qcow2 can name a backing file or an external data file (any path or URL on
 * the server), and qemu-img would read it and hand its bytes to the image. The checks here are definitive for the
 * formats DLS accepts — qcow2's header carries the backing-file offset and the "external data file" incompatible
 * feature bit (docs/interop/qcow2.txt in QEMU) — so a reference is refused without qemu following it.
 */

/** How many leading bytes {@link inspectImageHeader} needs (every magic and the qcow2 v3 header fit). */
export const IMAGE_HEAD_BYTES = 4096;

/** qcow2 incompatible feature bit 2: "External data file" (qcow2.txt, header byte 72). */
const QCOW2_INCOMPAT_DATA_FILE = 1n << 2n;

/** Leading magics of the formats QEMU probes (block/*.c `*_probe`); a "raw" file that starts like one is refused. */
const MAGICS: { format: string; offset: number; magic: Buffer }[] = [
  { format: 'qcow2', offset: 0, magic: Buffer.from([0x51, 0x46, 0x49, 0xfb]) }, // "QFI\xfb" (version 1 is qcow)
  { format: 'vhdx', offset: 0, magic: Buffer.from('vhdxfile', 'latin1') },
  { format: 'qed', offset: 0, magic: Buffer.from('QED\0', 'latin1') },
  { format: 'vmdk', offset: 0, magic: Buffer.from('KDMV', 'latin1') },
  { format: 'vmdk', offset: 0, magic: Buffer.from('COWD', 'latin1') },
  { format: 'vmdk', offset: 0, magic: Buffer.from('# Disk DescriptorFile', 'latin1') },
  { format: 'vpc', offset: 0, magic: Buffer.from('conectix', 'latin1') },
  { format: 'vdi', offset: 0x40, magic: Buffer.from([0x7f, 0x10, 0xda, 0xbe]) },
  { format: 'parallels', offset: 0, magic: Buffer.from('WithoutFreeSpace', 'latin1') },
  { format: 'parallels', offset: 0, magic: Buffer.from('WithouFreSpacExt', 'latin1') },
  { format: 'luks', offset: 0, magic: Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]) },
  { format: 'bochs', offset: 0, magic: Buffer.from('Bochs Virtual HD Image', 'latin1') },
  { format: 'cloop', offset: 0, magic: Buffer.from('#!/bin/sh\n#V2.0 Format\n', 'latin1') },
];

export interface ImageHeader {
  /** The format the magic names (`qcow` for qcow2 version 1), or `raw` when none matches. */
  format: string;
  /** qcow2: the header names a backing file. */
  backingFile: boolean;
  /** qcow2: the image keeps its data in an external file (incompatible feature bit 2). */
  dataFile: boolean;
  /** qcow2: the image is encrypted (crypt_method ≠ 0); DLS has no key for it. */
  encrypted: boolean;
}

/** Reads the format and any outside references from an image's first {@link IMAGE_HEAD_BYTES} bytes. Pure. */
export function inspectImageHeader(head: Buffer): ImageHeader {
  const found = MAGICS.find((m) => head.length >= m.offset + m.magic.length && head.subarray(m.offset, m.offset + m.magic.length).equals(m.magic));
  const header: ImageHeader = { format: found?.format ?? 'raw', backingFile: false, dataFile: false, encrypted: false };
  if (header.format !== 'qcow2') return header;
  if (head.length < 72) return header; // truncated: qemu-img reports "qcow2 header too short"
  const version = head.readUInt32BE(4);
  if (version < 2) return { ...header, format: 'qcow' };
  header.backingFile = head.readBigUInt64BE(8) !== 0n;
  header.encrypted = head.readUInt32BE(32) !== 0;
  if (version >= 3 && head.length >= 80) header.dataFile = (head.readBigUInt64BE(72) & QCOW2_INCOMPAT_DATA_FILE) !== 0n;
  return header;
}
