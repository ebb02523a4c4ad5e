import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CommandOptions, CommandResult } from '@common/exec/command-runner';
import { QemuImgAdapter, blockSpec, parseConvertProgress } from './qemu-img.adapter';
import { StorageErrorCode } from './storage.errors';

/** The first 104 bytes of a qcow2 v3 header (qcow2.txt): magic, version, backing offset, crypt method, incompatible features. */
function qcow2Header(opts: { backing?: boolean; dataFile?: boolean; encrypted?: boolean } = {}): Buffer {
  const h = Buffer.alloc(104);
  h.write('QFI\xfb', 0, 'latin1');
  h.writeUInt32BE(3, 4);
  if (opts.backing) h.writeBigUInt64BE(0x10000n, 8);
  h.writeUInt32BE(16, 20);
  if (opts.encrypted) h.writeUInt32BE(2, 32);
  if (opts.dataFile) h.writeBigUInt64BE(1n << 2n, 72);
  h.writeUInt32BE(104, 100);
  return h;
}

let dir: string;
/** A real file with these leading bytes (the adapter reads headers itself before running qemu-img). */
async function file(name: string, head: Buffer): Promise<string> {
  const p = path.join(dir, name);
  await fsp.writeFile(p, head);
  return p;
}

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dls-qemu-spec-'));
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

type Responder = (args: string[], opts: CommandOptions) => Partial<CommandResult>;

function fake(responder: Responder) {
  const calls: string[][] = [];
  const runner = async (_file: string, args: readonly string[], opts: CommandOptions): Promise<CommandResult> => {
    calls.push([...args]);
    return { code: 0, signal: null, stdout: '', stderr: '', timedOut: false, ...responder([...args], opts) };
  };
  return { runner, calls };
}

const infoJson = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ 'virtual-size': 8388608, filename: 'a', format: 'qcow2', 'actual-size': 200704, 'dirty-flag': false, ...extra });

describe('QemuImgAdapter', () => {
  it('creates a qcow2 overlay over a raw backing file without opening it (-u, size given)', async () => {
    const { runner, calls } = fake(() => ({}));
    await new QemuImgAdapter({ runner }).createOverlay('/s/c/o.qcow2', '/s/v/1.raw', 4096);
    expect(calls).toEqual([
      ['create', '-q', '-f', 'qcow2', '-o', 'lazy_refcounts=on', '-u', '-b', '/s/v/1.raw', '-F', 'raw', '/s/c/o.qcow2', '4096'],
    ]);
    await expect(new QemuImgAdapter({ runner }).createOverlay('/s/c/o.qcow2', '/s/v,x.raw', 4096)).rejects.toMatchObject({
      code: StorageErrorCode.INVALID_NAME,
    });
    await expect(new QemuImgAdapter({ runner }).createOverlay('/s/c/o.qcow2', 'v.raw', 4096)).rejects.toMatchObject({
      code: StorageErrorCode.INVALID_NAME,
    });
    await expect(new QemuImgAdapter({ runner }).createOverlay('/s/c/o.qcow2', '/s/v.raw', 0)).rejects.toMatchObject({
      code: StorageErrorCode.INVALID_NAME,
    });
    expect(calls).toHaveLength(1);
  });

  it('parses qemu-img info --output=json', async () => {
    const { runner, calls } = fake(() => ({ stdout: infoJson() }));
    const info = await new QemuImgAdapter({ runner }).info('/x/a.qcow2');
    expect(info).toEqual({ format: 'qcow2', virtualSize: 8388608, actualSize: 200704, dirtyFlag: false });
    expect(calls).toEqual([['info', '--output=json', '/x/a.qcow2']]);
  });

  it('refuses a declared format that differs from the header, before running qemu-img', async () => {
    const { runner, calls } = fake(() => ({ stdout: infoJson() }));
    await expect(new QemuImgAdapter({ runner }).info(await file('q.raw', qcow2Header()), 'raw')).rejects.toMatchObject({
      code: StorageErrorCode.IMAGE_FORMAT_INVALID,
      details: { reason: 'format-mismatch', declared: 'raw', detected: 'qcow2' },
    });
    await expect(new QemuImgAdapter({ runner }).info(await file('v.qcow2', Buffer.from('vhdxfile')), 'qcow2')).rejects.toMatchObject({
      details: { reason: 'format-mismatch', detected: 'vhdx' },
    });
    expect(calls).toEqual([]);
  });

  it.each([
    ['backing-file', { backing: true }],
    ['data-file', { dataFile: true }],
    ['encrypted', { encrypted: true }],
  ] as const)('refuses a qcow2 whose header names a %s, before running qemu-img', async (reason, opts) => {
    const { runner, calls } = fake(() => ({ stdout: infoJson() }));
    await expect(new QemuImgAdapter({ runner }).info(await file(`${reason}.qcow2`, qcow2Header(opts)), 'qcow2')).rejects.toMatchObject({
      code: StorageErrorCode.IMAGE_FORMAT_INVALID,
      details: { reason },
    });
    expect(calls).toEqual([]);
  });

  it('refuses what qemu-img info names as a backing file or an external data file', async () => {
    const img = await file('a.qcow2', qcow2Header());
    const backing = fake(() => ({ stdout: infoJson({ 'backing-filename': '/etc/shadow', 'full-backing-filename': '/etc/shadow' }) }));
    await expect(new QemuImgAdapter({ runner: backing.runner }).info(img, 'qcow2')).rejects.toMatchObject({
      code: StorageErrorCode.IMAGE_FORMAT_INVALID,
      details: { reason: 'backing-file' },
    });
    const data = fake(() => ({
      stdout: infoJson({ 'format-specific': { type: 'qcow2', data: { compat: '1.1', 'data-file': '/etc/shadow', 'data-file-raw': true } } }),
    }));
    await expect(new QemuImgAdapter({ runner: data.runner }).info(img, 'qcow2')).rejects.toMatchObject({
      code: StorageErrorCode.IMAGE_FORMAT_INVALID,
      details: { reason: 'data-file', dataFile: '/etc/shadow' },
    });
    // qemu-img was asked through the pinned block spec, never with a probed filename.
    expect(data.calls[0]).toEqual(['info', '--output=json', blockSpec(img, 'qcow2')]);
  });

  it('refuses anything but a regular file: a directory, a symlink', async () => {
    const { runner, calls } = fake(() => ({ stdout: infoJson() }));
    const q = new QemuImgAdapter({ runner });
    await expect(q.info(dir, 'raw')).rejects.toMatchObject({ code: StorageErrorCode.IMAGE_FORMAT_INVALID, details: { reason: 'not-a-file' } });
    const link = path.join(dir, 'link.raw');
    await fsp.symlink('/etc/hostname', link);
    await expect(q.info(link, 'raw')).rejects.toMatchObject({ code: StorageErrorCode.IMAGE_FORMAT_INVALID, details: { reason: 'not-a-file' } });
    expect(calls).toEqual([]);
  });

  it('pins the format and the file protocol and drops any backing file in the block spec', () => {
    const spec = blockSpec('/s/x,driver=nbd.qcow2', 'qcow2');
    expect(spec.startsWith('json:')).toBe(true);
    expect(JSON.parse(spec.slice(5))).toEqual({ driver: 'qcow2', file: { driver: 'file', filename: '/s/x,driver=nbd.qcow2' }, backing: null });
  });

  it('maps a corrupt qcow2 check (rc 2) to IMAGE_FORMAT_INVALID with the first stderr line', async () => {
    const { runner } = fake((args) =>
      args[0] === 'info'
        ? { stdout: infoJson() }
        : {
            code: 2,
            stdout: JSON.stringify({ corruptions: 64, 'check-errors': 0, 'image-end-offset': 327680 }),
            stderr: 'ERROR: counting reference for region exceeding the end of the file by one cluster or more: offset 0x50000\nERROR: more\n',
          },
    );
    const err = new QemuImgAdapter({ runner }).info(await file('t.qcow2', qcow2Header()), 'qcow2');
    await expect(err).rejects.toMatchObject({ code: StorageErrorCode.IMAGE_FORMAT_INVALID, details: { corruptions: 64 } });
    await expect(err).rejects.toThrow(/exceeding the end of the file/);
  });

  it('accepts leaks (rc 3) and formats without checks (rc 63)', async () => {
    const leaks = fake(() => ({ code: 3, stdout: JSON.stringify({ leaks: 2 }) }));
    await expect(new QemuImgAdapter({ runner: leaks.runner }).check('/x/a.qcow2', 'qcow2')).resolves.toMatchObject({
      leaks: 2,
    });
    const none = fake(() => ({ code: 63, stderr: 'qemu-img: This image format does not support checks\n' }));
    await expect(new QemuImgAdapter({ runner: none.runner }).check('/x/a.raw', 'raw')).resolves.toMatchObject({
      supported: false,
    });
  });

  it('maps an unreadable image to IMAGE_FORMAT_INVALID with qemu-img reason', async () => {
    const { runner } = fake(() => ({ code: 1, stderr: "qemu-img: Could not open '/x/t.qcow2': qcow2 header too short\n" }));
    await expect(new QemuImgAdapter({ runner }).info('/x/t.qcow2')).rejects.toThrow(/qcow2 header too short/);
  });

  it('converts with -p -O raw from the pinned block spec and reports parsed progress', async () => {
    const { runner, calls } = fake((args, opts) => {
      if (args[0] === 'info') return { stdout: infoJson({ format: 'vhdx' }) };
      if (args[0] === 'check') return { code: 0, stdout: '{}' };
      opts.onStdout?.('    (0.00/100%)\r    (50.00/100%)\r');
      opts.onStdout?.('    (100.00/100%)\r');
      return {};
    });
    const progress: number[] = [];
    const src = await file('a.vhdx', Buffer.from('vhdxfile'));
    await new QemuImgAdapter({ runner }).convertToRaw(src, 'vhdx', '/y/out.raw', (p) => progress.push(p));
    expect(calls[1]).toEqual(['check', '--output=json', blockSpec(src, 'vhdx')]);
    expect(calls[2]).toEqual(['convert', '-p', '-O', 'raw', blockSpec(src, 'vhdx'), '/y/out.raw']);
    expect(progress).toEqual([50, 100]);
  });

  it('times out and rejects bad paths, formats and sizes before running anything', async () => {
    const { runner, calls } = fake(() => ({ code: null, signal: 'SIGKILL', timedOut: true }));
    const q = new QemuImgAdapter({ runner });
    await expect(q.info('/x/a')).rejects.toMatchObject({ code: StorageErrorCode.TIMEOUT });
    calls.length = 0;
    await expect(q.info('relative.qcow2')).rejects.toMatchObject({ code: StorageErrorCode.INVALID_NAME });
    await expect(q.info('/x/a\nb')).rejects.toMatchObject({ code: StorageErrorCode.INVALID_NAME });
    await expect(q.convertToRaw('/x/a', 'vmdk' as never, '/y/b')).rejects.toMatchObject({
      code: StorageErrorCode.INVALID_NAME,
    });
    await expect(q.createBlank('/x/a', -1)).rejects.toMatchObject({ code: StorageErrorCode.INVALID_NAME });
    expect(calls).toEqual([]);
  });

  it('parses progress records', () => {
    expect(parseConvertProgress('    (12.50/100%)\r    (37.01/100%)\r')).toBe(37.01);
    expect(parseConvertProgress('nothing')).toBeUndefined();
  });
});
