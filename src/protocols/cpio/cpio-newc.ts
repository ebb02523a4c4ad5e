/**
 * The "new ASCII" (newc, magic `070701`) cpio format: what the Linux kernel unpacks an initramfs from
 * (Documentation/driver-api/early-userspace/buffer-format.rst) and what `cpio -H newc` writes. Pure (no Nest, no I/O).
 *
 * Each member is a 110-byte ASCII header — the magic, then 13 fields of 8 hexadecimal digits — followed by the path
 * name (NUL-terminated) and the file data; the name and the data are each padded with NULs to a multiple of 4 bytes
 * counted from the start of the archive. The archive ends with a member named `TRAILER!!!`.
 *
 * DLS writes small archives of directories and regular files only, owned by root, with mtime 0 (the same bytes for
 * the same input), so {@link encodeNewc} accepts nothing else. {@link decodeNewc} reads them back (bounds-checked,
 * {@link MalformedPacketError} on anything else) for tests and checks.
 */
import { MalformedPacketError } from '../malformed-packet.error';

/** `070701`: newc without checksums (buffer-format.rst; `070702` would be the variant with a checksum field). */
export const NEWC_MAGIC = '070701';
/** 6 bytes of magic + 13 fields of 8 hex digits. */
export const NEWC_HEADER_BYTES = 110;
/** Name of the member that ends an archive. */
export const NEWC_TRAILER = 'TRAILER!!!';
/** `st_mode` file type bits (POSIX `<sys/stat.h>`). */
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;

/** One member to write: a directory, or a regular file with its content. Permission bits only in `mode`. */
export type CpioEntry = { type: 'dir'; path: string; mode: number } | { type: 'file'; path: string; mode: number; data: Buffer | string };

/** One member as read back. `mode` is the full `st_mode` (type and permission bits). */
export interface CpioMember {
  path: string;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  data: Buffer;
}

/** A member DLS will not write: a bad path, a mode outside 0..07777, or content over 4 GiB. */
export class CpioEntryError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`cpio entry ${JSON.stringify(path)}: ${message}`);
    this.name = 'CpioEntryError';
  }
}

/** Relative, `/`-separated, printable ASCII without `.`/`..` segments (the kernel and `cpio -i` would resolve them). */
const PATH = /^[\x21-\x7e]+$/;

function checkPath(path: string): void {
  if (typeof path !== 'string' || path.length === 0 || path.length > 1024 || !PATH.test(path)) {
    throw new CpioEntryError(String(path), 'must be 1-1024 printable ASCII characters without spaces');
  }
  if (path === NEWC_TRAILER) throw new CpioEntryError(path, 'is the trailer name');
  const segments = path.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new CpioEntryError(path, 'must be relative, without empty, "." or ".." segments');
  }
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function header(f: { ino: number; mode: number; nlink: number; fileSize: number; nameSize: number }): string {
  // Field order per buffer-format.rst: ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor
  // namesize check. uid/gid 0 (root), mtime 0, devices 0, check 0 (only used by 070702).
  const fields = [f.ino, f.mode, 0, 0, f.nlink, 0, f.fileSize, 0, 0, 0, 0, f.nameSize, 0];
  return NEWC_MAGIC + fields.map((v) => v.toString(16).toUpperCase().padStart(8, '0')).join('');
}

/**
 * Writes a newc archive of `entries` in the order given (a directory before what it holds, as `cpio -i` and the
 * kernel create them in order), ending with `TRAILER!!!`. Each member gets its own inode number (1, 2, …) and
 * `nlink` 2 (directory) or 1 (file), so nothing is taken for a hard link. Throws {@link CpioEntryError}.
 */
export function encodeNewc(entries: readonly CpioEntry[]): Buffer {
  const seen = new Set<string>();
  const parts: Buffer[] = [];
  let offset = 0;
  const push = (b: Buffer): void => {
    parts.push(b);
    offset += b.length;
  };
  const member = (name: string, f: { ino: number; mode: number; nlink: number }, data: Buffer): void => {
    const nameBytes = Buffer.from(`${name}\0`, 'latin1');
    const head = Buffer.from(header({ ...f, fileSize: data.length, nameSize: nameBytes.length }), 'latin1');
    push(head);
    push(nameBytes);
    push(Buffer.alloc(pad4(offset)));
    if (data.length > 0) {
      push(data);
      push(Buffer.alloc(pad4(offset)));
    }
  };
  entries.forEach((e, i) => {
    checkPath(e.path);
    if (seen.has(e.path)) throw new CpioEntryError(e.path, 'appears twice');
    seen.add(e.path);
    if (!Number.isInteger(e.mode) || e.mode < 0 || e.mode > 0o7777) throw new CpioEntryError(e.path, `bad mode ${String(e.mode)}`);
    if (e.type === 'dir') {
      member(e.path, { ino: i + 1, mode: S_IFDIR | e.mode, nlink: 2 }, Buffer.alloc(0));
    } else {
      const data = typeof e.data === 'string' ? Buffer.from(e.data, 'utf8') : e.data;
      if (data.length > 0xffffffff) throw new CpioEntryError(e.path, 'larger than 4 GiB');
      member(e.path, { ino: i + 1, mode: S_IFREG | e.mode, nlink: 1 }, data);
    }
  });
  member(NEWC_TRAILER, { ino: 0, mode: 0, nlink: 1 }, Buffer.alloc(0));
  return Buffer.concat(parts, offset);
}

/**
 * Reads a newc archive up to its trailer (members after it, and trailing NUL padding, are ignored as the kernel does).
 * Throws {@link MalformedPacketError} on a short buffer, a bad magic or hex field, a name without its NUL, or a
 * missing trailer.
 */
export function decodeNewc(buf: Buffer): CpioMember[] {
  const out: CpioMember[] = [];
  let pos = 0;
  for (;;) {
    if (pos + NEWC_HEADER_BYTES > buf.length) throw new MalformedPacketError('cpio', `truncated header at offset ${pos}`);
    const magic = buf.toString('latin1', pos, pos + 6);
    if (magic !== NEWC_MAGIC) throw new MalformedPacketError('cpio', `bad magic ${JSON.stringify(magic)} at offset ${pos}`);
    const field = (k: number): number => {
      const s = buf.toString('latin1', pos + 6 + 8 * k, pos + 14 + 8 * k);
      if (!/^[0-9A-Fa-f]{8}$/.test(s)) throw new MalformedPacketError('cpio', `bad header field ${k} at offset ${pos}`);
      return parseInt(s, 16);
    };
    const [mode, uid, gid, nlink, mtime, fileSize, nameSize] = [field(1), field(2), field(3), field(4), field(5), field(6), field(11)];
    const nameStart = pos + NEWC_HEADER_BYTES;
    if (nameSize < 1 || nameStart + nameSize > buf.length) throw new MalformedPacketError('cpio', `bad name size at offset ${pos}`);
    if (buf[nameStart + nameSize - 1] !== 0) throw new MalformedPacketError('cpio', `name not NUL-terminated at offset ${pos}`);
    const path = buf.toString('latin1', nameStart, nameStart + nameSize - 1);
    const dataStart = nameStart + nameSize + pad4(nameStart + nameSize);
    if (dataStart + fileSize > buf.length) throw new MalformedPacketError('cpio', `truncated data of ${JSON.stringify(path)}`);
    if (path === NEWC_TRAILER) return out;
    out.push({ path, mode, uid, gid, nlink, mtime, data: Buffer.from(buf.subarray(dataStart, dataStart + fileSize)) });
    pos = dataStart + fileSize + pad4(dataStart + fileSize);
  }
}
