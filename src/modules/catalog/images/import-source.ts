import { constants as fsConstants, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { DomainError, ValidationError } from '@common/errors/domain-error';
import { ImageContentErrorCode } from './images.errors';

/** What DLS keeps in its data directory: an import directory overlapping one of these would expose it. */
const DATA_DIR_STATE = ['postgres', 'secrets', 'storage', 'tftp'];

/** An import source opened for reading: the descriptor pins the file that was checked, whatever the path does next. */
export interface ImportSource {
  handle: fs.FileHandle;
  /** The file's real path (symlinks and `..` resolved), inside the import directory. */
  realPath: string;
  size: number;
  /** A path that opens exactly this file (`/proc/self/fd/N`), for copying it. */
  readPath: string;
}

export interface ImportRoots {
  /** DLS_IMPORT_DIR (absolute). */
  importDir: string;
  /** DLS_DATA_DIR (absolute). */
  dataDir: string;
}

function within(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
}

function badPath(message: string, reason: string): ValidationError {
  return new ValidationError(ImageContentErrorCode.IMPORT_SOURCE_INVALID, `path: ${message}`, { field: 'path', reason });
}

/**
 * Opens the file an admin asked to import, allowing only regular files inside DLS_IMPORT_DIR (resolved with
 * realpath, so neither a symlink nor `..` leaves it) and never anything in DLS's own data directory (secrets,
 * database, disks). When the import directory lies inside the data directory, only the import directory itself is
 * allowed, and not at all when it overlaps DLS's own state. A path outside the import directory is refused (400)
 * before the filesystem is asked anything, so the answer says nothing about files elsewhere; a missing file inside
 * it is 404. The caller closes `handle`.
 */
export async function openImportSource(requested: string, roots: ImportRoots): Promise<ImportSource> {
  // eslint-disable-next-line no-control-regex
  if (typeof requested !== 'string' || !path.isAbsolute(requested) || /[\u0000-\u001f]/.test(requested)) {
    throw badPath('must be an absolute file path', 'not-absolute');
  }
  const importDir = path.resolve(roots.importDir);
  const lexical = path.resolve(requested);
  const importReal = await fs.realpath(importDir).catch(() => null);
  if (!importReal) {
    throw new DomainError('not_found', ImageContentErrorCode.IMPORT_SOURCE_NOT_FOUND, `path: the import directory ${importDir} does not exist`, {
      field: 'path',
    });
  }
  if (!within(lexical, importDir) && !within(lexical, importReal)) {
    throw badPath(`${requested} is outside the import directory ${importDir} (DLS_IMPORT_DIR)`, 'outside-import-dir');
  }
  const dataReal = await fs.realpath(path.resolve(roots.dataDir)).catch(() => path.resolve(roots.dataDir));
  const importInsideData = within(importReal, dataReal);
  const importOverlapsState =
    importReal === dataReal || DATA_DIR_STATE.some((d) => within(importReal, path.join(dataReal, d)) || within(path.join(dataReal, d), importReal));
  if (importInsideData && importOverlapsState) {
    throw badPath(
      `the import directory ${importDir} overlaps DLS's own state in ${dataReal}; set DLS_IMPORT_DIR elsewhere`,
      'import-dir-overlaps-state',
    );
  }
  let real: string;
  try {
    real = await fs.realpath(lexical);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new DomainError('not_found', ImageContentErrorCode.IMPORT_SOURCE_NOT_FOUND, `path: ${requested} does not exist`, { field: 'path' });
    }
    throw badPath(`${requested} cannot be resolved (${code ?? (e as Error).message})`, 'unresolvable');
  }
  if (!within(real, importReal)) throw badPath(`${requested} leads outside the import directory ${importDir}`, 'outside-import-dir');
  if (within(real, dataReal) && !importInsideData) throw badPath(`${requested} lies in DLS's data directory`, 'in-data-dir');
  if (real === importReal) throw badPath(`${requested} is the import directory, not a file in it`, 'not-a-file');

  let handle: fs.FileHandle;
  try {
    // O_NOFOLLOW: a symlink swapped in after realpath is refused; O_NONBLOCK: a FIFO can't stall the open.
    handle = await fs.open(real, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new DomainError('not_found', ImageContentErrorCode.IMPORT_SOURCE_NOT_FOUND, `path: ${requested} does not exist`, { field: 'path' });
    }
    throw badPath(`${requested} cannot be opened (${code ?? (e as Error).message})`, 'unreadable');
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw badPath(`${requested} is not a regular file`, 'not-a-file');
    // The descriptor is what gets read: make sure it is the file that was checked (a directory renamed meanwhile).
    const readPath = `/proc/self/fd/${handle.fd}`;
    const opened = await fs.readlink(readPath).catch(() => null);
    if (opened !== real) throw badPath(`${requested} changed while it was being opened`, 'changed');
    return { handle, realPath: real, size: st.size, readPath };
  } catch (e) {
    await handle.close().catch(() => undefined);
    throw e;
  }
}
