import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TftpErrorCode } from '@protocols/tftp/tftp.constants';
import { normalizeTftpFilename, TftpFileError, TftpFileStore } from './tftp-file-store';

const codeOf = (fn: () => unknown): number | undefined => {
  try {
    fn();
  } catch (err) {
    return err instanceof TftpFileError ? err.code : -1;
  }
  return undefined;
};

describe('normalizeTftpFilename', () => {
  it.each([
    ['undionly.kpxe', 'undionly.kpxe'],
    ['/ipxe.efi', 'ipxe.efi'],
    ['efi/./boot//x.efi', 'efi/boot/x.efi'],
    ['\\boot\\x64\\wdsnbp.com', 'boot/x64/wdsnbp.com'],
    ['a..b/..c', 'a..b/..c'],
  ])('%j → %j', (input, expected) => {
    expect(normalizeTftpFilename(input)).toBe(expected);
  });

  it.each(['..', '../etc/passwd', 'a/../../b', 'a/..', '..\\x', '//etc/passwd', '/\\etc/passwd', 'a\nb', 'a\u007fb'])(
    'refuses %j with ERROR 2',
    (input) => {
      expect(codeOf(() => normalizeTftpFilename(input))).toBe(TftpErrorCode.ACCESS_VIOLATION);
    },
  );

  it.each(['', '/', '.', './'])('refuses the empty name %j with ERROR 1', (input) => {
    expect(codeOf(() => normalizeTftpFilename(input))).toBe(TftpErrorCode.FILE_NOT_FOUND);
  });
});

describe('TftpFileStore cache', () => {
  let root: string;
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), `dls-tftp-store-${process.pid}-`));
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('serves from memory, shares concurrent loads, reloads on change and evicts beyond its bound', async () => {
    await fs.writeFile(path.join(root, 'a'), Buffer.alloc(600, 1));
    await fs.writeFile(path.join(root, 'b'), Buffer.alloc(600, 2));
    const store = new TftpFileStore({ root, maxCacheBytes: 1000, maxCachedFileBytes: 700 });
    await store.init();

    const [x, y] = await Promise.all([store.open('a', 'octet'), store.open('a', 'octet')]);
    expect(x.readSync!(0, 600)).toEqual(Buffer.alloc(600, 1));
    expect(y.cached).toBe(true);
    expect(store.stats()).toMatchObject({ misses: 2, files: 1, bytes: 600 });
    await store.open('a', 'octet');
    expect(store.stats().hits).toBe(1);

    await store.open('b', 'octet'); // 1200 > 1000: 'a' evicted
    expect(store.stats()).toMatchObject({ files: 1, bytes: 600 });

    await fs.writeFile(path.join(root, 'b'), Buffer.alloc(650, 3)); // size changes → reload
    const b2 = await store.open('b', 'octet');
    expect(b2.size).toBe(650);
    expect(b2.readSync!(649, 1)).toEqual(Buffer.from([3]));
  });

  it('a burst of requests for one name shares one real-path and one stat call; the next request checks again', async () => {
    await fs.writeFile(path.join(root, 'loader.efi'), Buffer.alloc(300, 7));
    const store = new TftpFileStore({ root });
    await store.init();
    const realpath = jest.spyOn(fs, 'realpath');
    const stat = jest.spyOn(fs, 'stat');
    try {
      const burst = await Promise.all(Array.from({ length: 20 }, () => store.open('/loader.efi', 'octet')));
      expect(burst.every((s) => s.size === 300 && s.readSync!(299, 1)[0] === 7)).toBe(true);
      expect(realpath).toHaveBeenCalledTimes(1);
      expect(stat).toHaveBeenCalledTimes(1);
      // Nothing is kept once it settled: a replaced file is seen by the next request.
      await fs.writeFile(path.join(root, 'loader.efi'), Buffer.alloc(400, 8));
      expect((await store.open('loader.efi', 'octet')).size).toBe(400);
      expect(realpath).toHaveBeenCalledTimes(2);
      // A burst for a name that is not there: every request gets ERROR 1, from one lookup.
      const missing = await Promise.allSettled(Array.from({ length: 5 }, () => store.open('nope.efi', 'octet')));
      expect(missing.map((r) => r.status === 'rejected' && (r.reason as TftpFileError).code)).toEqual(Array(5).fill(TftpErrorCode.FILE_NOT_FOUND));
      expect(realpath).toHaveBeenCalledTimes(3);
      // A name that escapes the root through a symlink is refused for the whole burst.
      await fs.symlink('/etc/hostname', path.join(root, 'escape'));
      const escaped = await Promise.allSettled([store.open('escape', 'octet'), store.open('escape', 'octet')]);
      expect(escaped.map((r) => r.status === 'rejected' && (r.reason as TftpFileError).code)).toEqual([
        TftpErrorCode.ACCESS_VIOLATION,
        TftpErrorCode.ACCESS_VIOLATION,
      ]);
    } finally {
      realpath.mockRestore();
      stat.mockRestore();
    }
  });

  it('files above the per-file bound are read from disk, not cached', async () => {
    await fs.writeFile(path.join(root, 'big'), Buffer.alloc(5000, 9));
    const store = new TftpFileStore({ root, maxCachedFileBytes: 1000 });
    await store.init();
    const src = await store.open('big', 'octet');
    expect(src.cached).toBe(false);
    expect(src.readSync).toBeUndefined();
    expect(await src.read(4990, 10)).toEqual(Buffer.alloc(10, 9));
    await expect(src.read(4995, 10)).rejects.toThrow(/shrank/);
    await src.close();
    expect(store.stats().files).toBe(0);
    await expect(store.open('big', 'netascii')).rejects.toMatchObject({ code: TftpErrorCode.NOT_DEFINED });
  });
});
