import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syncLoaders } from './tftp.provider';

describe('syncLoaders', () => {
  it('copies missing or changed loaders, keeps equal ones and skips absent ones with a warning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dls-tftp-sync-'));
    try {
      const src = join(dir, 'src');
      const root = join(dir, 'root');
      mkdirSync(src);
      writeFileSync(join(src, 'undionly.kpxe'), 'bios-v1');
      writeFileSync(join(src, 'ipxe.efi'), 'efi-v1');
      const log = { warn: jest.fn(), log: jest.fn() };
      expect(await syncLoaders(root, src, log)).toEqual(['undionly.kpxe', 'ipxe.efi']);
      expect(log.warn).toHaveBeenCalledTimes(2); // ipxe.pxe, snponly.efi missing
      expect(log.log).toHaveBeenCalledTimes(2);
      writeFileSync(join(src, 'ipxe.efi'), 'efi-v2');
      log.log.mockClear();
      await syncLoaders(root, src, log);
      expect(log.log.mock.calls).toEqual([[`updated ipxe.efi in ${root}`]]);
      expect(readFileSync(join(root, 'ipxe.efi'), 'utf8')).toBe('efi-v2');
      expect(readFileSync(join(root, 'undionly.kpxe'), 'utf8')).toBe('bios-v1');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
