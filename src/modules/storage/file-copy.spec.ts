import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { CHANGED_BLOCK, SPARSE_BLOCK, sha256File, writeChangedBlocks, writeStreamSparse } from './file-copy';
import { StorageErrorCode } from './storage.errors';

/** `buf` in chunks of `size` (not aligned to the sparse blocks). */
function chunked(buf: Buffer, size: number): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
}

describe('writeStreamSparse / sha256File', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dls-file-copy-'));
  });

  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it.each([1000, SPARSE_BLOCK, 3 * SPARSE_BLOCK + 17])('writes the exact bytes, zero blocks as holes (chunks of %d)', async (chunk) => {
    const content = Buffer.alloc(8 * 1024 * 1024 + 123);
    randomBytes(100_000).copy(content, 2 * 1024 * 1024 + 5); // unaligned data
    content[content.length - 1] = 7; // a non-zero partial last block
    const dst = path.join(dir, `a-${chunk}.raw`);
    expect(await writeStreamSparse(chunked(content, chunk), dst, { mode: 0o600, expectedBytes: content.length })).toBe(content.length);
    const st = await fsp.stat(dst);
    expect(st.size).toBe(content.length);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.blocks * 512).toBeLessThan(512 * 1024);
    expect((await fsp.readFile(dst)).equals(content)).toBe(true);
    expect(await sha256File(dst)).toBe(createHash('sha256').update(content).digest('hex'));
  });

  it('keeps trailing zeros as size, not data', async () => {
    const dst = path.join(dir, 'zeros.raw');
    expect(await writeStreamSparse(chunked(Buffer.alloc(4 * 1024 * 1024 + 10), 65_536), dst)).toBe(4 * 1024 * 1024 + 10);
    const st = await fsp.stat(dst);
    expect(st.size).toBe(4 * 1024 * 1024 + 10);
    expect(st.blocks * 512).toBeLessThanOrEqual(8192);
  });

  it('removes the file when the stream fails half way or has another length than announced', async () => {
    const broken = new PassThrough();
    const dst = path.join(dir, 'broken.raw');
    const p = writeStreamSparse(broken, dst);
    broken.write(randomBytes(200_000));
    setImmediate(() => broken.destroy(new Error('reset')));
    await expect(p).rejects.toMatchObject({ code: StorageErrorCode.COMMAND_FAILED, details: { reason: 'stream', cause: 'reset' } });
    await expect(fsp.stat(dst)).rejects.toMatchObject({ code: 'ENOENT' });

    const short = path.join(dir, 'short.raw');
    await expect(writeStreamSparse(chunked(randomBytes(1000), 100), short, { expectedBytes: 1001 })).rejects.toMatchObject({
      code: StorageErrorCode.COMMAND_FAILED,
      details: { bytes: 1000, expectedBytes: 1001 },
    });
    await expect(fsp.stat(short)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses to overwrite an existing file, and maps a missing file to NOT_FOUND when hashing', async () => {
    const dst = path.join(dir, 'exists.raw');
    await fsp.writeFile(dst, 'x');
    const input = Readable.from([Buffer.from('y')]);
    await expect(writeStreamSparse(input, dst)).rejects.toMatchObject({ name: 'StorageError' });
    expect(await fsp.readFile(dst, 'utf8')).toBe('x');
    await expect(sha256File(path.join(dir, 'missing'))).rejects.toMatchObject({ code: StorageErrorCode.NOT_FOUND });
  });
});

describe('writeChangedBlocks', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dls-changed-blocks-'));
  });

  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('writes only the blocks that differ, and the result is the source byte for byte', async () => {
    const old = randomBytes(4 * 1024 * 1024);
    const next = Buffer.from(old);
    next[5] ^= 0xff; // block 0
    next[CHANGED_BLOCK * 10 + 3] ^= 0xff; // block 10
    next.fill(0, CHANGED_BLOCK * 20, CHANGED_BLOCK * 21); // block 20 zeroed
    const src = path.join(dir, 'src');
    const dst = path.join(dir, 'dst');
    await fsp.writeFile(src, next);
    await fsp.writeFile(dst, old);
    expect(await writeChangedBlocks(src, dst)).toEqual({ blocks: 32, written: 3 });
    expect((await fsp.readFile(dst)).equals(next)).toBe(true);
    expect(await writeChangedBlocks(src, dst)).toEqual({ blocks: 32, written: 0 }); // nothing left to write
  });

  it('follows the source size: shrinks and grows the destination (an unaligned tail too)', async () => {
    const src = path.join(dir, 'src2');
    const dst = path.join(dir, 'dst2');
    const small = randomBytes(CHANGED_BLOCK + 100);
    await fsp.writeFile(src, small);
    await fsp.writeFile(dst, randomBytes(3 * CHANGED_BLOCK));
    await writeChangedBlocks(src, dst);
    expect((await fsp.readFile(dst)).equals(small)).toBe(true);
    const big = Buffer.concat([small, randomBytes(2 * CHANGED_BLOCK)]);
    await fsp.writeFile(src, big);
    const r = await writeChangedBlocks(src, dst);
    expect(r.blocks).toBe(4);
    expect(r.written).toBe(3); // the first block is unchanged
    expect((await fsp.readFile(dst)).equals(big)).toBe(true);
  });

  it('a missing source is NOT_FOUND and leaves the destination as it was', async () => {
    const dst = path.join(dir, 'dst3');
    const before = randomBytes(1000);
    await fsp.writeFile(dst, before);
    await expect(writeChangedBlocks(path.join(dir, 'nope'), dst)).rejects.toMatchObject({ code: StorageErrorCode.NOT_FOUND });
    expect((await fsp.readFile(dst)).equals(before)).toBe(true);
  });
});
