import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants as fsConstants, promises as fsp } from 'node:fs';
import * as nodePath from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import type { ManagedItem } from './storage-driver';
import { StorageError, StorageErrorCode } from './storage.errors';

/** errno codes meaning "this filesystem (pair) cannot reflink": ext4, cross-device, FUSE without FICLONE. */
const NO_REFLINK_CODES = new Set(['ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EINVAL', 'ENOSYS', 'ENOTTY']);

const execFileAsync = promisify(execFile);

async function unlinkQuiet(path: string): Promise<void> {
  await fsp.rm(path, { force: true }).catch(() => undefined);
}

function fsError(err: unknown, what: string): StorageError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new StorageError(StorageErrorCode.NO_SPACE, `${what}: no space left`, { errno: code });
  }
  if (code === 'ENOENT') return new StorageError(StorageErrorCode.NOT_FOUND, `${what}: not found`, { errno: code });
  return new StorageError(StorageErrorCode.COMMAND_FAILED, `${what}: ${(err as Error).message}`, { errno: code });
}

/**
 * Reflinks `src` to `dst` (`FICLONE`; O(extents), shares blocks copy-on-write) and fsyncs it. On a filesystem that
 * cannot reflink, throws REFLINK_UNSUPPORTED after removing any (0-byte) leftover at `dst` — `cp --reflink=always`
 * on ext4 leaves one behind, so we never trust the destination after a failure.
 */
export async function reflinkFile(src: string, dst: string): Promise<void> {
  try {
    await fsp.copyFile(src, dst, fsConstants.COPYFILE_FICLONE_FORCE);
    await syncFile(dst);
  } catch (err) {
    await unlinkQuiet(dst);
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (NO_REFLINK_CODES.has(code)) {
      throw new StorageError(StorageErrorCode.REFLINK_UNSUPPORTED, `reflink not supported: ${code}`, { errno: code });
    }
    throw fsError(err, `reflink ${src}`);
  }
}

/**
 * Full copy that keeps holes, in O(data): GNU cp (`--sparse=always`, coreutils ≥ 9) walks the source's data extents
 * with SEEK_DATA/SEEK_HOLE, so holes cost nothing however large the disk (an 8 TiB blank with 5 bytes of data copies
 * in ~80 ms here, where reading it through would take an hour), and zero blocks inside data are written as holes.
 * The destination is fsynced before returning; after a failure nothing is left at `dst`.
 */
export async function sparseCopyFile(src: string, dst: string): Promise<void> {
  // `/proc/self/fd/N` (an import opened once and checked, see import-source.ts) names *our* descriptor: cp, a child,
  // reaches it through our pid.
  const from = src.replace(/^\/proc\/self\//, `/proc/${process.pid}/`);
  try {
    await execFileAsync('cp', ['--reflink=never', '--sparse=always', '--no-preserve=all', '--', from, dst], { maxBuffer: 1024 * 1024 });
    await syncFile(dst);
  } catch (err) {
    await unlinkQuiet(dst);
    const raw = (err as { stderr?: unknown }).stderr;
    const stderr = typeof raw === 'string' ? raw : Buffer.isBuffer(raw) ? raw.toString() : '';
    if (/No space left on device|Disk quota exceeded/.test(stderr)) {
      throw new StorageError(StorageErrorCode.NO_SPACE, `copy ${src}: no space left`, { errno: 'ENOSPC' });
    }
    if (/No such file or directory/.test(stderr)) throw new StorageError(StorageErrorCode.NOT_FOUND, `copy ${src}: not found`, { errno: 'ENOENT' });
    if (stderr) throw new StorageError(StorageErrorCode.COMMAND_FAILED, `copy ${src}: ${stderr.trim().slice(0, 500)}`);
    throw fsError(err, `copy ${src}`);
  }
}

/**
 * Reflink when `preferReflink`, otherwise (or when the filesystem refuses) a sparse full copy.
 * Returns the method actually used so callers can report it.
 */
export async function cloneOrCopyFile(src: string, dst: string, preferReflink: boolean): Promise<'reflink' | 'copy'> {
  if (preferReflink) {
    try {
      await reflinkFile(src, dst);
      return 'reflink';
    } catch (err) {
      if (!(err instanceof StorageError && err.code === StorageErrorCode.REFLINK_UNSUPPORTED)) throw err;
    }
  }
  await sparseCopyFile(src, dst);
  return 'copy';
}

/**
 * Lower-case hex sha256 of a file's bytes, streamed (1 MiB reads; the file is never held in memory). An aborted
 * `signal` stops it between two reads: it rejects with the signal's reason.
 */
export async function sha256File(path: string, signal?: AbortSignal): Promise<string> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, 'r');
  } catch (err) {
    throw fsError(err, `hash ${path}`);
  }
  try {
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(1024 * 1024);
    for (;;) {
      signal?.throwIfAborted();
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
    }
    return hash.digest('hex');
  } catch (err) {
    if (signal?.aborted && err === signal.reason) throw err;
    throw fsError(err, `hash ${path}`);
  } finally {
    await fh.close();
  }
}

/** Granularity of {@link writeStreamSparse}: an all-zero block this size, aligned in the file, becomes a hole. */
export const SPARSE_BLOCK = 64 * 1024;
const ZERO_BLOCK = Buffer.alloc(SPARSE_BLOCK);
/** Contiguous data blocks are written together, up to this much per `writev`. */
const WRITE_BATCH = 1024 * 1024;

/**
 * Writes what `stream` yields to a new file `dst` (mode `mode`, failing if it exists) sparsely: aligned 64 KiB blocks
 * of zeros are skipped (holes), the size is set at the end, and the file is fsynced. Returns the byte count. A stream
 * error (or an early close) rejects — as COMMAND_FAILED (reason `stream`) unless it already is a StorageError — and
 * so does a length other than `expectedBytes` when given; `dst` is removed on any failure.
 */
export async function writeStreamSparse(
  stream: Readable,
  dst: string,
  options: { mode?: number; expectedBytes?: number | null } = {},
): Promise<number> {
  // Until the loop below reads it, an error of the stream must not go unhandled (it is seen again by the loop).
  stream.on('error', () => undefined);
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(dst, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, options.mode ?? 0o644);
  } catch (err) {
    stream.destroy();
    throw fsError(err, `create ${dst}`);
  }
  let total = 0;
  let batch: Buffer[] = [];
  let batchStart = 0;
  let batchBytes = 0;
  const flush = async (): Promise<void> => {
    if (batchBytes === 0) return;
    const bufs = batch;
    let position = batchStart;
    batch = [];
    batchBytes = 0;
    try {
      // writev may write less than asked (rare; a signal, a full disk): go on from where it stopped.
      let pending = bufs;
      while (pending.length > 0) {
        const { bytesWritten } = await fh.writev(pending, position);
        position += bytesWritten;
        let skip = bytesWritten;
        const rest: Buffer[] = [];
        for (const b of pending) {
          if (skip >= b.length) skip -= b.length;
          else {
            rest.push(skip > 0 ? b.subarray(skip) : b);
            skip = 0;
          }
        }
        pending = rest;
      }
    } catch (err) {
      throw fsError(err, `write ${dst}`);
    }
  };
  const block = async (buf: Buffer, offset: number): Promise<void> => {
    if (buf.length === SPARSE_BLOCK && buf.equals(ZERO_BLOCK)) {
      await flush();
      return;
    }
    if (batchBytes === 0) batchStart = offset;
    batch.push(buf);
    batchBytes += buf.length;
    if (batchBytes >= WRITE_BATCH) await flush();
  };
  try {
    // A partial block collects across chunks; whole aligned blocks inside a chunk are used in place.
    let partial: Buffer[] = [];
    let partialBytes = 0;
    try {
      for await (const chunk of stream) {
        let data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
        while (data.length > 0) {
          if (partialBytes === 0 && data.length >= SPARSE_BLOCK) {
            await block(data.subarray(0, SPARSE_BLOCK), total);
            total += SPARSE_BLOCK;
            data = data.subarray(SPARSE_BLOCK);
            continue;
          }
          const take = Math.min(SPARSE_BLOCK - partialBytes, data.length);
          // Copied: the stream may reuse its chunk buffer.
          partial.push(Buffer.from(data.subarray(0, take)));
          partialBytes += take;
          data = data.subarray(take);
          if (partialBytes === SPARSE_BLOCK) {
            await block(Buffer.concat(partial, SPARSE_BLOCK), total);
            total += SPARSE_BLOCK;
            partial = [];
            partialBytes = 0;
          }
        }
      }
    } catch (err) {
      if (err instanceof StorageError) throw err;
      throw new StorageError(StorageErrorCode.COMMAND_FAILED, `the incoming stream for ${dst} failed: ${(err as Error).message}`, {
        reason: 'stream',
        cause: (err as Error).message,
      });
    }
    if (partialBytes > 0) {
      const last = Buffer.concat(partial, partialBytes);
      if (!last.equals(ZERO_BLOCK.subarray(0, partialBytes))) await block(last, total);
      total += partialBytes;
    }
    await flush();
    if (options.expectedBytes !== undefined && options.expectedBytes !== null && total !== options.expectedBytes) {
      throw new StorageError(
        StorageErrorCode.COMMAND_FAILED,
        `the incoming stream for ${dst} had ${total} bytes, expected ${options.expectedBytes}`,
        {
          reason: 'stream',
          bytes: total,
          expectedBytes: options.expectedBytes,
        },
      );
    }
    try {
      await fh.truncate(total);
      await fh.sync();
    } catch (err) {
      throw fsError(err, `write ${dst}`);
    }
  } catch (err) {
    stream.destroy();
    await fh.close().catch(() => undefined);
    await unlinkQuiet(dst);
    throw err;
  }
  await fh.close();
  return total;
}

/** fsync a file by path (the data must be durable before it is renamed to its final name). */
export async function syncFile(path: string): Promise<void> {
  const fh = await fsp.open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsync a directory so a rename inside it is durable. */
export async function syncDir(path: string): Promise<void> {
  const fh = await fsp.open(path, 'r');
  try {
    await fh.sync();
  } catch {
    // Some filesystems (FUSE) refuse fsync on directories; the rename is still atomic.
  } finally {
    await fh.close();
  }
}

/**
 * The entries of an image's staging directory that image content work writes (uploads, imports, conversions), as
 * `staging` items (none when the directory is absent). Dot-names are the drivers' own temporaries (a commit in
 * progress): theirs to sweep, never listed.
 */
export async function stagingItems(stagingDir: string, imageId: string): Promise<ManagedItem[]> {
  let names: string[];
  try {
    names = await fsp.readdir(stagingDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw fsError(e, `list ${stagingDir}`);
  }
  return names
    .filter((name) => !name.startsWith('.'))
    .sort()
    .map((name) => ({ kind: 'staging' as const, ref: nodePath.join(stagingDir, name), imageId }));
}

/** Removes one entry of `stagingDir`; refuses any `ref` that is not directly inside it. Idempotent. */
export async function removeStagingEntry(ref: string, stagingDir: string): Promise<void> {
  const name = nodePath.basename(ref);
  if (nodePath.resolve(ref) !== nodePath.join(stagingDir, name) || name === '' || name === '.' || name === '..') {
    throw new StorageError(StorageErrorCode.INVALID_NAME, `${ref} is not in ${stagingDir}`);
  }
  await fsp.rm(ref, { recursive: true, force: true });
}
