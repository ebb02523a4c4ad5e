import { constants as fsConstants, promises as fsp } from 'node:fs';
import * as nodePath from 'node:path';
import type { ManagedItem } from './storage-driver';
import { StorageError, StorageErrorCode } from './storage.errors';

/** errno codes meaning "this filesystem (pair) cannot reflink": ext4, cross-device, FUSE without FICLONE. */
const NO_REFLINK_CODES = new Set(['ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EINVAL', 'ENOSYS', 'ENOTTY']);

const BLOCK = 64 * 1024;
const CHUNK = 16 * BLOCK;
const ZERO_BLOCK = Buffer.alloc(BLOCK);

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
 * Full copy that keeps holes: 64 KiB blocks of zeros are skipped (left as holes), runs of data are written at their
 * offsets, and the file is extended to the source size. A 1 GiB image with 64 MiB of data costs 64 MiB of writes
 * (a plain `copyFile` would write the whole GiB). The destination is fsynced before returning.
 */
export async function sparseCopyFile(src: string, dst: string): Promise<void> {
  let input: fsp.FileHandle | undefined;
  let output: fsp.FileHandle | undefined;
  try {
    input = await fsp.open(src, 'r');
    output = await fsp.open(dst, 'w', 0o644);
    const { size } = await input.stat();
    const buf = Buffer.allocUnsafe(CHUNK);
    let offset = 0;
    while (offset < size) {
      const { bytesRead } = await input.read(buf, 0, Math.min(CHUNK, size - offset), offset);
      if (bytesRead === 0) break;
      let runStart = -1;
      for (let b = 0; b < bytesRead; b += BLOCK) {
        const end = Math.min(b + BLOCK, bytesRead);
        const zero = buf.subarray(b, end).equals(ZERO_BLOCK.subarray(0, end - b));
        if (!zero && runStart < 0) runStart = b;
        if (zero && runStart >= 0) {
          await output.write(buf, runStart, b - runStart, offset + runStart);
          runStart = -1;
        }
      }
      if (runStart >= 0) await output.write(buf, runStart, bytesRead - runStart, offset + runStart);
      offset += bytesRead;
    }
    await output.truncate(size);
    await output.sync();
  } catch (err) {
    await output?.close().catch(() => undefined);
    output = undefined;
    await unlinkQuiet(dst);
    throw fsError(err, `copy ${src}`);
  } finally {
    await input?.close().catch(() => undefined);
    await output?.close();
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
