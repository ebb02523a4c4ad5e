/** QemuImgAdapter against the real qemu-img, on images made with qemu-img/qemu-io in a temp dir. */
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { QemuImgAdapter } from '../../src/modules/storage/qemu-img.adapter';
import { StorageErrorCode } from '../../src/modules/storage/storage.errors';
import { MiB, expectBytes, readAt, storageErrorOf } from './storage-contract';

jest.setTimeout(60_000);

describe('QemuImgAdapter (real qemu-img)', () => {
  const qemu = new QemuImgAdapter({ timeoutMs: 30_000 });
  let dir: string;
  const p = (name: string): string => path.join(dir, name);

  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dls-qemu-img-'));
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', p('a.qcow2'), '8M']);
    execFileSync('qemu-io', ['-c', 'write -P 0x5a 1M 2M', p('a.qcow2')]);
    execFileSync('qemu-img', ['convert', '-q', '-f', 'qcow2', '-O', 'vhdx', p('a.qcow2'), p('a.vhdx')]);
  });

  afterAll(async () => {
    if (dir) await fsp.rm(dir, { recursive: true, force: true });
  });

  it.each(['qcow2', 'vhdx'] as const)('converts a %s to a sparse raw with progress', async (fmt) => {
    const out = p(`out-${fmt}.raw`);
    const progress: number[] = [];
    const info = await qemu.convertToRaw(p(`a.${fmt}`), fmt, out, (pct) => progress.push(pct));
    expect(info).toMatchObject({ format: fmt, virtualSize: 8 * MiB });
    const st = await fsp.stat(out);
    expect(st.size).toBe(8 * MiB);
    expect(st.blocks * 512).toBeLessThan(8 * MiB);
    expectBytes(await readAt(out, MiB, 2 * MiB), Buffer.alloc(2 * MiB, 0x5a));
    expectBytes(await readAt(out, 0, MiB), Buffer.alloc(MiB, 0));
    expect(progress[progress.length - 1]).toBe(100);
    expect(await qemu.info(out, 'raw')).toMatchObject({ format: 'raw', virtualSize: 8 * MiB });
  });

  it('rejects a truncated qcow2 with qemu-img reason and leaves no output', async () => {
    const whole = await fsp.readFile(p('a.qcow2'));
    await fsp.writeFile(p('t.qcow2'), whole.subarray(0, 300_000));
    const err = await storageErrorOf(qemu.convertToRaw(p('t.qcow2'), 'qcow2', p('t.raw')));
    expect(err.code).toBe(StorageErrorCode.IMAGE_FORMAT_INVALID);
    expect(err.message).toMatch(/exceeding the end of the file|corrupt/i);
    await expect(fsp.stat(p('t.raw'))).rejects.toMatchObject({ code: 'ENOENT' });

    await fsp.writeFile(p('tiny.qcow2'), whole.subarray(0, 100));
    const tiny = await storageErrorOf(qemu.info(p('tiny.qcow2'), 'qcow2'));
    expect(tiny.code).toBe(StorageErrorCode.IMAGE_FORMAT_INVALID);
    expect(tiny.message).toMatch(/qcow2 header too short/);
  });

  it('refuses a qcow2 with a backing file', async () => {
    execFileSync('qemu-img', ['create', '-q', '-f', 'raw', p('base.raw'), '8M']);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', p('base.raw'), '-F', 'raw', p('overlay.qcow2')]);
    const err = await storageErrorOf(qemu.convertToRaw(p('overlay.qcow2'), 'qcow2', p('overlay.raw')));
    expect(err).toMatchObject({ code: StorageErrorCode.IMAGE_FORMAT_INVALID, details: { reason: 'backing-file' } });
  });

  it('refuses a qcow2 with an external data file, and never reads it', async () => {
    await fsp.writeFile(p('secret.bin'), Buffer.alloc(MiB, 'SECRET'));
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${p('dummy.bin')},data_file_raw=on`, p('df.qcow2'), '1M']);
    execFileSync('qemu-img', ['amend', '-q', '-f', 'qcow2', '-o', `data_file=${p('secret.bin')}`, p('df.qcow2')]);
    const err = await storageErrorOf(qemu.convertToRaw(p('df.qcow2'), 'qcow2', p('df.raw')));
    expect(err).toMatchObject({ code: StorageErrorCode.IMAGE_FORMAT_INVALID, details: { reason: 'data-file' } });
    await expect(fsp.stat(p('df.raw'))).rejects.toMatchObject({ code: 'ENOENT' });
    // Even past DLS's own check, qemu-img opened through blockSpec cannot be pointed elsewhere by the file name.
    const odd = p('x,file.driver=nbd,backing.file.filename=secret.bin.qcow2');
    await fsp.copyFile(p('a.qcow2'), odd);
    await qemu.convertToRaw(odd, 'qcow2', p('odd.raw'));
    expect((await fsp.stat(p('odd.raw'))).size).toBe(8 * MiB);
  });

  it('refuses a file whose real format differs from the declared one', async () => {
    const err = await storageErrorOf(qemu.convertToRaw(p('a.qcow2'), 'raw', p('x.raw')));
    expect(err).toMatchObject({ code: StorageErrorCode.IMAGE_FORMAT_INVALID, details: { detected: 'qcow2' } });
    const vhdx = await storageErrorOf(qemu.info(p('a.vhdx'), 'qcow2'));
    expect(vhdx.details).toMatchObject({ reason: 'format-mismatch', detected: 'vhdx' });
  });

  it('creates a sparse blank raw', async () => {
    await qemu.createBlank(p('blank.raw'), 64 * MiB);
    const st = await fsp.stat(p('blank.raw'));
    expect(st.size).toBe(64 * MiB);
    expect(st.blocks * 512).toBeLessThan(MiB); // qemu-img may allocate the first block only
  });
});
