/**
 * Test disk for the boot lab: a small raw image whose MBR (payload/boot.asm) reports on COM1 that it was booted,
 * prints a label, and increments a counter through INT 13h — proving a SAN boot reads AND writes the right LUN.
 *
 * Layout (512-byte sectors):
 * - LBA 0: the assembled MBR (boot code + 0x55AA, no partition table)
 * - LBA 1: `DLS-LABEL:<label>` NUL-terminated ASCII
 * - LBA 2: magic `DLSCOUNT` (8 bytes) + u32 little-endian counter
 * - the rest: zeros (sparse)
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const SECTOR_SIZE = 512;
export const LABEL_LBA = 1;
export const COUNTER_LBA = 2;
/** First 8 bytes of the counter sector; the payload refuses to write without it. */
export const COUNTER_MAGIC = 'DLSCOUNT';
/** Label text allowed on the disk (printable ASCII; it is printed verbatim on the serial line). */
export const LABEL_PATTERN = /^[\x20-\x7e]{0,200}$/;
const DEFAULT_SIZE_BYTES = 8 * 1024 * 1024;

export interface TestDiskOptions {
  /** Printable ASCII (see LABEL_PATTERN); shows up as `DLS-LABEL:<label>`. */
  label: string;
  /** Initial counter value (u32). */
  counter?: number;
  /** Image size in bytes, a multiple of 512 (default 8 MiB). */
  sizeBytes?: number;
  /** Override where boot.asm is found (default: next to this module, or the source tree when running from dist/). */
  asmPath?: string;
}

/** Locates payload/boot.asm both from the source tree (ts-jest) and from dist/test/lab (compiled CLI). */
export function payloadAsmPath(): string {
  const candidates = [join(__dirname, 'payload', 'boot.asm'), resolve(__dirname, '..', '..', '..', 'test', 'lab', 'payload', 'boot.asm')];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`boot.asm not found (looked in ${candidates.join(', ')})`);
  return found;
}

/** Assembles the MBR payload with nasm (`-f bin`) in a temp dir and returns the 512 bytes. */
export async function assemblePayload(asmPath = payloadAsmPath()): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'dls-nasm-'));
  try {
    const out = join(dir, 'boot.bin');
    await execFileAsync('nasm', ['-f', 'bin', '-o', out, asmPath], { timeout: 20_000 });
    const bin = await readFile(out);
    if (bin.length !== SECTOR_SIZE || bin.readUInt16LE(510) !== 0xaa55) {
      throw new Error(`payload is ${bin.length} bytes or lacks the 0x55AA signature`);
    }
    return bin;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Encodes the counter sector (LBA 2). */
export function encodeCounterSector(counter: number): Buffer {
  if (!Number.isInteger(counter) || counter < 0 || counter > 0xffffffff) throw new Error(`bad counter ${counter}`);
  const sector = Buffer.alloc(SECTOR_SIZE);
  sector.write(COUNTER_MAGIC, 0, 'ascii');
  sector.writeUInt32LE(counter, COUNTER_MAGIC.length);
  return sector;
}

/** Encodes the label sector (LBA 1). */
export function encodeLabelSector(label: string): Buffer {
  if (!LABEL_PATTERN.test(label)) throw new Error(`label must match ${LABEL_PATTERN}: ${JSON.stringify(label)}`);
  const sector = Buffer.alloc(SECTOR_SIZE);
  sector.write(`DLS-LABEL:${label}`, 0, 'ascii');
  return sector;
}

/**
 * Builds (or overwrites) a raw test disk at `path`. Note: tgtd serving a file keeps the old inode when the file is
 * replaced, so build before exporting (this writes in place when the file already exists, which tgtd does see).
 */
export async function buildTestDisk(path: string, opts: TestDiskOptions): Promise<void> {
  const size = opts.sizeBytes ?? DEFAULT_SIZE_BYTES;
  if (size % SECTOR_SIZE !== 0 || size < 4 * SECTOR_SIZE) throw new Error(`bad disk size ${size}`);
  const mbr = await assemblePayload(opts.asmPath);
  const head = Buffer.concat([mbr, encodeLabelSector(opts.label), encodeCounterSector(opts.counter ?? 0)]);
  const fh = await open(path, 'w');
  try {
    await fh.truncate(size);
    await fh.write(head, 0, head.length, 0);
  } finally {
    await fh.close();
  }
}

/** Reads the counter from LBA 2 of a disk image; throws when the magic is missing. */
export async function readCounter(path: string): Promise<number> {
  const fh = await open(path, 'r');
  try {
    const sector = Buffer.alloc(SECTOR_SIZE);
    await fh.read(sector, 0, SECTOR_SIZE, COUNTER_LBA * SECTOR_SIZE);
    if (sector.toString('ascii', 0, COUNTER_MAGIC.length) !== COUNTER_MAGIC) {
      throw new Error(`${path}: LBA ${COUNTER_LBA} lacks the ${COUNTER_MAGIC} magic`);
    }
    return sector.readUInt32LE(COUNTER_MAGIC.length);
  } finally {
    await fh.close();
  }
}

/** What the payload reported on COM1 (see payload/boot.asm for the protocol). */
export interface SerialReport {
  bootOk: boolean;
  /** Text after `DLS-LABEL:` (trimmed of the line end), or undefined. */
  label?: string;
  /** Decimal value of `DLS-COUNT=`, or undefined. */
  count?: number;
  /** true on DLS-WRITE-OK, false on DLS-WRITE-ERR, undefined when neither was printed. */
  writeOk?: boolean;
  /** The INT 13h status byte (hex text) from `DLS-WRITE-ERR ah=..` / `DLS-READ-ERR ah=..`. */
  errorAh?: string;
  end: boolean;
}

/** Parses the payload's COM1 output; tolerant of firmware noise and `\r`. Only the first boot's lines count. */
export function parseSerial(text: string): SerialReport {
  const label = /DLS-LABEL:([^\r\n]*)/.exec(text);
  const count = /DLS-COUNT=(\d+)/.exec(text);
  const err = /DLS-(?:WRITE|READ)-ERR ah=([0-9A-Fa-f]{2})/.exec(text);
  const writeOk = text.includes('DLS-WRITE-OK') ? true : /DLS-WRITE-ERR/.test(text) ? false : undefined;
  return {
    bootOk: text.includes('DLS-BOOT-OK'),
    label: label ? label[1] : undefined,
    count: count ? Number(count[1]) : undefined,
    writeOk,
    errorAh: err ? err[1].toUpperCase() : undefined,
    end: text.includes('DLS-END'),
  };
}
