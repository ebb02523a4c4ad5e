import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { SPARSE_BLOCK, sha256File, writeStreamSparse } from './file-copy';
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

  it('sha256File stops at an aborted signal with its reason, and hashes in full without one', async () => {
    const file = path.join(dir, 'big.raw');
    const content = randomBytes(3 * 1024 * 1024 + 5);
    await fsp.writeFile(file, content);
    const reason = new Error('DLS is shutting down');
    const aborted = new AbortController();
    aborted.abort(reason);
    await expect(sha256File(file, aborted.signal)).rejects.toBe(reason);
    expect(await sha256File(file, new AbortController().signal)).toBe(createHash('sha256').update(content).digest('hex'));
  });
});
