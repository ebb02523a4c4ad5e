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
