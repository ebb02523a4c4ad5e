import { CommandOptions, CommandResult } from '@common/exec/command-runner';
import { QemuImgAdapter, parseConvertProgress } from './qemu-img.adapter';
import { StorageErrorCode } from './storage.errors';

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
  it('parses qemu-img info --output=json', async () => {
    const { runner, calls } = fake(() => ({ stdout: infoJson() }));
    const info = await new QemuImgAdapter({ runner }).info('/x/a.qcow2');
    expect(info).toEqual({ format: 'qcow2', virtualSize: 8388608, actualSize: 200704, dirtyFlag: false });
    expect(calls).toEqual([['info', '--output=json', '/x/a.qcow2']]);
  });

  it('refuses a declared format that differs from the probed one', async () => {
    const { runner } = fake(() => ({ stdout: infoJson() }));
    await expect(new QemuImgAdapter({ runner }).info('/x/a.raw', 'raw')).rejects.toMatchObject({
      code: StorageErrorCode.IMAGE_FORMAT_INVALID,
      details: { reason: 'format-mismatch', declared: 'raw', detected: 'qcow2' },
    });
  });

  it('refuses an image with a backing file', async () => {
    const { runner } = fake(() => ({
      stdout: infoJson({ 'backing-filename': '/etc/shadow', 'full-backing-filename': '/etc/shadow' }),
    }));
    await expect(new QemuImgAdapter({ runner }).info('/x/a.qcow2', 'qcow2')).rejects.toMatchObject({
      code: StorageErrorCode.IMAGE_FORMAT_INVALID,
      details: { reason: 'backing-file' },
    });
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
    const err = new QemuImgAdapter({ runner }).info('/x/t.qcow2', 'qcow2');
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

  it('converts with -p -f <fmt> -O raw and reports parsed progress', async () => {
    const { runner, calls } = fake((args, opts) => {
      if (args[0] === 'info') return { stdout: infoJson({ format: 'vhdx' }) };
      if (args[0] === 'check') return { code: 0, stdout: '{}' };
      opts.onStdout?.('    (0.00/100%)\r    (50.00/100%)\r');
      opts.onStdout?.('    (100.00/100%)\r');
      return {};
    });
    const progress: number[] = [];
    await new QemuImgAdapter({ runner }).convertToRaw('/x/a.vhdx', 'vhdx', '/y/out.raw', (p) => progress.push(p));
    expect(calls[2]).toEqual(['convert', '-p', '-f', 'vhdx', '-O', 'raw', '/x/a.vhdx', '/y/out.raw']);
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
