import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { toNetascii } from '@protocols/tftp/tftp.codec';
import { TftpErrorCode } from '@protocols/tftp/tftp.constants';

/** A request the file store refuses, with the TFTP error code to answer (RFC 1350 §5 error table). */
export class TftpFileError extends Error {
  constructor(
    readonly code: TftpErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TftpFileError';
  }
}

/** The bytes of one file to serve. Cached files can be read synchronously; large ones only through `read`. */
export interface TftpFileSource {
  /** Resolved path inside the root (symlinks followed). */
  readonly realPath: string;
  /** Bytes the transfer will carry (after netascii conversion). */
  readonly size: number;
  /** Whether the bytes came from the in-memory cache. */
  readonly cached: boolean;
  /** Present for in-memory sources: all the bytes to send (a cached buffer, never to be written to). */
  readonly bytes?: Buffer;
  /** Present for in-memory sources: a view of `length` bytes at `offset`, no copy. */
  readonly readSync?: (offset: number, length: number) => Buffer;
  /** Reads `length` bytes at `offset`; rejects when the file became shorter. */
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

/** Limits of the in-memory cache. */
export interface TftpFileStoreOptions {
  readonly root: string;
  /** Total bytes kept in memory (least recently used evicted first). Default 64 MiB. */
  readonly maxCacheBytes?: number;
  /** Files larger than this are read from disk block by block and never cached. Default 16 MiB. */
  readonly maxCachedFileBytes?: number;
}

interface CacheEntry {
  readonly mtimeMs: number;
  readonly size: number;
  readonly ino: number;
  readonly data: Buffer;
  netascii?: Buffer;
}

/**
 * Turns a TFTP filename into a path relative to the root, or refuses it.
 *
 * - backslashes become slashes (Windows-style boot file names, as dnsmasq does);
 * - one leading slash is stripped (`/ipxe.efi` means `<root>/ipxe.efi`, like `tftpd-hpa --secure`); a path that is
 *   still absolute after that (`//etc/passwd`) is refused;
 * - any `..` segment is refused, as are empty names and control characters.
 *
 * The caller must still check that the resolved real path stays inside the root (symlinks).
 */
export function normalizeTftpFilename(filename: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(filename)) {
    throw new TftpFileError(TftpErrorCode.ACCESS_VIOLATION, 'Control characters in file name');
  }
  let name = filename.replace(/\\/g, '/');
  if (name.startsWith('/')) name = name.slice(1);
  if (name.startsWith('/')) throw new TftpFileError(TftpErrorCode.ACCESS_VIOLATION, 'Absolute path refused');
  const segments = name.split('/');
  if (segments.some((s) => s === '..')) throw new TftpFileError(TftpErrorCode.ACCESS_VIOLATION, 'Path escapes root');
  const kept = segments.filter((s) => s !== '' && s !== '.');
  if (kept.length === 0) throw new TftpFileError(TftpErrorCode.FILE_NOT_FOUND, 'Empty file name');
  return kept.join('/');
}

function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

function mapFsError(err: unknown): TftpFileError {
  switch (errnoOf(err)) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new TftpFileError(TftpErrorCode.FILE_NOT_FOUND, 'File not found');
    case 'EACCES':
    case 'EPERM':
    case 'ELOOP':
      return new TftpFileError(TftpErrorCode.ACCESS_VIOLATION, 'Access violation');
    default:
      return new TftpFileError(TftpErrorCode.NOT_DEFINED, 'Cannot read file');
  }
}

/**
 * Read-only view of the TFTP root with a path jail and a bounded in-memory cache.
 *
 * Files are looked up by real path; a cached copy is reused while the file's mtime, size and inode are unchanged, so
 * a boot storm of clients fetching the same < 1 MB loader reads the disk once. Concurrent first reads of the same
 * file share one disk read.
 */
/** A name resolved to a regular file inside the root. */
interface Resolved {
  realPath: string;
  st: import('node:fs').Stats;
}

export class TftpFileStore {
  private rootReal = '';
  private readonly maxCacheBytes: number;
  private readonly maxCachedFileBytes: number;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly loading = new Map<string, Promise<Buffer>>();
  /** Name → its resolution (real path and stat) in progress: requests for one name at the same moment share it. */
  private readonly resolving = new Map<string, Promise<Resolved>>();
  private cacheBytes = 0;
  private hits = 0;
  private misses = 0;

  constructor(private readonly options: TftpFileStoreOptions) {
    this.maxCacheBytes = options.maxCacheBytes ?? 64 * 1024 * 1024;
    this.maxCachedFileBytes = Math.min(options.maxCachedFileBytes ?? 16 * 1024 * 1024, this.maxCacheBytes);
  }

  /** Resolves the root's real path; must be called (and succeed) before {@link open}. */
  async init(): Promise<string> {
    this.rootReal = await fs.realpath(this.options.root);
    const st = await fs.stat(this.rootReal);
    if (!st.isDirectory()) throw new Error(`TFTP root ${this.options.root} is not a directory`);
    return this.rootReal;
  }

  /** Cache counters. */
  stats(): { hits: number; misses: number; files: number; bytes: number } {
    return { hits: this.hits, misses: this.misses, files: this.cache.size, bytes: this.cacheBytes };
  }

  /** Drops every cached file. */
  clear(): void {
    this.cache.clear();
    this.cacheBytes = 0;
  }

  /**
   * Opens `filename` (as sent by the client) for reading in `mode`.
   * @throws TftpFileError with the TFTP error code to answer.
   */
  async open(filename: string, mode: 'octet' | 'netascii'): Promise<TftpFileSource> {
    if (!this.rootReal) throw new Error('TftpFileStore.init() was not called');
    const { realPath, st } = await this.resolve(normalizeTftpFilename(filename));

    if (st.size <= this.maxCachedFileBytes) {
      const entry = await this.cached(realPath, st);
      let data = entry.data;
      if (mode === 'netascii') {
        if (!entry.netascii) {
          entry.netascii = toNetascii(entry.data);
          if (entry.netascii !== entry.data && this.cache.get(realPath) === entry) {
            this.cacheBytes += entry.netascii.length;
            this.evict();
          }
        }
        data = entry.netascii;
      }
      return memorySource(realPath, data);
    }
    if (mode === 'netascii') {
      throw new TftpFileError(TftpErrorCode.NOT_DEFINED, 'netascii not supported for files this large');
    }
    return diskSource(realPath, st.size);
  }

  /**
   * The real path and stat of a root-relative name, checked to be a regular file inside the root. A boot storm asks
   * for the same loader from every PC at once: requests arriving while one resolution of that name is in progress
   * share its answer (two file-system calls in the thread pool for the whole burst, not two per request). Nothing is
   * kept after it settles, so a file replaced or removed is seen by the next request.
   */
  private resolve(relative: string): Promise<Resolved> {
    let pending = this.resolving.get(relative);
    if (!pending) {
      pending = this.resolveNow(relative).finally(() => this.resolving.delete(relative));
      this.resolving.set(relative, pending);
    }
    return pending;
  }

  private async resolveNow(relative: string): Promise<Resolved> {
    let realPath: string;
    try {
      realPath = await fs.realpath(path.join(this.rootReal, relative));
    } catch (err) {
      throw mapFsError(err);
    }
    const prefix = this.rootReal.endsWith(path.sep) ? this.rootReal : this.rootReal + path.sep;
    if (!realPath.startsWith(prefix)) {
      throw new TftpFileError(
        realPath === this.rootReal ? TftpErrorCode.FILE_NOT_FOUND : TftpErrorCode.ACCESS_VIOLATION,
        realPath === this.rootReal ? 'Not a regular file' : 'Path escapes root',
      );
    }
    let st: import('node:fs').Stats;
    try {
      st = await fs.stat(realPath);
    } catch (err) {
      throw mapFsError(err);
    }
    if (!st.isFile()) throw new TftpFileError(TftpErrorCode.FILE_NOT_FOUND, 'Not a regular file');
    return { realPath, st };
  }

  private async cached(realPath: string, st: import('node:fs').Stats): Promise<CacheEntry> {
    const hit = this.cache.get(realPath);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size && hit.ino === st.ino) {
      this.hits++;
      this.cache.delete(realPath); // re-insert: most recently used last
      this.cache.set(realPath, hit);
      return hit;
    }
    this.misses++;
    const key = `${realPath}\0${st.mtimeMs}\0${st.size}\0${st.ino}`;
    let pending = this.loading.get(key);
    if (!pending) {
      pending = fs.readFile(realPath).finally(() => this.loading.delete(key));
      this.loading.set(key, pending);
    }
    let data: Buffer;
    try {
      data = await pending;
    } catch (err) {
      throw mapFsError(err);
    }
    const entry: CacheEntry = { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino, data };
    // Only cache what matches the stat (a file being rewritten is served as read, not kept).
    if (data.length === st.size) {
      const old = this.cache.get(realPath);
      if (old) this.drop(realPath, old);
      this.cache.set(realPath, entry);
      this.cacheBytes += data.length;
      this.evict();
    }
    return entry;
  }

  private drop(key: string, entry: CacheEntry): void {
    this.cache.delete(key);
    this.cacheBytes -= entry.data.length;
    if (entry.netascii && entry.netascii !== entry.data) this.cacheBytes -= entry.netascii.length;
  }

  private evict(): void {
    for (const [key, entry] of this.cache) {
      if (this.cacheBytes <= this.maxCacheBytes) break;
      this.drop(key, entry);
    }
  }
}

/** An in-memory file to serve (`realPath` only names it in logs). */
export function memorySource(realPath: string, data: Buffer): TftpFileSource {
  const readSync = (offset: number, length: number): Buffer => data.subarray(offset, offset + length);
  return {
    realPath,
    size: data.length,
    cached: true,
    bytes: data,
    readSync,
    read: async (offset, length) => readSync(offset, length),
    close: async () => undefined,
  };
}

function diskSource(realPath: string, size: number): TftpFileSource {
  let handle: Promise<import('node:fs/promises').FileHandle> | undefined;
  return {
    realPath,
    size,
    cached: false,
    async read(offset, length) {
      handle ??= fs.open(realPath, 'r');
      const buf = Buffer.alloc(length);
      const { bytesRead } = await (await handle).read(buf, 0, length, offset);
      if (bytesRead !== length) throw new Error(`${realPath} shrank during the transfer`);
      return buf;
    },
    async close() {
      if (!handle) return;
      const h = handle;
      handle = undefined;
      await h.then((fh) => fh.close()).catch(() => undefined);
    },
  };
}
