import { constants as fsConstants, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { CommandResult, CommandRunner, firstLine, spawnCommand } from '@common/exec/command-runner';
import { IMAGE_HEAD_BYTES, inspectImageHeader } from './image-header';
import { StorageError, StorageErrorCode } from './storage.errors';

function dataFileOf(raw: Record<string, unknown>): { dataFile?: string } {
  const specific = raw['format-specific'] as { data?: Record<string, unknown> } | undefined;
  const dataFile = specific?.data?.['data-file'];
  if (dataFile === undefined || dataFile === null) return {};
  return { dataFile: typeof dataFile === 'string' ? dataFile : JSON.stringify(dataFile) };
}

/** Formats DLS accepts for image import. */
export type SourceImageFormat = 'raw' | 'qcow2' | 'vhdx';

export const SOURCE_IMAGE_FORMATS: readonly SourceImageFormat[] = ['raw', 'qcow2', 'vhdx'];

/**
 * Parsed `qemu-img info --output=json` (keys `virtual-size`, `format`, `actual-size`, `dirty-flag`, `backing-*`,
 * `format-specific.data.data-file`).
 */
export interface QemuImageInfo {
  format: string;
  virtualSize: number;
  actualSize: number;
  dirtyFlag: boolean;
  backingFilename?: string;
  fullBackingFilename?: string;
  backingFormat?: string;
  /** qcow2 with an external data file: the file it names. */
  dataFile?: string;
}

/** Parsed `qemu-img check --output=json`. */
export interface QemuCheckResult {
  supported: boolean;
  corruptions: number;
  leaks: number;
  checkErrors: number;
  imageEndOffset?: number;
}

export interface QemuImgAdapterOptions {
  binary?: string;
  /** Timeout for info/check/create (default 60 s). */
  timeoutMs?: number;
  /** Timeout for convert (default 2 h; a 1 GiB image converts in 2–11 s on the reference box). */
  convertTimeoutMs?: number;
  runner?: CommandRunner;
}

/** qemu-img exit codes of `check` (qemu-img(1)). */
const CHECK_OK = 0;
const CHECK_FAILED = 1;
const CHECK_CORRUPT = 2;
const CHECK_LEAKS = 3;
const CHECK_UNSUPPORTED = 63;

/** `    (NN.NN/100%)` progress records, separated by CR. */
const PROGRESS_RE = /\((\d+(?:\.\d+)?)\/100%\)/g;

function invalidImage(message: string, details: Record<string, unknown> = {}): StorageError {
  return new StorageError(StorageErrorCode.IMAGE_FORMAT_INVALID, message, details);
}

function assertPath(p: string, what: string): void {
  // eslint-disable-next-line no-control-regex
  if (typeof p !== 'string' || !path.isAbsolute(p) || /[\u0000-\u001f]/.test(p) || p.length > 4096) {
    throw new StorageError(StorageErrorCode.INVALID_NAME, `${what} must be an absolute path without control characters`);
  }
}

function assertFormat(format: string): asserts format is SourceImageFormat {
  if (!SOURCE_IMAGE_FORMATS.includes(format as SourceImageFormat)) {
    throw new StorageError(StorageErrorCode.INVALID_NAME, `unsupported image format '${String(format).slice(0, 20)}'`);
  }
}

/**
 * How qemu-img opens an untrusted image: a `json:` block specification that pins the format driver (never probed)
 * and the protocol (`file`: a local file, not nbd/http/…), with no backing file. qemu-img treats the argument as
 * these options, not as a filename, so a name with commas or a `protocol:` prefix cannot change them.
 */
export function blockSpec(imagePath: string, format: SourceImageFormat): string {
  return `json:${JSON.stringify({ driver: format, file: { driver: 'file', filename: imagePath }, backing: null })}`;
}

/** The last progress percentage in a chunk of `qemu-img convert -p` output, if any. */
export function parseConvertProgress(chunk: string): number | undefined {
  let last: number | undefined;
  for (const m of chunk.matchAll(PROGRESS_RE)) last = Number(m[1]);
  return last;
}

/**
 * Adapter over `qemu-img` for importing images: inspect, verify and convert untrusted qcow2/vhdx/raw files to raw.
 *
 * Security: an image must be a regular local file whose own header (read by DLS, see `image-header.ts`) shows the
 * declared format and names no backing file and no external data file; qemu-img's `info` must agree. Every qemu-img
 * call on it then opens it through {@link blockSpec} (format and `file` protocol pinned, no backing), so even a
 * reference the checks missed is never followed. qcow2 images are `check`ed first because a truncated qcow2
 * converts "successfully" into zeros. Failures carry qemu-img's first stderr line.
 */
export class QemuImgAdapter {
  private readonly binary: string;
  private readonly timeoutMs: number;
  private readonly convertTimeoutMs: number;
  private readonly runner: CommandRunner;

  constructor(options: QemuImgAdapterOptions = {}) {
    this.binary = options.binary ?? 'qemu-img';
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.convertTimeoutMs = options.convertTimeoutMs ?? 2 * 60 * 60_000;
    this.runner = options.runner ?? spawnCommand;
  }

  /**
   * `qemu-img info --output=json`. With `expectedFormat` the image is also validated (IMAGE_FORMAT_INVALID otherwise,
   * `details.reason` saying why): a regular file (`not-a-file`), whose header shows the declared format
   * (`format-mismatch`) and no backing file (`backing-file`), external data file (`data-file`) or encryption
   * (`encrypted`); it is then opened with its format pinned and non-raw images must pass `qemu-img check`.
   * Without `expectedFormat` qemu-img probes the format: only for files DLS wrote itself.
   */
  async info(imagePath: string, expectedFormat?: SourceImageFormat): Promise<QemuImageInfo> {
    assertPath(imagePath, 'image path');
    if (expectedFormat !== undefined) {
      assertFormat(expectedFormat);
      await this.inspect(imagePath, expectedFormat);
    }
    const args = ['info', '--output=json', expectedFormat !== undefined ? blockSpec(imagePath, expectedFormat) : imagePath];
    const result = await this.run(args, this.timeoutMs);
    if (result.code !== 0) throw this.failure(result, args, 'cannot read image');
    let info: QemuImageInfo;
    try {
      const raw = JSON.parse(result.stdout) as Record<string, unknown>;
      info = {
        format: String(raw['format']),
        virtualSize: Number(raw['virtual-size']),
        actualSize: Number(raw['actual-size'] ?? 0),
        dirtyFlag: raw['dirty-flag'] === true,
        ...(typeof raw['backing-filename'] === 'string' ? { backingFilename: raw['backing-filename'] } : {}),
        ...(typeof raw['full-backing-filename'] === 'string' ? { fullBackingFilename: raw['full-backing-filename'] } : {}),
        ...(typeof raw['backing-filename-format'] === 'string' ? { backingFormat: raw['backing-filename-format'] } : {}),
        ...dataFileOf(raw),
      };
    } catch {
      throw invalidImage('qemu-img info returned unparsable output', { stdout: result.stdout.slice(0, 300) });
    }
    if (!Number.isSafeInteger(info.virtualSize) || info.virtualSize <= 0) {
      throw invalidImage(`image has no usable virtual size (${info.virtualSize})`, { info });
    }
    if (expectedFormat !== undefined) {
      if (info.format !== expectedFormat) {
        throw invalidImage(`declared format ${expectedFormat} but the file is ${info.format}`, {
          reason: 'format-mismatch',
          declared: expectedFormat,
          detected: info.format,
        });
      }
      if (info.backingFilename !== undefined || info.fullBackingFilename !== undefined || info.backingFormat !== undefined) {
        throw invalidImage(`images with a backing file are not accepted (${info.backingFilename})`, {
          reason: 'backing-file',
          backingFilename: info.backingFilename,
        });
      }
      if (info.dataFile !== undefined) {
        throw invalidImage(`images with an external data file are not accepted (${info.dataFile})`, { reason: 'data-file', dataFile: info.dataFile });
      }
      if (expectedFormat !== 'raw') await this.check(imagePath, expectedFormat);
    }
    return info;
  }

  /**
   * `qemu-img check --output=json -f <format>`: corruption (rc 2) or an incomplete check (rc 1) → IMAGE_FORMAT_INVALID;
   * leaked clusters only (rc 3) are harmless for a read-only import; formats without checks (rc 63) pass.
   */
  async check(imagePath: string, format: SourceImageFormat): Promise<QemuCheckResult> {
    assertPath(imagePath, 'image path');
    assertFormat(format);
    const args = ['check', '--output=json', blockSpec(imagePath, format)];
    const result = await this.run(args, this.timeoutMs);
    if (result.code === CHECK_UNSUPPORTED) {
      return { supported: false, corruptions: 0, leaks: 0, checkErrors: 0 };
    }
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(result.stdout) as Record<string, unknown>;
    } catch {
      // rc 1 prints no JSON (the image could not be opened).
    }
    const summary: QemuCheckResult = {
      supported: true,
      corruptions: Number(parsed['corruptions'] ?? 0),
      leaks: Number(parsed['leaks'] ?? 0),
      checkErrors: Number(parsed['check-errors'] ?? 0),
      ...(parsed['image-end-offset'] !== undefined ? { imageEndOffset: Number(parsed['image-end-offset']) } : {}),
    };
    if (result.timedOut) throw this.failure(result, args, 'check');
    if (result.code === CHECK_OK || result.code === CHECK_LEAKS) return summary;
    if (result.code === CHECK_CORRUPT || result.code === CHECK_FAILED) {
      const reason = firstLine(result.stderr) || `${summary.corruptions} corruptions found`;
      throw invalidImage(`image failed qemu-img check: ${reason}`, { reason: 'corrupt', ...summary, exitCode: result.code });
    }
    throw this.failure(result, args, 'check');
  }

  /**
   * Validates `src` (see {@link info}) and converts it to a sparse raw file at `dst` with `qemu-img convert -p`,
   * reporting progress (0–100). On failure `dst` is removed.
   */
  async convertToRaw(src: string, srcFormat: SourceImageFormat, dst: string, onProgress?: (pct: number) => void): Promise<QemuImageInfo> {
    assertPath(src, 'source path');
    assertPath(dst, 'destination path');
    assertFormat(srcFormat);
    const info = await this.info(src, srcFormat);
    const args = ['convert', '-p', '-O', 'raw', blockSpec(src, srcFormat), dst];
    let lastPct = -1;
    const result = await this.run(args, this.convertTimeoutMs, (chunk) => {
      const pct = parseConvertProgress(chunk);
      if (pct !== undefined && pct !== lastPct && onProgress) {
        lastPct = pct;
        onProgress(pct);
      }
    });
    if (result.code !== 0 || result.timedOut) {
      await fsp.rm(dst, { force: true }).catch(() => undefined);
      throw this.failure(result, args, 'convert');
    }
    if (lastPct !== 100) onProgress?.(100);
    return info;
  }

  /** Creates a sparse raw file of `sizeBytes` (`qemu-img create -f raw`). */
  async createBlank(imagePath: string, sizeBytes: number): Promise<void> {
    assertPath(imagePath, 'image path');
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) {
      throw new StorageError(StorageErrorCode.INVALID_NAME, `invalid size ${sizeBytes}`);
    }
    const args = ['create', '-q', '-f', 'raw', imagePath, String(sizeBytes)];
    const result = await this.run(args, this.timeoutMs);
    if (result.code !== 0 || result.timedOut) throw this.failure(result, args, 'create');
  }

  /**
   * Creates a qcow2 overlay over a raw `backingPath` (`qemu-img create -f qcow2 -b <backing> -F raw -u`): O(1), a few
   * hundred KiB of metadata whatever the backing size. `-u` with the size given skips opening the backing file; the
   * overlay records the absolute backing path, which must stay put and unmodified (a version file: read-only).
   */
  async createOverlay(overlayPath: string, backingPath: string, sizeBytes: number): Promise<void> {
    assertPath(overlayPath, 'overlay path');
    assertPath(backingPath, 'backing path');
    if (!path.isAbsolute(backingPath) || backingPath.includes(',')) {
      throw new StorageError(StorageErrorCode.INVALID_NAME, `backing path must be absolute and comma-free: ${backingPath}`);
    }
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) {
      throw new StorageError(StorageErrorCode.INVALID_NAME, `invalid size ${sizeBytes}`);
    }
    // lazy_refcounts: a cluster allocation writes no refcount block until flush/close (a client's first writes ran
    // ~3x faster through the FUSE export here); after a crash QEMU repairs the refcounts when it opens the overlay.
    const args = ['create', '-q', '-f', 'qcow2', '-o', 'lazy_refcounts=on', '-u', '-b', backingPath, '-F', 'raw', overlayPath, String(sizeBytes)];
    const result = await this.run(args, this.timeoutMs);
    if (result.code !== 0 || result.timedOut) {
      await fsp.rm(overlayPath, { force: true }).catch(() => undefined);
      throw this.failure(result, args, 'create overlay');
    }
  }

  /** DLS's own look at the file before qemu-img opens it: see {@link info}. */
  private async inspect(imagePath: string, declared: SourceImageFormat): Promise<void> {
    let head: Buffer;
    try {
      // O_NOFOLLOW: the path itself must be the file; O_NONBLOCK: a FIFO or device can't stall the open.
      const fh = await fsp.open(imagePath, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
      try {
        const st = await fh.stat();
        if (!st.isFile()) throw invalidImage(`${path.basename(imagePath)} is not a regular file`, { reason: 'not-a-file' });
        head = Buffer.alloc(IMAGE_HEAD_BYTES);
        const { bytesRead } = await fh.read(head, 0, head.length, 0);
        head = head.subarray(0, bytesRead);
      } finally {
        await fh.close();
      }
    } catch (e) {
      if (e instanceof StorageError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      throw invalidImage(`cannot read image: ${code === 'ELOOP' ? 'it is a symbolic link' : (e as Error).message}`, { reason: 'not-a-file' });
    }
    const header = inspectImageHeader(head);
    if (header.format !== declared) {
      throw invalidImage(`declared format ${declared} but the file is ${header.format}`, {
        reason: 'format-mismatch',
        declared,
        detected: header.format,
      });
    }
    if (header.backingFile) throw invalidImage('images with a backing file are not accepted', { reason: 'backing-file' });
    if (header.dataFile) throw invalidImage('images with an external data file are not accepted', { reason: 'data-file' });
    if (header.encrypted) throw invalidImage('encrypted images are not accepted', { reason: 'encrypted' });
  }

  private async run(args: string[], timeoutMs: number, onStdout?: (chunk: string) => void): Promise<CommandResult> {
    try {
      return await this.runner(this.binary, args, { timeoutMs, ...(onStdout ? { onStdout } : {}) });
    } catch (e) {
      throw new StorageError(StorageErrorCode.COMMAND_FAILED, `cannot run ${this.binary}: ${(e as Error).message}`, {
        infrastructure: true,
      });
    }
  }

  private failure(result: CommandResult, args: string[], what: string): StorageError {
    const details = {
      command: [this.binary, ...args].join(' '),
      exitCode: result.code,
      signal: result.signal,
      stderr: result.stderr.slice(0, 1000),
    };
    if (result.timedOut) return new StorageError(StorageErrorCode.TIMEOUT, `qemu-img ${args[0]} timed out`, details);
    const reason = firstLine(result.stderr) || `exit ${result.code ?? result.signal}`;
    if (/No space left on device/i.test(result.stderr)) {
      return new StorageError(StorageErrorCode.NO_SPACE, `qemu-img ${what}: ${reason}`, details);
    }
    if (result.signal !== null || /error while writing|Could not create/i.test(result.stderr)) {
      return new StorageError(StorageErrorCode.COMMAND_FAILED, `qemu-img ${what}: ${reason}`, details);
    }
    return invalidImage(`${what}: ${reason}`, details);
  }
}
